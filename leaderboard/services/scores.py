"""Recording a score: the SQL commit acknowledges it, the Redis mirror follows the commit.

A score is a few short statements written as SQL, not built by the ORM: they run while the
transaction holds SQLite's one write lock, so their cost is what every other writer waits on.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db import connection, transaction
from django.utils import timezone

from .. import redis_store
from ..exceptions import LeaderboardError, PointsOutOfRange, TotalOutOfRange
from ..limits import DEFAULT_BOARD_SLUG
from ..metrics import SCORE_WRITES
from ..models import Board, PlaySession
from . import write_server
from .games import scoring_game
from .group_commit import commit_now, run_write
from .mirror import mirror_entry


@dataclass(frozen=True, slots=True)
class RecordedScore:
    id: int
    points: int
    achieved_at: datetime


def submit_score(*, username: str, points: int, board_slug: str = DEFAULT_BOARD_SLUG) -> RecordedScore:
    """The seed API's write: record a score on a board by its slug, committed with the others
    that arrive with it (run_write keeps a failing one from taking the others with it)."""
    board = scoring_game(slug=board_slug)
    if not board.rules.accepts(points):
        raise PointsOutOfRange(points, board.min_points, board.max_points)
    try:
        written = write_server.send(board.slug, username, points)
    except write_server.Refused:
        written = None  # nothing was written: written here, it raises the refusal's own error
    if written is None:
        score = run_write(partial(_record, board, username, points, None))
        SCORE_WRITES.labels("worker").inc()
        return score
    SCORE_WRITES.labels("write_server").inc()
    return RecordedScore(written[0], points, written[1])


def write_submissions(submissions: list[tuple[str, str, int]]) -> list[RecordedScore | Exception]:
    """The write server's work: workers' (board slug, username, points) submissions as one group;
    each one's score once committed and mirrored, or the error that kept it from being written."""
    outcomes: list[RecordedScore | Exception | None] = []
    works = []
    for board_slug, username, points in submissions:
        try:
            works.append(partial(_record, scoring_game(slug=board_slug), username, points, None))
            outcomes.append(None)  # the group's, below
        except LeaderboardError as error:  # no such board: refused, as in a worker
            outcomes.append(error)
    written = iter(commit_now(works))
    return [next(written) if outcome is None else outcome for outcome in outcomes]


def record_score(*, board: Board, username: str, points: int, session: PlaySession | None = None) -> RecordedScore:
    """Store one submission and the entry it makes, in a savepoint of its own; mirror the entry
    once committed."""
    with transaction.atomic():
        return _record(board, username, points, session)


def _record(board: Board, username: str, points: int, session: PlaySession | None) -> RecordedScore:
    """record_score's work, inside a transaction or savepoint the caller holds."""
    if not board.rules.accepts(points):
        raise PointsOutOfRange(points, board.min_points, board.max_points)
    now = timezone.now()
    with connection.cursor() as cursor:
        player_id = _locked_player_id(cursor, username, now)
        score = _insert_score(cursor, board, player_id, points, now, session)
        value, changed = _apply(cursor, board, player_id, score)
    encoded = redis_store.encode(board.rules.rank_value(value), score.id) if changed else None
    transaction.on_commit(partial(mirror_entry, board, username, encoded, score.id), robust=True)
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


def _insert_score(
    cursor, board: Board, player_id: int, points: int, now: datetime, session: PlaySession | None
) -> RecordedScore:
    cursor.execute(
        "INSERT INTO leaderboard_score (board_id, player_id, points, achieved_at, session_id) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        [board.id, player_id, points, connection.ops.adapt_datetimefield_value(now), _session_key(session)],
    )
    (score_id,) = cursor.fetchone()
    return RecordedScore(score_id, points, now)


def _session_key(session: PlaySession | None):
    return PlaySession._meta.pk.get_db_prep_value(session.pk, connection) if session else None


def _apply(cursor, board: Board, player_id: int, score: RecordedScore) -> tuple[int, bool]:
    """Move the player's entry as the board's operator says: (its value, whether it changed)."""
    cursor.execute(
        "SELECT id, value FROM leaderboard_boardentry WHERE board_id = %s AND player_id = %s" + _for_update(),
        [board.id, player_id],
    )
    row = cursor.fetchone()
    current = row[1] if row else None
    value = board.rules.next_value(current, score.points)
    if not board.rules.accepts(value):
        raise TotalOutOfRange(value, board.min_points, board.max_points)
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
