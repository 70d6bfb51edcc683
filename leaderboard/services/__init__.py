"""Writes and rules: submitting scores, mirroring them to Redis, rebuilding and checking boards."""

from .mirror import drain_pending_mirrors, schedule_catch_up
from .rebuild import BoardDrift, RebuildResult, boards, check_board, rebuild_board
from .scores import submit_score

__all__ = [
    "BoardDrift",
    "RebuildResult",
    "boards",
    "check_board",
    "drain_pending_mirrors",
    "rebuild_board",
    "schedule_catch_up",
    "submit_score",
]
