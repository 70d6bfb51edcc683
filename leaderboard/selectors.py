"""Reads of the boards, answered from Redis alone (never SQL)."""

from dataclasses import dataclass

from . import redis_store
from .exceptions import PlayerNotRanked
from .limits import DEFAULT_BOARD_SLUG, TOP_PLAYERS_COUNT


@dataclass(frozen=True, slots=True)
class RankedPlayer:
    rank: int
    username: str
    points: int


def top_players(*, board: str = DEFAULT_BOARD_SLUG, count: int = TOP_PLAYERS_COUNT) -> list[RankedPlayer]:
    """The best `count` players, best first."""
    rows = redis_store.top(board, count)
    return [RankedPlayer(rank, username, points) for rank, (username, points) in enumerate(rows, start=1)]


def rank_for(*, username: str, board: str = DEFAULT_BOARD_SLUG) -> RankedPlayer:
    """The player's rank and best points; PlayerNotRanked if they have no entry."""
    found = redis_store.rank_for(board, username)
    if found is None:
        raise PlayerNotRanked(username)
    rank, points = found
    return RankedPlayer(rank, username, points)
