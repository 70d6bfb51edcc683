"""Recording a score: the SQL commit acknowledges it, the Redis mirror follows the commit."""

from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import redis_store
from ..exceptions import PointsOutOfRange, TotalOutOfRange
from ..limits import DEFAULT_BOARD_SLUG
from ..models import Board, BoardEntry, Player, PlaySession, Score
from .games import game
from .mirror import mirror_entry


def submit_score(*, username: str, points: int, board_slug: str = DEFAULT_BOARD_SLUG) -> Score:
    """The seed API's write: record a score on a board by its slug."""
    with transaction.atomic():
        return record_score(board=game(slug=board_slug), username=username, points=points)


def record_score(*, board: Board, username: str, points: int, session: PlaySession | None = None) -> Score:
    """Store one submission and the entry it makes; mirror the entry once committed."""
    if not board.rules.accepts(points):
        raise PointsOutOfRange(points, board.min_points, board.max_points)
    with transaction.atomic():
        # get_or_create inserts inside a savepoint and re-reads on IntegrityError, so the
        # unique constraint settles concurrent first submissions of one username. The row lock
        # (PostgreSQL; SQLite's IMMEDIATE transactions already run one at a time) makes one
        # player's scores take their ids in the order they are applied to the entry.
        player, _created = Player.objects.select_for_update().get_or_create(username=username)
        score = Score.objects.create(board=board, player=player, points=points, session=session)
        entry, changed = _apply(board, player, score)
        encoded = redis_store.encode(board.rules.rank_value(entry.value), entry.reached_seq) if changed else None
        transaction.on_commit(partial(mirror_entry, board, username, encoded, score.id), robust=True)
    return score


def _apply(board: Board, player: Player, score: Score) -> tuple[BoardEntry, bool]:
    """Move the player's entry as the board's operator says; True if its value changed."""
    entry = _locked_entry(board, player)
    current = entry.value if entry else None
    value = board.rules.next_value(current, score.points)
    if not board.rules.accepts(value):
        raise TotalOutOfRange(value, board.min_points, board.max_points)
    if entry is None:
        entry = _create_entry(board, player, value, score.id)
        if entry is not None:
            return entry, True
        return _apply(board, player, score)  # a concurrent first score made the entry meanwhile
    entry.submissions += 1
    entry.updated_at = score.achieved_at
    changed = value != current
    if changed:
        entry.value, entry.reached_seq = value, score.id
    entry.save(update_fields=["value", "reached_seq", "submissions", "updated_at"])
    return entry, changed


def _locked_entry(board: Board, player: Player) -> BoardEntry | None:
    return BoardEntry.objects.select_for_update().filter(board=board, player=player).first()


def _create_entry(board: Board, player: Player, value: int, sequence: int) -> BoardEntry | None:
    try:
        with transaction.atomic():
            return BoardEntry.objects.create(
                board=board, player=player, value=value, reached_seq=sequence, updated_at=timezone.now()
            )
    except IntegrityError:
        return None
