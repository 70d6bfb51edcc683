"""Writes and rules: recording scores, mirroring them to Redis, games, rebuilding and checking boards."""

from .games import create_game, game, games, publish_all_rules, restore_lost_rules, update_game
from .keys import authenticate_api_key, create_api_key, revoke_api_key
from .mirror import drain_pending_mirrors, replay_recent_entries, schedule_catch_up, start_serving_process
from .profiles import player_profile
from .rebuild import BoardDrift, RebuildResult, boards, check_board, rebuild_board
from .recovery import rebuild_all_boards, recover_if_needed
from .scores import record_score, submit_score
from .sessions import read_token, start_session
from .submissions import submit_server_score, submit_session_score

__all__ = [
    "authenticate_api_key",
    "create_api_key",
    "player_profile",
    "read_token",
    "restore_lost_rules",
    "revoke_api_key",
    "start_session",
    "submit_server_score",
    "submit_session_score",
    "BoardDrift",
    "RebuildResult",
    "boards",
    "check_board",
    "create_game",
    "drain_pending_mirrors",
    "game",
    "games",
    "publish_all_rules",
    "rebuild_all_boards",
    "replay_recent_entries",
    "rebuild_board",
    "recover_if_needed",
    "record_score",
    "schedule_catch_up",
    "start_serving_process",
    "submit_score",
    "update_game",
]
