"""Writes and rules: recording scores, mirroring them to Redis, games, rebuilding and checking boards."""

from .games import create_game, game, games, publish_all_rules, update_game
from .mirror import drain_pending_mirrors, schedule_catch_up
from .rebuild import BoardDrift, RebuildResult, boards, check_board, rebuild_board
from .scores import board_by_slug, record_score, submit_score

__all__ = [
    "BoardDrift",
    "RebuildResult",
    "board_by_slug",
    "boards",
    "check_board",
    "create_game",
    "drain_pending_mirrors",
    "game",
    "games",
    "publish_all_rules",
    "rebuild_board",
    "record_score",
    "schedule_catch_up",
    "submit_score",
    "update_game",
]
