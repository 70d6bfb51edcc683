"""Reads of the boards, answered from Redis alone (never SQL)."""

from dataclasses import dataclass

from . import redis_store
from .exceptions import BoardNotFound, PlayerNotRanked
from .limits import DEFAULT_BOARD_SLUG, TOP_PLAYERS_COUNT
from .rules import BoardRules


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


# --- v1: boards of any rules, decoded with the rules published beside each board -------------


@dataclass(frozen=True, slots=True)
class Standing:
    rank: int
    player_id: str
    score: int


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    player: Standing
    percentile: float
    above: list[Standing]
    below: list[Standing]


def leaderboard_page(*, game_id: str, top: int, offset: int) -> tuple[list[Standing], int]:
    """`top` standings from rank offset + 1, and how many players the board has."""
    raw_rules, total, rows = redis_store.page(game_id, offset, top)
    rules = _rules(game_id, raw_rules)
    standings = [Standing(offset + i, member, rules.value_of(value)) for i, (member, value) in enumerate(rows, 1)]
    return standings, total


def neighbourhood(*, game_id: str, player_id: str, context: int) -> Neighbourhood:
    """The player's standing and percentile, with up to `context` standings on each side."""
    rank, total, window = _around(game_id, player_id, context)
    me = next(standing for standing in window if standing.player_id == player_id)
    # Percentile: the share of the board ranked at or below the player (the leader is at 100).
    percentile = round((total - rank + 1) / total * 100, 2)
    return Neighbourhood(me, percentile, [s for s in window if s.rank < rank], [s for s in window if s.rank > rank])


def similar_players(*, game_id: str, player_id: str, size: int) -> list[Standing]:
    """The `size` players nearest the player in rank, the player left out, best first."""
    rank, _total, window = _around(game_id, player_id, size)
    others = sorted((s for s in window if s.player_id != player_id), key=lambda s: (abs(s.rank - rank), s.rank))
    return sorted(others[:size], key=lambda s: s.rank)


def standings_of(*, game_id: str, player_ids: list[str]) -> list[Standing]:
    """The standings of those players who have one, best first."""
    raw_rules, rows = redis_store.entries_of(game_id, player_ids)
    rules = _rules(game_id, raw_rules)
    return sorted((Standing(rank + 1, member, rules.value_of(value)) for member, rank, value in rows), key=_by_rank)


def _around(game_id: str, player_id: str, context: int) -> tuple[int, int, list[Standing]]:
    raw_rules, found = redis_store.around(game_id, player_id, context)
    rules = _rules(game_id, raw_rules)
    if found is None:
        raise PlayerNotRanked(player_id)
    rank, _value, total, pairs = found
    first = max(rank - context, 0) + 1
    return rank + 1, total, [Standing(first + i, m, rules.value_of(v)) for i, (m, v) in enumerate(pairs)]


def _rules(game_id: str, raw: dict[str, str]) -> BoardRules:
    if not raw:
        raise BoardNotFound(game_id)
    return BoardRules(raw["order"], raw["operator"], int(raw["min"]), int(raw["max"]))


def _by_rank(standing: Standing) -> int:
    return standing.rank
