"""Seasons: a game's board lives in periods. The open period is what the board's entries (and
Redis) hold; at each boundary of the game's reset calendar, or when an operator asks, a job closes
it: in one transaction its entries move to PeriodStanding with their exact final ranks, its top
three are kept as winners and the next period opens on an empty board; then the board is rebuilt
in Redis from what SQL holds now, and swapped in whole.

Every score lands in exactly one period: the one open when it is committed (the close and the
score serialize on the entry's row; on SQLite, on the one write lock), or, for a session's score,
the one open when its session started, so a run begun before midnight counts where it began.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from .. import writes
from ..archive import CURRENT, RANK, STANDINGS
from ..exceptions import PeriodNotDue, PeriodNotFound, TotalOutOfRange
from ..jobs import job_queue
from ..models import Board, Period
from ..rules import DESC, BoardRules
from ..writes import AfterCommit, Work
from . import rows
from .games import ScoringGame, game
from .scores import RecordedScore, entry_region, insert_score

CLOSE_TIMEOUT_SECONDS = 1800
CLOCK_SLACK_SECONDS = 5
WINNERS = 3
PERIODS = rows.PERIODS


@dataclass(frozen=True, slots=True)
class GameView:
    """A game with its open period."""

    board: Board
    current: Period | None

    @property
    def next_reset_at(self) -> datetime | None:
        return self.current.ends_at if self.current else None


@dataclass(frozen=True, slots=True)
class ClosingPeriod:
    job_id: str
    period_id: int


@dataclass(frozen=True, slots=True)
class ClosedPeriods:
    periods: list[Period]
    next_before: int | None  # the `before` that reads the next page, None on the last


def game_view(slug: str) -> GameView:
    board = game(slug=slug)
    return GameView(board, Period.objects.filter(board=board, status=Period.Status.OPEN).first())


def game_views(boards: list[Board]) -> list[GameView]:
    """Each board with its open period, in one query."""
    open_periods = {p.board_id: p for p in Period.objects.filter(board__in=boards, status=Period.Status.OPEN)}
    return [GameView(board, open_periods.get(board.id)) for board in boards]


# --- closing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueNow(Work):
    """An operator's close: the open period is due now (left as it is if it is due already)."""

    slug: str

    def apply(self, after: AfterCommit) -> int:
        now = timezone.now()
        # A second look: on PostgreSQL, the first may have waited for a close that opened a new one.
        current = _locked_open_period(self.slug) or _locked_open_period(self.slug)
        if current is None:
            raise PeriodNotFound(CURRENT)
        if current.ends_at is None or current.ends_at > now:
            current.ends_at = now
            current.save(update_fields=["ends_at"])
        return current.id


def _locked_open_period(slug: str) -> Period | None:
    return Period.objects.select_for_update(of=("self",)).filter(board__slug=slug, status=Period.Status.OPEN).first()


@dataclass(frozen=True, slots=True)
class Closed:
    board_id: int
    period_id: int
    now: bool  # closed by this run (False: by an earlier one)
    swapped: bool  # the board in Redis swapped for the next period's since it closed


@dataclass(frozen=True)
class ClosePeriod(Work):
    """The period's close, once it is due: its entries archived with their ranks, its winners
    kept, the next period opened. A second run finds it closed; the next period's unique start
    stops a second opening whatever happens."""

    period_id: int

    def apply(self, after: AfterCommit) -> Closed | None:
        period = (
            Period.objects.select_for_update(of=("self",)).filter(id=self.period_id).select_related("board").first()
        )
        if period is None:
            raise PeriodNotFound(str(self.period_id))
        if period.status == Period.Status.CLOSED:
            return Closed(period.board_id, period.id, now=False, swapped=period.swapped)
        now = timezone.now()
        # Only a due period's job is queued; a few seconds' slack for the clocks of other hosts.
        if period.ends_at is None or period.ends_at > now + timedelta(seconds=CLOCK_SLACK_SECONDS):
            raise PeriodNotDue(period.id)  # a failure: retried, and queued again by the sweeper once due
        board = period.board
        with connection.cursor() as cursor:
            _archive(cursor, board, period.id)
            period.players, period.region_players = _counts(cursor, period.id)
            period.winners = _winners(cursor, period.id)
        period.status, period.closed_at = Period.Status.CLOSED, now
        period.save()
        rule = board.reset_rule
        Period.objects.create(
            board=board, starts_at=period.ends_at, opened_at=now,
            ends_at=rule.next_boundary(period.ends_at) if rule else None,
        )  # fmt: skip
        return Closed(board.id, period.id, now=True, swapped=False)


