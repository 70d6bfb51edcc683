"""The rules: scores, sessions and submissions, games, API keys and profiles. Each service says
what to write and hands it to the write boundary (leaderboard.writes), and returns domain objects."""

from ..writes import (
    BoardDrift,
    RebuildResult,
    check_board,
    check_shard,
    drain_pending_mirrors,
    rebuild_all_boards,
    rebuild_board,
    rebuild_shard,
    rebuilding_all_boards,
    replay_recent_entries,
    shards,
)
from . import exports, matches, periods
from .games import RULE_FIELDS, boards, create_game, game, games, scoring_games, update_game
from .keys import Caller, authenticate_api_key, checked_keys, create_api_key, revoke_api_key
from .periods import ClosedPeriods, ClosingPeriod, GameView, closed_periods, game_view, game_views, request_close
from .profiles import GameEntry, Profile, player_profile
from .regions import RegionalStanding, move_player
from .scores import RecordedScore, submit_score
from .serving import start_serving
from .sessions import StartedSession, read_token, start_session
from .submissions import Submission, submit_server_score, submit_session_score

__all__ = [
    "exports",
    "matches",
    "periods",
    "ClosedPeriods",
    "ClosingPeriod",
    "GameView",
    "closed_periods",
    "game_view",
    "game_views",
    "request_close",
    "RULE_FIELDS",
    "BoardDrift",
    "Caller",
    "GameEntry",
    "Profile",
    "RebuildResult",
    "RecordedScore",
    "RegionalStanding",
    "StartedSession",
    "Submission",
    "authenticate_api_key",
    "checked_keys",
    "boards",
    "check_board",
    "check_shard",
    "create_api_key",
    "create_game",
    "drain_pending_mirrors",
    "game",
    "games",
    "move_player",
    "player_profile",
    "read_token",
    "rebuild_all_boards",
    "rebuild_board",
    "rebuild_shard",
    "rebuilding_all_boards",
    "replay_recent_entries",
    "revoke_api_key",
    "scoring_games",
    "shards",
    "start_serving",
    "start_session",
    "submit_score",
    "submit_server_score",
    "submit_session_score",
    "update_game",
]
