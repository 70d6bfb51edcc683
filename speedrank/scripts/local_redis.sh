#!/usr/bin/env bash
# The redis-server SpeedRank owns under var/ when REDIS_URL is not set: unix socket only
# (no TCP port), append-only file synced every second, never evicts a board.
#   local_redis.sh start | stop
#   local_redis.sh run COMMAND...   start it if needed, run COMMAND, stop it afterwards if we started it
set -euo pipefail
cd "$(dirname "$0")/../.."
VAR="$PWD/var"
SOCKET="$VAR/redis.sock"

running() { redis-cli -s "$SOCKET" ping >/dev/null 2>&1; }

start() {
  if running; then echo "local redis already running at $SOCKET"; return 1; fi
  mkdir -p "$VAR/redis"
  redis-server --port 0 --unixsocket "$SOCKET" --unixsocketperm 700 \
    --dir "$VAR/redis" --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
    --daemonize yes --pidfile "$VAR/redis.pid" --logfile "$VAR/redis.log"
  for _ in $(seq 50); do running && { echo "started local redis at $SOCKET"; return 0; }; sleep 0.1; done
  echo "local redis did not start; see $VAR/redis.log" >&2; exit 1
}

stop() {
  if running; then redis-cli -s "$SOCKET" shutdown >/dev/null 2>&1 || true; echo "stopped local redis"; fi
}

run() {
  if start; then trap stop EXIT; fi
  # Not exec: the trap must outlive the command, which Ctrl-C stops first.
  "$@"
}

case "${1:-}" in
  start) start || true ;;
  stop) stop ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 start | stop | run COMMAND..." >&2; exit 2 ;;
esac