@dataclass(frozen=True)
class MarkSwapped(Work):
    """The board in Redis holds what SQL held after the period closed, or later."""

    period_id: int

    def apply(self, after: AfterCommit) -> None:
        Period.objects.filter(id=self.period_id).update(swapped=True)


def request_close(*, game_id: str) -> ClosingPeriod:
    """An operator's reset: the open period closes now, through the same job as at a boundary."""
    game(slug=game_id)  # BoardNotFound before anything is written
    period_id = writes.commit(DueNow(game_id))
    return ClosingPeriod(_enqueue_close(period_id), period_id)


def close_period(period_id: int) -> bool:
    """The closing job: the period closed in SQL, then the board in Redis swapped for the fresh
    one rebuilt from SQL, and that marked done; a run after one that died between the two (or
    failed to reach Redis) rebuilds it. Any later period already due is queued next. Whether this
    run closed it."""
    closed = writes.commit(ClosePeriod(period_id))
    if not closed.swapped:
        writes.rebuild_board(board=Board.objects.get(id=closed.board_id))
        writes.commit(MarkSwapped(closed.period_id))
    enqueue_due_closes(board_id=closed.board_id)
    return closed.now


def enqueue_due_closes(*, now: datetime | None = None, board_id: int | None = None) -> list[str]:
    """Queue the close of every open period due by `now`, and again that of every closed period
    whose board Redis has not swapped yet (one job per period: its id is the period's; a job that
    failed for good is queued again), and return the jobs' ids. The job workers' sweeper calls it
    every second."""
    due = Period.objects.filter(status=Period.Status.OPEN, ends_at__lte=now or timezone.now())
    unswapped = Period.objects.filter(status=Period.Status.CLOSED, swapped=False)
    if board_id is not None:
        due, unswapped = due.filter(board_id=board_id), unswapped.filter(board_id=board_id)
    ids = [*unswapped.order_by("starts_at").values_list("id", flat=True), *due.values_list("id", flat=True)]
    return [_enqueue_close(period_id) for period_id in ids]


def _enqueue_close(period_id: int) -> str:
    return job_queue.enqueue(close_period, period_id, job_id=f"close-period-{period_id}", timeout=CLOSE_TIMEOUT_SECONDS)


def _archive(cursor, board: Board, period_id: int) -> None:
    """Move every entry of the board into the period's standings, ranked as Redis ranks them
    (better value first, then whoever reached it first), and on a game with regions also ranked
    within their region. On PostgreSQL one statement moves exactly the rows it deletes, so a score
    committed meanwhile is either moved or stays for the next period; SQLite runs one writer."""
    order = "DESC" if board.order == DESC else "ASC"
    ranked = (
        f"ROW_NUMBER() OVER (ORDER BY value {order}, reached_seq), CASE WHEN region = '' THEN NULL "
        f"ELSE ROW_NUMBER() OVER (PARTITION BY region ORDER BY value {order}, reached_seq) END"
    )
    columns = "player_id, value, reached_seq, submissions, region"
    insert = f"INSERT INTO {STANDINGS} (period_id, {columns}, {RANK}, region_rank) SELECT %s, {columns}, {ranked}"
    if connection.vendor == "postgresql":
        moved = f"WITH moved AS (DELETE FROM {rows.ENTRIES} WHERE board_id = %s RETURNING {columns}) "
        cursor.execute(f"{moved}{insert} FROM moved", [board.id, period_id])
    else:
        cursor.execute(f"{insert} FROM {rows.ENTRIES} WHERE board_id = %s", [period_id, board.id])
        cursor.execute(f"DELETE FROM {rows.ENTRIES} WHERE board_id = %s", [board.id])


