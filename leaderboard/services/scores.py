"""Recording a score: the SQL commit acknowledges it, the Redis mirror follows the commit.
A score is a few short statements written as SQL (rows.py says why)."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from .. import redis_store, writes
from ..exceptions import InvalidRegion, PointsOutOfRange, RegionMismatch, TotalOutOfRange
from ..limits import DEFAULT_BOARD_SLUG
from ..writes import AfterCommit, Work
from . import rows
from .games import ScoringGame, scoring_games


@dataclass(slots=True)
class RecordedScore:
    """A committed score; `rank` is the player's rank once it is mirrored (None if Redis could not say)."""

    id: int
    points: int
    achieved_at: datetime
    rank: int | None = None

    def __reduce__(self):
        # Sent back by the write server for every score: as its values, pickled fast.
        return RecordedScore, (self.id, self.points, self.achieved_at, self.rank)


@dataclass(frozen=True)
class RecordScore(Work):
    """A score on a board, by the board's slug."""

    board: str
    username: str
    points: int
    region: str = ""

    def apply(self, after: AfterCommit) -> RecordedScore:
        return record(scoring_games.get(self.board), self.username, self.points, after=after, region=self.region)


def submit_score(
    *, username: str, points: int, board_slug: str = DEFAULT_BOARD_SLUG, region: str = ""
) -> RecordedScore:
    """The seed API's write: record a score on a board by its slug (in a region, on a game with regions)."""
    board = scoring_games.get(board_slug)
    check_points(board, points)  # refused here, before anything is sent
    check_region(board, region)
    return writes.commit(RecordScore(board_slug, username, points, region))


def check_points(board: ScoringGame, points: int) -> None:
    if not board.rules.accepts(points):
        raise PointsOutOfRange(points, board.rules.min_score, board.rules.max_score)


def check_region(board: ScoringGame, region: str) -> None:
    """A region named ("" for none) must be one of the game's."""
    if region and region not in board.rules.regions:
        raise InvalidRegion.not_the_games(board.rules.regions)


def entry_region(board: ScoringGame, held: str | None, named: str) -> str:
    """The region of the player's entry after a score naming `named` ("" for none), where the
    player's entry is in region `held` (None: no entry yet). The first score on a game with
    regions names the player's region; a later one may only name the same."""
    if not board.rules.regions:
        return ""
    if held is None and not named:
        raise InvalidRegion(
            f"The player's first score must name one of the game's regions: {', '.join(board.rules.regions)}."
        )
    if held is not None and named and named != held:
        raise RegionMismatch(f"The player's region on this game is {held!r}; this score names {named!r}.")
    return held or named


def record(
    board: ScoringGame,
    username: str,
    points: int,
    *,
    after: AfterCommit,
    session_id: str | None = None,
    player_id: int | None = None,
    region: str = "",
) -> RecordedScore:
    """Store one submission and the entry it makes, inside the caller's transaction; the entry is
    mirrored once it commits, and the score learns the player's rank then. `player_id`, if the
    caller knows it (a session's player), saves looking the player up. `region`: the region the
    score names, checked here, under the player's lock, against the region of their entry."""
    check_points(board, points)
    check_region(board, region)
    now = timezone.now()
    with connection.cursor() as cursor:
        if player_id is None:
            player_id = rows.player_id(cursor, username, now, lock=True)
        else:
            rows.lock_player(cursor, player_id)
        score = insert_score(cursor, board, player_id, points, now, session_id)
        value, changed, region = _apply(cursor, board, player_id, score, region)
    encoded = redis_store.encode(board.rules.rank_value(value), score.id) if changed else None
    entry = redis_store.MirroredEntry(
        redis_store.board_of(board.slug, region, board.rules.regions), board.rules, username, encoded
    )
    after.mirror(entry, score_id=score.id, ranked=score)
    return score


def insert_score(cursor, board: ScoringGame, player_id: int, points: int, now: datetime, session_id) -> RecordedScore:
    cursor.execute(
        f"INSERT INTO {rows.SCORES} (board_id, player_id, points, achieved_at, session_id) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        [board.id, player_id, points, rows.to_db(now), rows.session_key(session_id) if session_id else None],
    )
    (score_id,) = cursor.fetchone()
    return RecordedScore(score_id, points, now)


def _apply(cursor, board: ScoringGame, player_id: int, score: RecordedScore, named: str) -> tuple[int, bool, str]:
    """Move the player's entry as the board's operator says: (its value, whether it changed, its
    region)."""
    cursor.execute(
        f"SELECT id, value, region FROM {rows.ENTRIES} WHERE board_id = %s AND player_id = %s{rows.for_update()}",
        [board.id, player_id],
    )
    row = cursor.fetchone()
    current = row[1] if row else None
    region = entry_region(board, row[2] if row else None, named)
    value = board.rules.next_value(current, score.points)
    if not board.rules.accepts(value):
        raise TotalOutOfRange(value, board.rules.min_score, board.rules.max_score)
    updated_at = rows.to_db(score.achieved_at)
    if row is None:
        # ON CONFLICT: a concurrent first score (PostgreSQL) made the entry meanwhile; apply again.
        cursor.execute(
            f"INSERT INTO {rows.ENTRIES} (board_id, player_id, value, reached_seq, submissions, updated_at, region) "
            "VALUES (%s, %s, %s, %s, 1, %s, %s) ON CONFLICT (board_id, player_id) DO NOTHING RETURNING id",
            [board.id, player_id, value, score.id, updated_at, region],
        )
        return (value, True, region) if cursor.fetchone() else _apply(cursor, board, player_id, score, named)
    changed = value != current
    cursor.execute(
        f"UPDATE {rows.ENTRIES} SET submissions = submissions + 1, updated_at = %s"
        + (", value = %s, reached_seq = %s" if changed else "")
        + " WHERE id = %s",
        [updated_at, *((value, score.id) if changed else ()), row[0]],
    )
    return value, changed, region
