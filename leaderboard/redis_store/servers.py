"""The Redis servers that hold the boards: one Redis, serving every slot, or a cluster's masters,
each serving some. Each master's run id, recorded by its slots, tells recovery what a restart or a
failover (a replica promoted, missing what it had not yet copied) may have lost: only the boards in
its slots need a rebuild.
"""

from collections.abc import Sequence
from urllib.parse import urlsplit

import redis
from django.conf import settings
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from .client import connection, execute, unavailable_on_error
from .cluster import Master
from .keys import board_key, run_id_key

ALL_SLOTS = f"0-{REDIS_CLUSTER_HASH_SLOTS - 1}"


def masters() -> list[Master]:
    """The masters, in slot order (one Redis is the one master of every slot)."""
    with unavailable_on_error():
        nodes = connection.nodes()
        if nodes is None:
            return [Master(ALL_SLOTS, _single_address(), ())]
        nodes.refresh_if_stale()
        return nodes.masters_by_slots()


def run_ids() -> dict[str, str]:
    """The run id of the Redis process serving each master's slots now, by the slots."""
    with unavailable_on_error():
        nodes = connection.nodes()
        if nodes is None:
            return {ALL_SLOTS: connection.client().info("server")["run_id"]}
        return {master.slots: _run_id(nodes, master.address) for master in masters()}


def _run_id(nodes, address: str) -> str:
    node = nodes.cluster.get_node(node_name=address)
    if node is None or node.redis_connection is None:  # a master this process has not met yet
        nodes.went_wrong()
        raise redis.ConnectionError(f"{address} is not known here yet")
    return node.redis_connection.info("server")["run_id"]


def boards_built_in() -> dict[str, str]:
    """The run ids the boards were last rebuilt into, by slots; empty if never recorded (or lost)."""
    recorded = execute([("GET", run_id_key())])[0] or ""
    return dict(item.split("=", 1) for item in recorded.split() if "=" in item)


def record_boards_built_in(run_ids: dict[str, str]) -> None:
    execute([("SET", run_id_key(), " ".join(f"{slots}={run_id}" for slots, run_id in sorted(run_ids.items())))])


def stale_slots(built_in: dict[str, str], serving: dict[str, str]) -> list[str]:
    """The slots served by another process than the one their boards were built into."""
    return [slots for slots, run_id in serving.items() if built_in.get(slots) != run_id]


def boards_in(slots: Sequence[str], boards: Sequence[str]) -> list[str]:
    """Those of the boards whose keys live in these slots ('0-5460', ...)."""
    ranges = [tuple(map(int, part.split("-"))) for each in slots for part in each.split(",")]
    return [board for board in boards if any(low <= _slot(board) <= high for low, high in ranges)]


def master_of(board: str, serving: Sequence[Master]) -> Master | None:
    """The master, of these, that holds the board's keys."""
    return next((master for master in serving if boards_in([master.slots], [board])), None)


def cluster_state() -> str | None:
    """The cluster's own view of itself ('ok' or 'fail'), or None on a single Redis."""
    with unavailable_on_error():
        nodes = connection.nodes()
        return None if nodes is None else nodes.cluster.cluster_info()["cluster_state"]


def _slot(board: str) -> int:
    return key_slot(board_key(board).encode())


def _single_address() -> str:
    parts = urlsplit(settings.REDIS_URL)
    return parts.path if parts.scheme == "unix" else f"{parts.hostname}:{parts.port or 6379}"
