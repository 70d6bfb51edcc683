"""Repairs that reads ask for when Redis is missing what SQL holds: a game's rules, or a whole board."""

import logging

from django.db import DatabaseError

from .. import redis_store
from ..exceptions import BoardUnavailable
from ..models import Board
from .boundary import process_boundary

logger = logging.getLogger(__name__)


def restore_rules(slug: str) -> bool:
    """Redis holds no rules for this game: publish them again if the game exists; True if it does."""
    board = Board.objects.filter(slug=slug).first()
    if board is None:
        return False
    logger.warning("rules of %s were missing from redis", slug, extra={"event": "rules_restored", "board": slug})
    try:
        redis_store.publish_rules(board.slug, board.rules)
    except BoardUnavailable as error:
        logger.warning("could not publish the rules of %s to redis: %s", slug, error)
    return True


def rebuild_lost_boards() -> None:
    """Redis does not hold a whole board (it lost its data): the catch-up's next round rebuilds
    every board, one process at a time."""
    process_boundary.catch_up.schedule()


def publish_all_rules() -> None:
    """Write every game's rules to Redis (a process starting: Redis may have lost them)."""
    try:
        boards = list(Board.objects.all())
    except DatabaseError as error:
        logger.error("could not read the games to publish their rules: %s", error)
        return
    for board in boards:
        try:
            redis_store.publish_rules(board.slug, board.rules)
        except BoardUnavailable as error:
            logger.warning("could not publish the rules of %s to redis: %s", board.slug, error)
            return
