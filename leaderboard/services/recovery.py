"""Recovering the boards when Redis restarted or lost its data: rebuild them all from SQL."""

import logging
from contextlib import suppress

from .. import redis_store
from ..exceptions import RebuildInProgress
from .rebuild import boards, rebuild_board

logger = logging.getLogger(__name__)

RECOVERY_LOCK_SECONDS = 600


def boards_need_recovery() -> bool:
    """True if Redis is not the process the boards were last all rebuilt into.

    A restart changes the run id; data lost without a restart (FLUSHALL) loses the recorded one.
    Either way some acknowledged mirrors may be gone, and only a rebuild restores them.
    """
    return redis_store.boards_built_in() != redis_store.server_run_id()


def rebuild_all_boards() -> list[str]:
    """Rebuild every board and record which Redis they are built in; returns the boards rebuilt."""
    run_id = redis_store.server_run_id()
    rebuilt = []
    for board in boards():
        with suppress(RebuildInProgress):  # someone else is rebuilding that one right now
            rebuild_board(board=board)
            rebuilt.append(board.slug)
    redis_store.record_boards_built_in(run_id)
    return rebuilt


def recover_if_needed() -> bool:
    """Rebuild all boards if Redis restarted or lost data; one worker does it, the others skip."""
    if not boards_need_recovery() or not redis_store.take_lock("recovery", RECOVERY_LOCK_SECONDS):
        return False
    try:
        rebuilt = rebuild_all_boards()
    finally:
        redis_store.release_lock("recovery")
    logger.warning("redis restarted or lost data; rebuilt %s", rebuilt, extra={"event": "recovery", "boards": rebuilt})
    return True
