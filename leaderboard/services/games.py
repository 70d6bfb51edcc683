"""Games (boards): creating and changing them, and publishing their rules to Redis for reads."""

import logging
from functools import partial

from django.db import DatabaseError, IntegrityError, transaction

from .. import redis_store
from ..exceptions import BoardNotFound, BoardUnavailable, GameAlreadyExists, InvalidGame
from ..limits import ENCODABLE_POINTS_MAX
from ..models import Board

logger = logging.getLogger(__name__)

# Settings a game may change after creation; its rules (order, operator, range) stay fixed.
MUTABLE_FIELDS = ("name", "max_points_per_second", "max_session_seconds")


def create_game(
    *,
    slug: str,
    name: str,
    order: str,
    operator: str,
    min_score: int,
    max_score: int,
    max_points_per_second: float | None,
    max_session_seconds: int,
) -> Board:
    _check_range(min_score, max_score)
    board = Board(
        slug=slug,
        name=name,
        order=order,
        operator=operator,
        min_points=min_score,
        max_points=max_score,
        max_points_per_second=max_points_per_second,
        max_session_seconds=max_session_seconds,
    )
    try:
        with transaction.atomic():
            board.save()
            transaction.on_commit(partial(_publish, board, new=True), robust=True)
    except IntegrityError:
        raise GameAlreadyExists(slug) from None
    return board


def update_game(*, slug: str, **changes) -> Board:
    """Change a game's name, rate limit or session length."""
    with transaction.atomic():
        board = game(slug=slug, lock=True)
        for field, value in changes.items():
            if field not in MUTABLE_FIELDS:
                raise InvalidGame({field: "cannot change once the game exists"})
            setattr(board, field, value)
        board.save(update_fields=list(changes) or None)
    return board


def game(*, slug: str, lock: bool = False) -> Board:
    boards = Board.objects.select_for_update() if lock else Board.objects
    try:
        return boards.get(slug=slug)
    except Board.DoesNotExist:
        raise BoardNotFound(slug) from None


# Games by slug, for recording scores. A game is never deleted, and what scoring reads of it
# (its id and rules) never changes once it exists, so each process looks a game up once.
_scoring_boards: dict[str, Board] = {}


def scoring_game(*, slug: str) -> Board:
    """The game, as recording a score needs it; BoardNotFound if there is none."""
    board = _scoring_boards.get(slug)
    if board is None:
        board = _scoring_boards[slug] = game(slug=slug)
    return board


def forget_scoring_games() -> None:
    """For tests, whose databases come and go under one process."""
    _scoring_boards.clear()


def games() -> list[Board]:
    return list(Board.objects.order_by("slug"))


def rules_of(board: Board) -> dict[str, str | int]:
    return {"order": board.order, "operator": board.operator, "min": board.min_points, "max": board.max_points}


def restore_lost_rules(slug: str) -> bool:
    """If the game exists but Redis had no rules for it, publish them again; True if it exists."""
    board = Board.objects.filter(slug=slug).first()
    if board is None:
        return False
    logger.warning("rules of %s were missing from redis", slug, extra={"event": "rules_restored", "board": slug})
    _publish(board)
    return True


def publish_all_rules() -> None:
    """Write every board's rules to Redis (at worker start: Redis may have lost them)."""
    try:
        boards = list(Board.objects.all())
    except DatabaseError as error:
        logger.error("could not read the games to publish their rules: %s", error)
        return
    for board in boards:
        _publish(board)


def _publish(board: Board, new: bool = False) -> None:
    try:
        redis_store.publish_rules(board.slug, rules_of(board))
        if new:
            redis_store.mark_built(board.slug)
    except BoardUnavailable as error:
        logger.warning("could not publish the rules of %s to redis: %s", board.slug, error)


def _check_range(min_score: int, max_score: int) -> None:
    if max_score < min_score:
        raise InvalidGame({"max_score": "must not be below min_score"})
    if max_score - min_score > ENCODABLE_POINTS_MAX:
        raise InvalidGame({"max_score": f"max_score - min_score must be at most {ENCODABLE_POINTS_MAX:,}"})
