# The two commands of the README are `make run` and `make test`; both
# install what they need first (scripts/setup.sh, idempotent and cached).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo

.PHONY: setup up up-pg down run migrate test lint eval bench bench-actors bench-micro k8s-check chaos

setup:
	scripts/setup.sh

## Start PostgreSQL + pgvector and the tansu broker (idempotent).
up: setup
	scripts/up.sh all

up-pg: setup
	scripts/up.sh pg

down:
	scripts/down.sh

## Run the service with embedded defaults (in-process bus, no broker), the
## sample company's tenant and its knowledge base loaded.
run: up-pg
	$(CARGO) build --bin fte
	source .dev/env && unset KAFKA_BROKERS && target/debug/fte migrate
	source .dev/env && target/debug/fte tenant ensure --slug tallyloom --name Tallyloom \
	  | $${FTE_PYTHON} -c 'import json,sys; print(json.load(sys.stdin)["id"])' > .dev/tenant-id
	source .dev/env && target/debug/fte kb ingest --tenant "$$(cat .dev/tenant-id)" context/product-docs
	source .dev/env && target/debug/fte channel add --tenant "$$(cat .dev/tenant-id)" --provider webform \
	  --address tallyloom --config '{"reply_by_email": true}' >/dev/null
	@echo "tenant tallyloom: $$(cat .dev/tenant-id)"
	source .dev/env && unset KAFKA_BROKERS && exec target/debug/fte serve

migrate: up-pg
	source .dev/env && $(CARGO) run --bin fte -- migrate

## The whole test suite against the real PostgreSQL and broker.
test: up
	source .dev/env && $(CARGO) nextest run --no-fail-fast

## The agent on the sample tickets (offline default: local brain, MiniLM).
eval: up-pg
	source .dev/env && $(CARGO) run --release --bin fte -- eval \
	  --tickets context/sample-tickets.json --kb context/product-docs --json

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

## The deployment, offline (issue #9): render k8s/overlays/{dev,prod}, validate
## every object against its schema, check the deployment policy, lint the
## Dockerfile (scripts/k8s-check.py; tests/api/k8s_manifests.rs runs it in `make
## test` and compares the roles with the binary).
k8s-check: setup
	.dev/venv/bin/python scripts/k8s-check.py

## The load harness (issue #8): same-run baselines (PostgreSQL commits at 1
## and 32 clients, broker round trip) and every scenario against a worker of
## the release build on the real broker; writes target/bench/report.{json,html}.
bench: up
	$(CARGO) build --release --bin fte
	source .dev/env && target/release/fte bench --out target/bench

## Memory per resident conversation actor and spawn + rehydrate time
## (ACTORS=100000 by default), release build.
bench-actors: up-pg
	source .dev/env && $(CARGO) bench --bench resident_actors

## Microbenchmarks (criterion): state machine, channel formatting,
## signatures, actor round trip, turn commit, knowledge-base search.
bench-micro: up-pg
	source .dev/env && $(CARGO) bench --bench micro

## The chaos harness (docs/chaos.md): a deployment of its own (two
## PostgreSQL clusters, tansu, a fake Twilio, 1 api, 3 workers, 1
## dispatcher of the debug build), 1000 customers × 10 WhatsApp messages
## while workers, the dispatcher and the broker are SIGKILLed and
## PostgreSQL is stopped; checks at the provider that every acknowledged
## message got exactly one reply, in order. Writes target/chaos/report.json.
## More flags: make chaos CHAOS_ARGS='--quick' (or --help).
CHAOS_ARGS ?=
chaos: setup
	$(CARGO) build --bin fte
	.dev/venv/bin/python scripts/chaos.py --fte target/debug/fte $(CHAOS_ARGS)
