"""On a Redis Cluster: which master serves each key, as redis-py's cluster client discovered them,
refreshed when a master answers MOVED or stops answering (a failover promotes its replica)."""

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.exceptions import MovedError, RedisClusterException

# A failing master is asked about at most this often: during a failover every call fails at once.
REFRESH_MIN_SECONDS = 0.5


@dataclass(frozen=True)
class Master:
    """A master, the slots it serves ('0-5460'; they name it in the recorded run ids) and its replicas."""

    slots: str
    address: str
    replicas: tuple[str, ...]


class ClusterNodes:
    """The masters of a cluster, by slot; refreshed from the cluster when found out of date."""

    def __init__(self, cluster: RedisCluster):
        self.cluster = cluster
        self._lock = threading.Lock()
        self._refreshed_at = time.monotonic()
        self._stale = False

    def node_for(self, key: str | None) -> ClusterNode:
        """The master serving the key's slot (any master for a command without a key)."""
        manager = self.cluster.nodes_manager
        if key is None:
            return manager.default_node
        nodes = manager.slots_cache.get(key_slot(key.encode()))  # kept current by moved() and refresh()
        if not nodes:
            self._stale = True
            raise redis.ConnectionError(f"no master serves the slot of {key!r} now")
        return nodes[0]

    def routes(self, keys: Iterable[str | None]) -> dict[str, tuple[ClusterNode, list[int]]]:
        """The positions of the keys grouped by the master serving each, by its name."""
        routes: dict[str, tuple[ClusterNode, list[int]]] = {}
        for position, key in enumerate(keys):
            node = self.node_for(key)
            routes.setdefault(node.name, (node, []))[1].append(position)
        return routes

    def node_at(self, address: str) -> ClusterNode:
        """The node at host:port, known to the client from now on if it was not."""
        host, port = address.rsplit(":", 1)
        manager = self.cluster.nodes_manager
        node = manager.get_node(host=host, port=int(port))
        if node is None:
            node = manager.nodes_cache[address] = ClusterNode(host, int(port))
        return node

    def masters(self) -> list[ClusterNode]:
        return self.cluster.nodes_manager.get_nodes_by_server_type("primary")

    def moved(self, redirections: list[MovedError]) -> None:
        """Masters answered MOVED: their slots are served where they say, from now on, and the
        rest of the view is refreshed soon."""
        manager = self.cluster.nodes_manager
        for redirection in redirections:
            manager.update_moved_exception(redirection)
            manager.get_node_from_slot(redirection.slot_id)  # applies it
        self._stale = True

    def went_wrong(self) -> None:
        """A master did not answer, or answered that the cluster is down: refresh before the next call."""
        self._stale = True

    def refresh_if_stale(self) -> None:
        if self._stale:
            self.refresh()

    def refresh(self) -> None:
        """Ask the cluster which master serves which slots; at most every REFRESH_MIN_SECONDS."""
        with self._lock:
            now = time.monotonic()
            if now - self._refreshed_at < REFRESH_MIN_SECONDS:
                return
            self._refreshed_at = now
            try:
                self.cluster.nodes_manager.initialize()
            except RedisClusterException as error:
                raise redis.ConnectionError(str(error)) from error
            self._stale = False

    def masters_by_slots(self) -> list[Master]:
        """Each master serving slots, with its replicas, in slot order, as a node of the cluster sees them."""
        nodes = self.cluster.cluster_nodes()
        replicas: dict[str, list[str]] = {}
        for address, node in nodes.items():
            if "slave" in node["flags"] and "fail" not in node["flags"]:
                replicas.setdefault(node["master_id"], []).append(address)
        masters = [
            Master(_slots(node["slots"]), address, tuple(sorted(replicas.get(node["node_id"], []))))
            for address, node in nodes.items()
            if "master" in node["flags"] and "fail" not in node["flags"] and node["slots"]
        ]
        return sorted(masters, key=lambda master: int(master.slots.split("-")[0]))


def _slots(ranges: list[list[str]]) -> str:
    """'0-5460', or ranges joined by ',' (a single slot is 'n-n')."""
    return ",".join(f"{part[0]}-{part[-1]}" for part in ranges)
