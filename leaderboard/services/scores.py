"""Recording a score: the SQL commit acknowledges it, the Redis mirror follows the commit.

A score is a few short statements written as SQL, not built by the ORM: they run while the
transaction holds SQLite's one write lock, so their cost is what every other writer waits on.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from .. import redis_store, writes
from ..exceptions import PointsOutOfRange, TotalOutOfRange
from ..limits import DEFAULT_BOARD_SLUG
from ..models import PlaySession
from ..writes import AfterCommit, Work
from .games import ScoringGame, scoring_games


@dataclass(slots=True)
class RecordedScore:
    """A committed score; `rank` is the player's rank once it is mirrored (None if Redis could not say)."""

    id: int
    points: int
    achieved_at: datetime
    rank: int | None = None


@dataclass(frozen=True)
class RecordScore(Work):
    """A score on a board, by the board's slug."""

    board: str
    username: str
    points: int

    def apply(self, after: AfterCommit) -> RecordedScore:
        return record(scoring_games.get(self.board), self.username, self.points, after=after)


def submit_score(*, username: str, points: int, board_slug: str = DEFAULT_BOARD_SLUG) -> RecordedScore:
    """The seed API's write: record a score on a board by its slug."""
    check_points(scoring_games.get(board_slug), points)  # refused here, before anything is sent
    return writes.commit(RecordScore(board_slug, username, points))


def check_points(board: ScoringGame, points: int) -> None:
    if not board.rules.accepts(points):
        raise PointsOutOfRange(points, board.rules.min_score, board.rules.max_score)


def record(
    board: ScoringGame, username: str, points: int, *, after: AfterCommit, session_id: str | None = None
) -> RecordedScore:
    """Store one submission and the entry it makes, inside the caller's transaction; the entry is
    mirrored once it commits, and the score learns the player's rank then."""
    check_points(board, points)
    now = timezone.now()
    with connection.cursor() as cursor:
        player_id = _locked_player_id(cursor, username, now)
        score = _insert_score(cursor, board, player_id, points, now, session_id)
        value, changed = _apply(cursor, board, player_id, score)
    encoded = redis_store.encode(board.rules.rank_value(value), score.id) if changed else None
    after.mirror(redis_store.MirroredEntry(board.slug, board.rules, username, encoded), score_id=score.id, ranked=score)
    return score


def _locked_player_id(cursor, username: str, now: datetime) -> int:
    # The unique constraint settles concurrent first submissions of one name. The row lock
    # (PostgreSQL; SQLite's IMMEDIATE transactions already run one at a time) makes one
    # player's scores take their ids in the order they are applied to the entry.
    cursor.execute(
        "INSERT INTO leaderboard_player (username, created_at) VALUES (%s, %s) ON CONFLICT (username) DO NOTHING",
        [username, connection.ops.adapt_datetimefield_value(now)],
    )
    cursor.execute(f"SELECT id FROM leaderboard_player WHERE username = %s{_for_update()}", [username])
    return cursor.fetchone()[0]


def _insert_score(cursor, board: ScoringGame, player_id: int, points: int, now: datetime, session_id) -> RecordedScore:
    cursor.execute(
        "INSERT INTO leaderboard_score (board_id, player_id, points, achieved_at, session_id) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        [board.id, player_id, points, connection.ops.adapt_datetimefield_value(now), _session_key(session_id)],
    )
    (score_id,) = cursor.fetchone()
    return RecordedScore(score_id, points, now)


def _session_key(session_id: str | None):
    return PlaySession._meta.pk.get_db_prep_value(session_id, connection) if session_id else None


def _apply(cursor, board: ScoringGame, player_id: int, score: RecordedScore) -> tuple[int, bool]:
    """Move the player's entry as the board's operator says: (its value, whether it changed)."""
    cursor.execute(
        "SELECT id, value FROM leaderboard_boardentry WHERE board_id = %s AND player_id = %s" + _for_update(),
        [board.id, player_id],
    )
    row = cursor.fetchone()
    current = row[1] if row else None
    value = board.rules.next_value(current, score.points)
    if not board.rules.accepts(value):
        raise TotalOutOfRange(value, board.rules.min_score, board.rules.max_score)
    updated_at = connection.ops.adapt_datetimefield_value(score.achieved_at)
    if row is None:
        # ON CONFLICT: a concurrent first score (PostgreSQL) made the entry meanwhile; apply again.
        cursor.execute(
            "INSERT INTO leaderboard_boardentry (board_id, player_id, value, reached_seq, submissions, updated_at) "
            "VALUES (%s, %s, %s, %s, 1, %s) ON CONFLICT (board_id, player_id) DO NOTHING RETURNING id",
            [board.id, player_id, value, score.id, updated_at],
        )
        return (value, True) if cursor.fetchone() else _apply(cursor, board, player_id, score)
    changed = value != current
    cursor.execute(
        "UPDATE leaderboard_boardentry SET submissions = submissions + 1, updated_at = %s"
        + (", value = %s, reached_seq = %s" if changed else "")
        + " WHERE id = %s",
        [updated_at, *((value, score.id) if changed else ()), row[0]],
    )
    return value, changed


def _for_update() -> str:
    return " FOR UPDATE" if connection.features.has_select_for_update else ""
