"""Reads of a closed period's final standings, in the shapes of the live reads (selectors.py).

They are stored in SQL with their ranks, overall and within a region, so a page is one range of
the (period, rank) index and a neighbourhood a lookup of the player and one range: O(log n + k),
with no count and no scan of the period.
"""

from __future__ import annotations

from django.db import connection

from . import selectors
from .exceptions import BoardNotFound, InvalidRegion, PeriodNotFound, PlayerNotRanked
from .models import Board, Period, PeriodStanding, Player

CURRENT = "current"
STANDINGS = PeriodStanding._meta.db_table
PLAYERS = Player._meta.db_table
RANK = connection.ops.quote_name("rank")


def closed_period(*, game_id: str, period: int | str | None) -> Period | None:
    """The closed period a read names; None for the open one ('current', the open period's id, or
    no period named). PeriodNotFound if the game has no such period."""
    if period is None or period == CURRENT:
        return None
    found = Period.objects.filter(id=period, board__slug=game_id).select_related("board").first()
    if found is None:
        if not Board.objects.filter(slug=game_id).exists():
            raise BoardNotFound(game_id)
        raise PeriodNotFound(str(period))
    return None if found.status == Period.Status.OPEN else found


def page(period: Period, *, top: int, offset: int, region: str | None = None) -> selectors.Page:
    """`top` standings from rank offset + 1, and how many players the period (or region) had."""
    column, scope, args = _ranked_by(period, region)
    with connection.cursor() as cursor:
        cursor.execute(
            f"{_SELECT.format(column=column)} WHERE {scope} AND s.{column} > %s ORDER BY s.{column} LIMIT %s",
            [*args, offset, top],
        )
        found = [_standing(period, region, row) for row in cursor.fetchall()]
    return selectors.Page(found, _total(period, region))


def neighbourhood(
    period: Period, *, player_id: str, context: int, region: str | None = None
) -> selectors.Neighbourhood:
    """The player's final standing with up to `context` on each side; PlayerNotRanked if the
    player had none in the period (or in the region)."""
    column, scope, args = _ranked_by(period, region)
    # A late session score may move the player between the two reads (each its own snapshot on
    # PostgreSQL): then the window is read again.
    for _attempt in range(3):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT s.{column} FROM {STANDINGS} s JOIN {PLAYERS} p ON p.id = s.player_id "
                f"WHERE {scope} AND p.username = %s",
                [*args, player_id],
            )
            mine = cursor.fetchone()
            if mine is None:
                raise PlayerNotRanked(player_id)
            cursor.execute(
                f"{_SELECT.format(column=column)} WHERE {scope} AND s.{column} BETWEEN %s AND %s ORDER BY s.{column}",
                [*args, mine[0] - context, mine[0] + context],
            )
            rows = cursor.fetchall()
        at = next((i for i, row in enumerate(rows) if row[1] == player_id), None)
        if at is not None:
            break
    else:
        raise PlayerNotRanked(player_id)
    window = [_standing(period, region, row) for row in rows]
    regional_rank = rows[at][4] if region is None and period.board.regions else None
    percentile = selectors.percentile(window[at].rank, _total(period, region))
    return selectors.Neighbourhood(window[at], percentile, window[:at], window[at + 1 :], regional_rank)


_SELECT = (
    f"SELECT s.{{column}}, p.username, s.value, s.region, s.region_rank FROM {STANDINGS} s "
    f"JOIN {PLAYERS} p ON p.id = s.player_id"
)


def _ranked_by(period: Period, region: str | None) -> tuple[str, str, list]:
    """(the rank column, the WHERE clause, its arguments) of a read of the period, or of a region."""
    if region is None:
        return RANK, "s.period_id = %s", [period.id]
    regions = period.board.regions or []
    if region not in regions:
        raise InvalidRegion.not_the_games(tuple(regions))
    return "region_rank", "s.period_id = %s AND s.region = %s", [period.id, region]


def _standing(period: Period, region: str | None, row) -> selectors.Standing:
    rank, player, value, in_region, _region_rank = row
    shown_region = in_region if region is None and period.board.regions else None
    return selectors.Standing(rank, player, value, shown_region)


def _total(period: Period, region: str | None) -> int:
    return period.players if region is None else period.region_players.get(region, 0)
