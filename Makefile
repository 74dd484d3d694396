# The two commands of the README are `make run` and `make test`; both
# install what they need first (scripts/setup.sh, idempotent and cached).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo

.PHONY: setup up up-pg down run migrate test lint bench-actors

setup:
	scripts/setup.sh

## Start PostgreSQL + pgvector and the tansu broker (idempotent).
up: setup
	scripts/up.sh all

up-pg: setup
	scripts/up.sh pg

down:
	scripts/down.sh

## Run the service with embedded defaults (in-process bus, no broker).
run: up-pg
	source .dev/env && unset KAFKA_BROKERS && $(CARGO) run --bin fte -- migrate
	source .dev/env && unset KAFKA_BROKERS && exec $(CARGO) run --bin fte -- serve

migrate: up-pg
	source .dev/env && $(CARGO) run --bin fte -- migrate

## The whole test suite against the real PostgreSQL and broker.
test: up
	source .dev/env && $(CARGO) nextest run --no-fail-fast

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

## Memory per resident conversation actor and spawn + rehydrate time
## (ACTORS=100000 by default), release build.
bench-actors: up-pg
	source .dev/env && $(CARGO) bench --bench resident_actors
