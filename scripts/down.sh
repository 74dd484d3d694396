#!/usr/bin/env bash
# Stops the local stack started by up.sh (data stays under .dev/).
source "$(dirname "$0")/common.sh"

KAFKA_DIR="$DEV_DIR/kafka"
pid=$(cat "$KAFKA_DIR/pid" 2>/dev/null || true)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  log "stopping tansu (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
fi
rm -f "$KAFKA_DIR/pid"

if [ -x "$VENV/bin/python" ]; then
  PG_HOME=$(pg_home)
  PG_BIN="$(pg_install "$PG_HOME")/bin"
  if [ -f "$PG_HOME/data/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG_HOME/data" status >/dev/null 2>&1; then
    log "stopping PostgreSQL"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_HOME/data" -m fast -w stop >/dev/null
  fi
fi
log "stack down"