def _counts(cursor, period_id: int) -> tuple[int, dict[str, int]]:
    cursor.execute(f"SELECT region, COUNT(*) FROM {STANDINGS} WHERE period_id = %s GROUP BY region", [period_id])
    counted = dict(cursor.fetchall())
    return sum(counted.values()), {region: n for region, n in sorted(counted.items()) if region}


def _winners(cursor, period_id: int) -> list[dict]:
    cursor.execute(
        f"SELECT s.{RANK}, p.username, s.value FROM {STANDINGS} s JOIN {rows.PLAYERS} p ON p.id = s.player_id "
        f"WHERE s.period_id = %s AND s.{RANK} <= %s ORDER BY s.{RANK}",
        [period_id, WINNERS],
    )
    return [{"rank": rank, "player_id": player, "score": value} for rank, player, value in cursor.fetchall()]


# --- a session's score after its period closed -----------------------------------------------------


def period_of_session(cursor, board_id: int, started_at: datetime) -> int | None:
    """The closed period a session started in, or None if it started in the open one. The open
    period's row is share-locked (PostgreSQL), so a close running now finishes first and the
    score is judged against the period it opened; SQLite runs one writer."""
    open_since = _open_since(cursor, board_id) or _open_since(cursor, board_id)
    if open_since is None or started_at >= open_since:
        return None
    cursor.execute(
        f"SELECT id FROM {PERIODS} WHERE board_id = %s AND opened_at <= %s ORDER BY opened_at DESC LIMIT 1",
        [board_id, rows.to_db(started_at)],
    )
    found = cursor.fetchone()
    return found[0] if found else None


def _open_since(cursor, board_id: int) -> datetime | None:
    share = " FOR SHARE" if connection.vendor == "postgresql" else ""
    cursor.execute(f"SELECT opened_at FROM {PERIODS} WHERE board_id = %s AND status = 'open'{share}", [board_id])
    found = cursor.fetchone()
    return rows.from_db(found[0]) if found else None


def record_in_closed_period(
    cursor, board: ScoringGame, period_id: int, player_id: int, points: int, *, session_id: str, region: str
) -> RecordedScore:
    """A session's score in the closed period its session started in: its standing there moved as
    the board's operator says, the ranks between shifted by one, the winners kept up to date.
    The period's row lock makes such scores take turns; `rank` is the player's rank there."""
    cursor.execute(f"SELECT id FROM {PERIODS} WHERE id = %s{rows.for_update()}", [period_id])
    rows.lock_player(cursor, player_id)
    score = insert_score(cursor, board, player_id, points, timezone.now(), session_id)
    cursor.execute(
        f"SELECT id, value, {RANK}, region, region_rank FROM {STANDINGS} WHERE period_id = %s AND player_id = %s",
        [period_id, player_id],
    )
    held = cursor.fetchone()
    standing_id, current, old_rank, held_region, old_region_rank = held or (None, None, None, None, None)
    region = entry_region(board, held_region, region)
    value = board.rules.next_value(current, points)
    if not board.rules.accepts(value):
        raise TotalOutOfRange(value, board.rules.min_score, board.rules.max_score)
    if held is not None and value == current:
        cursor.execute(f"UPDATE {STANDINGS} SET submissions = submissions + 1 WHERE id = %s", [standing_id])
        score.rank = old_rank
        return score
    place = _Place(cursor, period_id, board.rules, player_id, value, score.id)
    rank = place.move(RANK, old_rank)
    region_rank = place.move("region_rank", old_region_rank, region=region) if region else None
    if held is None:
        cursor.execute(
            f"INSERT INTO {STANDINGS} (period_id, player_id, value, reached_seq, submissions, region, {RANK}, "
            "region_rank) VALUES (%s, %s, %s, %s, 1, %s, %s, %s)",
            [period_id, player_id, value, score.id, region, rank, region_rank],
        )
    else:
        cursor.execute(
            f"UPDATE {STANDINGS} SET value = %s, reached_seq = %s, submissions = submissions + 1, {RANK} = %s, "
            "region_rank = %s WHERE id = %s",
            [value, score.id, rank, region_rank, standing_id],
        )
    _kept_up_to_date(cursor, period_id, new_player=held is None, region=region,
                     podium=min(rank, old_rank or rank) <= WINNERS)  # fmt: skip
    score.rank = rank
    return score


