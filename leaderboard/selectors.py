"""Reads of the boards, answered from Redis (SQL only to ask for the repair of a board Redis does
not hold whole), for both APIs: one entry type, Standing, decoded with the rules Redis keeps
beside each board. A game with regions is read on one region's board (`region`), or on all of
them merged into the exact global view (regional.py), whose standings name their region."""

from typing import NamedTuple

from . import archive, redis_store, regional, writes
from .exceptions import (
    BoardNotBuilt,
    BoardNotFound,
    BoardUnavailable,
    GlobalViewTooDeep,
    InvalidRegion,
    PlayerNotRanked,
)
from .limits import GLOBAL_VIEW_DEPTH_MAX, SEQUENCE_BITS
from .regional import known_regions
from .rules import BoardRules


class Standing(NamedTuple):
    """Standings sort best first: by rank, their first field, which no two share on a board."""

    rank: int
    player_id: str
    score: int
    region: str | None = None  # on the global view of a game with regions


class Page(NamedTuple):
    standings: list[Standing]
    total_players: int | None  # None when not asked for


class Neighbourhood(NamedTuple):
    player: Standing
    percentile: float
    above: list[Standing]
    below: list[Standing]
    regional_rank: int | None = None  # on the global view of a game with regions


def leaderboard_page(
    *,
    game_id: str,
    top: int,
    offset: int,
    count_players: bool = True,
    region: str | None = None,
    period: int | str | None = None,
) -> Page:
    """`top` standings from rank offset + 1, and how many players the board has (if asked: the
    count costs a command more). `period`: a closed period's id, read from its archive."""
    if closed := archive.closed_period(game_id=game_id, period=period):
        return archive.page(closed, top=top, offset=offset, region=region)
    if regions := _merged_view(game_id, region):
        if offset + top > GLOBAL_VIEW_DEPTH_MAX:
            raise GlobalViewTooDeep(offset + top, GLOBAL_VIEW_DEPTH_MAX)
        rules, merged, total = _read(game_id, None, regional.page, game_id, regions, top=top, offset=offset,
                                     count_players=count_players)  # fmt: skip
        return Page([_standing(rules, offset + 1 + i, entry) for i, entry in enumerate(merged)], total)
    board = _board(game_id, region)
    rules, total, window = _read(game_id, region, redis_store.page, board, offset, top, total=count_players)
    if rules.regions and _learnt(game_id, region, rules):
        return leaderboard_page(game_id=game_id, top=top, offset=offset, count_players=count_players)
    return Page(_standings(rules, offset + 1, window), total)


def neighbourhood(
    *, game_id: str, player_id: str, context: int, region: str | None = None, period: int | str | None = None
) -> Neighbourhood:
    """The player's standing and percentile, with up to `context` standings on each side;
    PlayerNotRanked if the player has no entry. `period`: a closed period's id, read from its archive."""
    if closed := archive.closed_period(game_id=game_id, period=period):
        return archive.neighbourhood(closed, player_id=player_id, context=context, region=region)
    if regions := _merged_view(game_id, region):
        return _global_neighbourhood(game_id, regions, player_id, context)
    rules, total, found = _read(game_id, region, redis_store.around, _board(game_id, region), player_id, context)
    if rules.regions and _learnt(game_id, region, rules):
        return neighbourhood(game_id=game_id, player_id=player_id, context=context)
    return _neighbourhood(rules, total, player_id, context, found)


def neighbourhoods(
    *, game_id: str, player_ids: list[str], context: int, region: str | None = None
) -> dict[str, Neighbourhood | None]:
    """neighbourhood() of each player, None for one not ranked: on one board, in one round trip."""
    if not player_ids or _merged_view(game_id, region):
        return {player_id: _ranked_or_none(game_id, player_id, context, region) for player_id in player_ids}
    board = _board(game_id, region)
    rules, total, found = _read(game_id, region, redis_store.around_each, board, player_ids, context)
    if rules.regions and _learnt(game_id, region, rules):
        return neighbourhoods(game_id=game_id, player_ids=player_ids, context=context)
    return {
        player_id: None if one is None else _neighbourhood(rules, total, player_id, context, one)
        for player_id, one in zip(player_ids, found, strict=True)
    }


def _ranked_or_none(game_id: str, player_id: str, context: int, region: str | None) -> Neighbourhood | None:
    try:
        return neighbourhood(game_id=game_id, player_id=player_id, context=context, region=region)
    except PlayerNotRanked:
        return None


def _neighbourhood(rules: BoardRules, total: int, player_id: str, context: int, found) -> Neighbourhood:
    rank, window = _window(rules, player_id, context, found)
    mine = rank - window[0].rank
    return Neighbourhood(window[mine], percentile(rank, total), window[:mine], window[mine + 1 :])


def standing(*, game_id: str, player_id: str) -> Standing:
    """The player's standing alone (no neighbours, no percentile: no count of the board);
    PlayerNotRanked if the player has no entry."""
    if regions := _merged_view(game_id, None):
        return _read(game_id, None, regional.around, game_id, regions, player_id, 0, total=False).player
    rules, _total, found = _read(game_id, None, redis_store.around, game_id, player_id, 0, total=False)
    if rules.regions and _learnt(game_id, None, rules):
        return standing(game_id=game_id, player_id=player_id)
    return _window(rules, player_id, 0, found)[1][0]


