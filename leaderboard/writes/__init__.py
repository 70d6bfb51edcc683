"""The one write boundary: commit(work) -> outcome, whichever path runs it (inline, grouped, or
through the write server), with the mirror to Redis after the commit, the catch-up that replays
what Redis missed, rebuilds, and the repairs reads ask for."""

from .boundary import process_boundary
from .rebuild import (
    BoardDrift,
    RebuildResult,
    Shard,
    check_board,
    check_shard,
    rebuild_all_boards,
    rebuild_board,
    rebuild_shard,
    rebuilding_all_boards,
    shards,
)
from .repairs import check_redis_when_back, repair_board
from .replay import drain_pending_mirrors, replay_recent_entries, write_current_entries
from .server import WriteServer, socket_path
from .supervisor import WriteServerSupervisor
from .work import AfterCommit, Work

__all__ = [
    "AfterCommit",
    "BoardDrift",
    "RebuildResult",
    "Shard",
    "Work",
    "WriteServer",
    "WriteServerSupervisor",
    "check_board",
    "check_redis_when_back",
    "check_shard",
    "commit",
    "drain_pending_mirrors",
    "process_boundary",
    "rebuild_all_boards",
    "rebuild_board",
    "rebuild_shard",
    "rebuilding_all_boards",
    "replay_recent_entries",
    "repair_board",
    "shards",
    "socket_path",
    "write_current_entries",
]


def commit(work: Work):
    """Commit the work and return its outcome, once committed and mirrored (see boundary.py)."""
    return process_boundary.commit(work)