@dataclass(frozen=True)
class _Place:
    """Where a player's new standing goes among the others of a closed period."""

    cursor: object
    period_id: int
    rules: BoardRules
    player_id: int
    value: int
    reached_seq: int

    def move(self, column: str, old: int | None, *, region: str = "") -> int:
        """The standing's new rank in `column` (within its region, if given), the others' ranks
        between the old place and the new shifted by one, through negative values, which the
        unique ranks never collide on."""
        scope = "period_id = %s AND region = %s" if region else "period_id = %s"
        args = [self.period_id, region] if region else [self.period_id]
        better = ">" if self.rules.order == DESC else "<"
        self.cursor.execute(
            f"SELECT COUNT(*) FROM {STANDINGS} WHERE {scope} AND player_id <> %s "
            f"AND (value {better} %s OR (value = %s AND reached_seq < %s))",
            [*args, self.player_id, self.value, self.value, self.reached_seq],
        )
        new = self.cursor.fetchone()[0] + 1
        if old is not None:  # out of the way while the others move
            self.cursor.execute(
                f"UPDATE {STANDINGS} SET {column} = 0 WHERE period_id = %s AND player_id = %s",
                [self.period_id, self.player_id],
            )
        if old is None or new < old:  # up: those from the new place to the old one go down one
            shifted, between = 1, f"{column} >= %s" + ("" if old is None else f" AND {column} < %s")
            bounds = [new] if old is None else [new, old]
        elif new > old:  # down: those after the old place up to the new one go up one
            shifted, between, bounds = -1, f"{column} > %s AND {column} <= %s", [old, new]
        else:
            return new
        self.cursor.execute(
            f"UPDATE {STANDINGS} SET {column} = -({column} + %s) WHERE {scope} AND {between}", [shifted, *args, *bounds]
        )
        self.cursor.execute(f"UPDATE {STANDINGS} SET {column} = -{column} WHERE {scope} AND {column} < 0", args)
        return new


def _kept_up_to_date(cursor, period_id: int, *, new_player: bool, region: str, podium: bool) -> None:
    period = Period.objects.get(id=period_id)
    if new_player:
        period.players += 1
        if region:
            period.region_players = period.region_players | {region: period.region_players.get(region, 0) + 1}
    if podium:
        period.winners = _winners(cursor, period_id)
    period.save(update_fields=["players", "region_players", "winners"])


# --- reading ----------------------------------------------------------------------------------------


def closed_periods(*, game_id: str, limit: int, before: int | None = None) -> ClosedPeriods:
    """The game's closed periods, newest first, `limit` at a time, from before the period `before`."""
    board = game(slug=game_id)
    closed = Period.objects.filter(board=board, status=Period.Status.CLOSED).order_by("-starts_at")
    if before is not None:
        anchor = Period.objects.filter(board=board, id=before).values_list("starts_at", flat=True).first()
        if anchor is None:
            raise PeriodNotFound(str(before))
        closed = closed.filter(starts_at__lt=anchor)
    found = list(closed[: limit + 1])
    return ClosedPeriods(found[:limit], found[limit - 1].id if len(found) > limit else None)
