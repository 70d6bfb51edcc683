"""Submitting a score: the SQL commit acknowledges it, the Redis mirror follows the commit."""

from functools import partial

from django.db import transaction

from ..exceptions import BoardNotFound, PointsOutOfRange
from ..limits import DEFAULT_BOARD_SLUG
from ..models import Board, Player, Score
from .mirror import mirror_score


def submit_score(*, username: str, points: int, board_slug: str = DEFAULT_BOARD_SLUG) -> Score:
    """Store one submission durably and mirror it to the board once committed."""
    with transaction.atomic():
        board = _board(board_slug)
        if not board.min_points <= points <= board.max_points:
            raise PointsOutOfRange(points, board.min_points, board.max_points)
        # get_or_create inserts inside a savepoint and re-reads on IntegrityError, so the
        # unique constraint settles concurrent first submissions of one username.
        player, _created = Player.objects.get_or_create(username=username)
        score = Score.objects.create(board=board, player=player, points=points)
        transaction.on_commit(partial(mirror_score, board.slug, username, points, score.id), robust=True)
    return score


def _board(slug: str) -> Board:
    try:
        return Board.objects.get(slug=slug)
    except Board.DoesNotExist:
        raise BoardNotFound(slug) from None
