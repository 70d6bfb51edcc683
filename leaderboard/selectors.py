"""Reads of the boards, answered from Redis alone (never SQL), for both APIs: one entry type,
Standing, decoded in one place with the rules Redis keeps beside each board."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from . import redis_store, writes
from .exceptions import BoardNotBuilt, BoardNotFound, BoardUnavailable, PlayerNotRanked
from .rules import BoardRules


@dataclass(frozen=True, slots=True)
class Standing:
    rank: int
    player_id: str
    score: int


@dataclass(frozen=True, slots=True)
class Page:
    standings: list[Standing]
    total_players: int


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    player: Standing
    percentile: float
    above: list[Standing]
    below: list[Standing]


def leaderboard_page(*, game_id: str, top: int, offset: int) -> Page:
    """`top` standings from rank offset + 1, and how many players the board has."""
    with _repairing(game_id):
        rules, total, window = redis_store.page(game_id, offset, top)
    return Page(_standings(rules, offset + 1, window), total)


def neighbourhood(*, game_id: str, player_id: str, context: int) -> Neighbourhood:
    """The player's standing and percentile, with up to `context` standings on each side;
    PlayerNotRanked if the player has no entry."""
    rank, total, window = _around(game_id, player_id, context)
    mine = rank - window[0].rank
    # Percentile: the share of the board ranked at or below the player (the leader is at 100).
    percentile = round((total - rank + 1) / total * 100, 2)
    return Neighbourhood(window[mine], percentile, window[:mine], window[mine + 1 :])


def similar_players(*, game_id: str, player_id: str, size: int) -> list[Standing]:
    """The `size` players nearest the player in rank, the player left out, best first."""
    rank, _total, window = _around(game_id, player_id, size)
    others = sorted((s for s in window if s.rank != rank), key=lambda s: (abs(s.rank - rank), s.rank))
    return sorted(others[:size], key=_by_rank)


def standings_of(*, game_id: str, player_ids: list[str]) -> list[Standing]:
    """The standings of those players who have one, best first."""
    with _repairing(game_id):
        rules, found = redis_store.entries_of(game_id, player_ids)
    return sorted((Standing(rank + 1, member, rules.value_of(value)) for member, rank, value in found), key=_by_rank)


def _around(game_id: str, player_id: str, context: int) -> tuple[int, int, list[Standing]]:
    with _repairing(game_id):
        rules, total, found = redis_store.around(game_id, player_id, context)
    if found is None:
        raise PlayerNotRanked(player_id)
    rank, window = found
    return rank + 1, total, _standings(rules, max(rank - context, 0) + 1, window)


@contextmanager
def _repairing(game_id: str) -> Iterator[None]:
    """A read that finds Redis without the game's rules or a whole board asks for the repair; the
    reader hears 503 (BoardUnavailable) meanwhile, or 404 if SQL has no such game either."""
    try:
        yield
    except BoardNotFound:
        if not writes.restore_rules(game_id):
            raise
        raise BoardUnavailable(f"the rules of {game_id!r} were missing from Redis and are being restored") from None
    except BoardNotBuilt:
        writes.rebuild_lost_boards()
        raise


def _standings(rules: BoardRules, first_rank: int, window: list[tuple[str, int]]) -> list[Standing]:
    """The one decoder: (member, rank value) pairs, best first, as standings from first_rank."""
    return [Standing(first_rank + i, member, rules.value_of(value)) for i, (member, value) in enumerate(window)]


def _by_rank(standing: Standing) -> int:
    return standing.rank
