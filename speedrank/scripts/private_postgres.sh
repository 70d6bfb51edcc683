#!/usr/bin/env bash
# A private PostgreSQL cluster for one command (the test suite, bench-http on PostgreSQL): made
# with initdb in a temporary directory, listening on a unix socket there and on no TCP port, and stopped and removed when the
# command ends, whether it passed or not. initdb refuses to run as root, so as root the cluster is
# made and run by the postgres user that Debian's package creates.
#   private_postgres.sh run COMMAND...   COMMAND runs with DATABASE_URL and PRIVATE_POSTGRES_URL set
#                                        to the cluster's database (speedrank; postgres may create more)
set -euo pipefail

BIN=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1)
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  echo "no PostgreSQL server found under /usr/lib/postgresql (Debian's postgresql package)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

run() {
  CLUSTER=$(mktemp -d "${TMPDIR:-/tmp}/speedrank-postgres.XXXXXX")
  [ "$(id -u)" = 0 ] && chown postgres: "$CLUSTER"
  trap stop EXIT
  as_owner "$BIN/initdb" --pgdata "$CLUSTER/data" --username postgres --auth trust --encoding UTF8 \
    --no-instructions >"$CLUSTER/initdb.log" 2>&1 || { cat "$CLUSTER/initdb.log" >&2; exit 1; }
  # No TCP port; fsync stays on, as a studio's server runs it.
  as_owner "$BIN/pg_ctl" --pgdata "$CLUSTER/data" --log "$CLUSTER/server.log" --wait --silent start \
    -o "-c listen_addresses='' -c unix_socket_directories='$CLUSTER' -c max_connections=200" \
    || { cat "$CLUSTER/server.log" >&2; exit 1; }
  as_owner "$BIN/createdb" --host "$CLUSTER" --username postgres speedrank
  echo "started a private PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on $CLUSTER"
  url="postgres://postgres@$(urlencode "$CLUSTER")/speedrank"
  # Not exec: the trap must outlive the command.
  DATABASE_URL="$url" PRIVATE_POSTGRES_URL="$url" "$@"
}

stop() {
  as_owner "$BIN/pg_ctl" --pgdata "$CLUSTER/data" --mode fast --wait --silent stop >/dev/null 2>&1 || true
  rm -rf "$CLUSTER"
  echo "stopped the private PostgreSQL"
}

# A socket directory as a URL's host: dj-database-url reads a percent-encoded path there.
urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

case "${1:-}" in
  run) shift; run "$@" ;;
  *) echo "usage: $0 run COMMAND..." >&2; exit 2 ;;
esac
