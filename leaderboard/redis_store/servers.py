"""The Redis servers that hold the boards, as shards: one Redis is one shard of every slot; a
cluster has one per master. Each shard's run id tells recovery what a restart or a failover (a
replica promoted, missing what it had not yet copied) may have lost: only its boards need a rebuild.
"""

from collections.abc import Sequence
from urllib.parse import urlsplit

from django.conf import settings
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from .client import connection, execute, unavailable_on_error
from .cluster import Shard
from .keys import board_key, run_id_key

ALL_SLOTS = f"0-{REDIS_CLUSTER_HASH_SLOTS - 1}"


def shards() -> list[Shard]:
    """The shards, in slot order."""
    with unavailable_on_error():
        nodes = connection.nodes()
        if nodes is None:
            return [Shard(ALL_SLOTS, _single_address(), ())]
        nodes.refresh_if_stale()
        return nodes.shards()


def run_ids() -> dict[str, str]:
    """Each shard's run id: the Redis process serving it now, by its slots."""
    with unavailable_on_error():
        nodes = connection.nodes()
        if nodes is None:
            return {ALL_SLOTS: connection.client().info("server")["run_id"]}
        return {
            shard.slots: nodes.cluster.get_node(node_name=shard.address).redis_connection.info("server")["run_id"]
            for shard in shards()
        }


def boards_built_in() -> dict[str, str]:
    """The run ids the boards were last rebuilt into, by shard; empty if never recorded (or lost)."""
    recorded = execute([("GET", run_id_key())])[0] or ""
    return dict(item.split("=", 1) for item in recorded.split() if "=" in item)


def record_boards_built_in(run_ids: dict[str, str]) -> None:
    execute([("SET", run_id_key(), " ".join(f"{slots}={run_id}" for slots, run_id in sorted(run_ids.items())))])


def stale_shards(built_in: dict[str, str], serving: dict[str, str]) -> list[str]:
    """The shards (by slots) served by another process than the one their boards were built into."""
    return [slots for slots, run_id in serving.items() if built_in.get(slots) != run_id]


def boards_in(shard_slots: Sequence[str], boards: Sequence[str]) -> list[str]:
    """Those of the boards whose keys live in these shards' slots."""
    ranges = [tuple(map(int, part.split("-"))) for slots in shard_slots for part in slots.split(",")]
    return [board for board in boards if any(low <= _slot(board) <= high for low, high in ranges)]


def shard_of(board: str) -> Shard:
    """The shard holding the board's keys."""
    slot = _slot(board)
    for shard in shards():
        for part in shard.slots.split(","):
            low, high = map(int, part.split("-"))
            if low <= slot <= high:
                return shard
    raise LookupError(f"no shard serves slot {slot}")


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