def similar_players(*, game_id: str, player_id: str, size: int, region: str | None = None) -> list[Standing]:
    """The `size` players nearest the player in rank, the player left out, best first."""
    if regions := _merged_view(game_id, region):
        found = _global_neighbourhood(game_id, regions, player_id, size, total=False)
        rank, window = found.player.rank, [*found.above, *found.below]
    else:
        board = _board(game_id, region)
        rules, _total, found = _read(game_id, region, redis_store.around, board, player_id, size, total=False)
        if rules.regions and _learnt(game_id, region, rules):
            return similar_players(game_id=game_id, player_id=player_id, size=size)
        rank, window = _window(rules, player_id, size, found)
    others = sorted((s for s in window if s.rank != rank), key=lambda s: (abs(s.rank - rank), s.rank))
    return sorted(others[:size])


def standings_of(*, game_id: str, player_ids: list[str], region: str | None = None) -> list[Standing]:
    """The standings of those players who have one, best first."""
    if regions := _merged_view(game_id, region):
        rules, found = _read(game_id, None, regional.ranked, game_id, regions, player_ids)
        return sorted(_standing(rules, rank, entry) for rank, entry in found)
    rules, found = _read(game_id, region, redis_store.entries_of, _board(game_id, region), player_ids)
    if rules.regions and _learnt(game_id, region, rules):
        return standings_of(game_id=game_id, player_ids=player_ids)
    base, sign = rules.value_base()
    return sorted([Standing(rank + 1, member, base + sign * value) for member, rank, value in found])


def _global_neighbourhood(
    game_id: str, regions: tuple[str, ...], player_id: str, context: int, *, total: bool = True
) -> Neighbourhood:
    found = _read(game_id, None, regional.around, game_id, regions, player_id, context, total=total)
    rules, rank = found.rules, found.rank
    above = [_standing(rules, rank - len(found.above) + i, entry) for i, entry in enumerate(found.above)]
    below = [_standing(rules, rank + 1 + i, entry) for i, entry in enumerate(found.below)]
    share = percentile(rank, found.total) if total else None
    return Neighbourhood(_standing(rules, rank, found.player), share, above, below, found.regional_rank)


def percentile(rank: int, total: int) -> float:
    """The share of the board ranked at or below the player (the leader is at 100)."""
    return round((total - rank + 1) / total * 100, 2)


def _window(rules: BoardRules, player_id: str, context: int, found) -> tuple[int, list[Standing]]:
    """(the player's rank, the standings from rank - context to rank + context) of a read around
    the player; PlayerNotRanked if the player has no entry."""
    if found is None:
        raise PlayerNotRanked(player_id)
    rank, window = found
    return rank + 1, _standings(rules, max(rank - context, 0) + 1, window)


def _merged_view(game_id: str, region: str | None) -> tuple[str, ...]:
    """The regions to merge for a read of the whole game, if it has regions this process knows of."""
    return () if region is not None else known_regions.get(game_id) or ()


def _board(game_id: str, region: str | None) -> str:
    """The board a read of one board reads: the game's, or its region's (InvalidRegion if the
    game has no such region). A region's board is named by the game's regions: a process that has
    not read the game yet learns them first, from the game's own board."""
    if region is None:
        return game_id
    regions = known_regions.get(game_id)
    if regions is None:
        (rules,) = _read(game_id, None, redis_store.board_rules, [game_id])
        if rules is None:  # the game's own board is not whole: a repair, or 404
            _read(game_id, None, _not_whole, game_id)
        regions = rules.regions
        if regions:
            known_regions.learn(game_id, regions)
    if region not in regions:
        raise InvalidRegion.not_the_games(regions)
    return redis_store.shard(game_id, region, regions)


def _not_whole(game_id: str):
    raise BoardNotBuilt(game_id)


def _learnt(game_id: str, region: str | None, rules: BoardRules) -> bool:
    """A read of one board found a game with regions, known from now on: whether the read was of
    the whole game, which is read on the regions' boards instead."""
    known_regions.learn(game_id, rules.regions)
    return region is None


def _read(game_id: str, region: str | None, read, *args, **kwargs):
    """A read of the game (of its region's board, if `region`). One that finds Redis without a
    board whole asks for the game's rebuild; the reader hears 503 (BoardNotBuilt) meanwhile, 404
    if SQL has no such game, or 400 if the game's header says the region is not one of its own.
    One that finds Redis away (503) asks for a check once it is back."""
    try:
        return read(*args, **kwargs)
    except BoardNotBuilt:
        if region is not None:
            _check_region(game_id, region)
        if not writes.repair_board(game_id):
            raise BoardNotFound(game_id) from None
        raise
    except BoardUnavailable:
        writes.check_redis_when_back()
        raise


def _check_region(game_id: str, region: str) -> None:
    (rules,) = redis_store.board_rules([game_id])
    if rules is not None and region not in rules.regions:
        raise InvalidRegion.not_the_games(rules.regions)


def _standings(rules: BoardRules, first_rank: int, window: list[tuple[str, int]]) -> list[Standing]:
    """(member, rank value) pairs, best first, as standings from first_rank."""
    base, sign = rules.value_base()
    return [Standing(first_rank + i, member, base + sign * value) for i, (member, value) in enumerate(window)]


def _standing(rules: BoardRules, rank: int, entry: regional.Located) -> Standing:
    return Standing(rank, entry.member, rules.value_of(entry.encoded >> SEQUENCE_BITS), entry.region)
