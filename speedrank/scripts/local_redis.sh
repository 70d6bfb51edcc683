#!/usr/bin/env bash
# Starts or stops the redis-server that SpeedRank owns under var/ when REDIS_URL is not set:
# unix socket only (no TCP port), append-only file synced every second, never evicts a board.
set -euo pipefail
cd "$(dirname "$0")/../.."
VAR="$PWD/var"
SOCKET="$VAR/redis.sock"
PIDFILE="$VAR/redis.pid"

running() { redis-cli -s "$SOCKET" ping >/dev/null 2>&1; }

start() {
  if running; then echo "local redis already running at $SOCKET"; return; fi
  mkdir -p "$VAR/redis"
  redis-server --port 0 --unixsocket "$SOCKET" --unixsocketperm 700 \
    --dir "$VAR/redis" --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
    --daemonize yes --pidfile "$PIDFILE" --logfile "$VAR/redis.log"
  for _ in $(seq 50); do running && { echo "started local redis at $SOCKET"; return; }; sleep 0.1; done
  echo "local redis did not start; see $VAR/redis.log" >&2; exit 1
}

stop() {
  if running; then redis-cli -s "$SOCKET" shutdown >/dev/null 2>&1 || true; echo "stopped local redis"; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
