"""Reads of the boards, answered from Redis (SQL only to ask for the repair of a board Redis does
not hold whole), for both APIs: one entry type, Standing, decoded with the rules Redis keeps
beside each board."""

from typing import NamedTuple

from . import redis_store, writes
from .exceptions import BoardNotBuilt, BoardNotFound, BoardUnavailable, PlayerNotRanked
from .rules import BoardRules


class Standing(NamedTuple):
    """Standings sort best first: by rank, their first field, which no two share on a board."""

    rank: int
    player_id: str
    score: int


class Page(NamedTuple):
    standings: list[Standing]
    total_players: int | None  # None when not asked for


class Neighbourhood(NamedTuple):
    player: Standing
    percentile: float
    above: list[Standing]
    below: list[Standing]


def leaderboard_page(*, game_id: str, top: int, offset: int, count_players: bool = True) -> Page:
    """`top` standings from rank offset + 1, and how many players the board has (if asked: the
    count costs a command more)."""
    rules, total, window = _read(redis_store.page, game_id, offset, top, total=count_players)
    return Page(_standings(rules, offset + 1, window), total)


def neighbourhood(*, game_id: str, player_id: str, context: int) -> Neighbourhood:
    """The player's standing and percentile, with up to `context` standings on each side;
    PlayerNotRanked if the player has no entry."""
    rank, total, window = _around(game_id, player_id, context)
    mine = rank - window[0].rank
    # Percentile: the share of the board ranked at or below the player (the leader is at 100).
    percentile = round((total - rank + 1) / total * 100, 2)
    return Neighbourhood(window[mine], percentile, window[:mine], window[mine + 1 :])


def standing(*, game_id: str, player_id: str) -> Standing:
    """The player's standing alone (no neighbours, no percentile: no count of the board);
    PlayerNotRanked if the player has no entry."""
    return _around(game_id, player_id, 0, total=False)[2][0]


def similar_players(*, game_id: str, player_id: str, size: int) -> list[Standing]:
    """The `size` players nearest the player in rank, the player left out, best first."""
    rank, _total, window = _around(game_id, player_id, size, total=False)
    others = sorted((s for s in window if s.rank != rank), key=lambda s: (abs(s.rank - rank), s.rank))
    return sorted(others[:size])


def standings_of(*, game_id: str, player_ids: list[str]) -> list[Standing]:
    """The standings of those players who have one, best first."""
    rules, found = _read(redis_store.entries_of, game_id, player_ids)
    base, sign = rules.value_base()
    return sorted([Standing(rank + 1, member, base + sign * value) for member, rank, value in found])


def _around(game_id: str, player_id: str, context: int, *, total: bool = True) -> tuple[int, int | None, list]:
    rules, count, found = _read(redis_store.around, game_id, player_id, context, total=total)
    if found is None:
        raise PlayerNotRanked(player_id)
    rank, window = found
    return rank + 1, count, _standings(rules, max(rank - context, 0) + 1, window)


def _read(read, game_id: str, *args, **kwargs):
    """A read of the game's board. One that finds Redis without the whole board asks for its
    rebuild; the reader hears 503 (BoardNotBuilt) meanwhile, or 404 if SQL has no such game. One
    that finds Redis away (503) asks for a check once it is back."""
    try:
        return read(game_id, *args, **kwargs)
    except BoardNotBuilt:
        if not writes.repair_board(game_id):
            raise BoardNotFound(game_id) from None
        raise
    except BoardUnavailable:
        writes.check_redis_when_back()
        raise


def _standings(rules: BoardRules, first_rank: int, window: list[tuple[str, int]]) -> list[Standing]:
    """(member, rank value) pairs, best first, as standings from first_rank."""
    base, sign = rules.value_base()
    return [Standing(first_rank + i, member, base + sign * value) for i, (member, value) in enumerate(window)]
