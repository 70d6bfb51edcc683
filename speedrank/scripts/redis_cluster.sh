#!/usr/bin/env bash
# A loopback Redis Cluster from Debian's redis-server, for the test suite and the benchmarks:
# 3 masters and 3 replicas on 127.0.0.1, each node's files in one directory.
#   redis_cluster.sh start DIR        start the cluster, print the URL of one node
#   redis_cluster.sh stop DIR         stop every node started in DIR
#   redis_cluster.sh run COMMAND...   a cluster in a temporary directory for COMMAND, with
#                                     REDIS_CLUSTER_URL set; stopped and removed when COMMAND ends
# Ports are the first six free ones from 7000 whose bus ports (port + 10000) are free too: both
# stay below the kernel's ephemeral range, so no outgoing connection can take them meanwhile.
set -euo pipefail

NODES=6
NODE_TIMEOUT_MS=${REDIS_CLUSTER_NODE_TIMEOUT_MS:-3000}

free_ports() {
  python3 - "$NODES" <<'EOF'
import socket, sys
def free(port):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
ports = [port for port in range(7000, low - 10000) if free(port) and free(port + 10000)][: int(sys.argv[1])]
print(" ".join(map(str, ports)))
EOF
}

start() {
  local dir=$1 ports port
  mkdir -p "$dir"
  ports=$(free_ports)
  [ "$(wc -w <<<"$ports")" = "$NODES" ] || { echo "not enough free ports for a cluster" >&2; exit 1; }
  for port in $ports; do
    mkdir -p "$dir/$port"
    # No persistence: SQL is the truth, and a rebuild restores what a node loses.
    # Without full coverage, the masters still up keep serving their slots while one fails over.
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir/$port" --daemonize yes \
      --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "$NODE_TIMEOUT_MS" \
      --cluster-require-full-coverage no --cluster-replica-validity-factor 0 \
      --repl-diskless-sync yes --repl-diskless-sync-delay 0 \
      --save "" --appendonly no --maxmemory-policy noeviction
  done
  for port in $ports; do wait_for "redis-cli -p $port ping" PONG "node $port" "$dir/$port/redis.log"; done
  # shellcheck disable=SC2046
  redis-cli --cluster create $(printf '127.0.0.1:%s ' $ports) --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
    || { cat "$dir/create.log" >&2; exit 1; }
  for port in $ports; do
    wait_for "redis-cli -p $port cluster info" cluster_state:ok "cluster state on $port" "$dir/$port/redis.log"
  done
  # Every replica has its master's data before anything relies on failing over to it.
  local first=${ports%% *}
  wait_for "replica_count $first" "^$((NODES / 2))\$" "$((NODES / 2)) replicas" "$dir/$first/redis.log"
  for port in $(redis-cli -p "$first" cluster nodes | awk '/slave/ {split($2, address, "[:@]"); print address[2]}'); do
    wait_for "redis-cli -p $port info replication" master_link_status:up "replica $port in sync" "$dir/$port/redis.log"
  done
  echo "redis://127.0.0.1:${ports%% *}"
}

replica_count() { redis-cli -p "$1" cluster nodes | grep -c slave; }

wait_for() {
  local command=$1 expected=$2 what=$3 log=$4
  for _ in $(seq 200); do
    $command 2>/dev/null | grep -q "$expected" && return 0
    sleep 0.1
  done
  echo "timed out waiting for $what; see $log" >&2
  exit 1
}

stop() {
  local dir=$1 pidfile
  for pidfile in "$dir"/*/redis.pid; do
    [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  done
}

run() {
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/speedrank-redis-cluster.XXXXXX")
  trap 'stop "$DIR"; rm -rf "$DIR"; echo "stopped the loopback Redis Cluster"' EXIT
  url=$(start "$DIR")
  echo "started a loopback Redis Cluster at $url ($(redis-server --version | awk '{print $3}'))"
  # Not exec: the trap must outlive the command.
  REDIS_CLUSTER_URL="$url" "$@"
}

case "${1:-}" in
  start) start "${2:?usage: $0 start DIR}" ;;
  stop) stop "${2:?usage: $0 stop DIR}" ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 start DIR | stop DIR | run COMMAND..." >&2; exit 2 ;;
esac
