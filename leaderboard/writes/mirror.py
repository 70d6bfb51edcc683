"""Mirroring committed writes into Redis: one pipeline for a group's entries, ranks back to the
outcomes that asked, and the scores queued for the catch-up when Redis fails."""

import logging

from .. import redis_store
from ..exceptions import BoardUnavailable
from .catch_up import CatchUp
from .replay import queue_pending
from .work import AfterCommit

logger = logging.getLogger(__name__)


def send(afters: list[AfterCommit], catch_up: CatchUp, *, behind_backlog: bool = False) -> None:
    """Tell Redis what committed works changed, in one pipeline, and give each outcome that asked
    its rank; if Redis fails, queue the scores for the catch-up. behind_backlog: once Redis has
    failed, queue at once, without waiting on Redis, until the catch-up has drained the backlog."""
    for after in afters:
        _publish_new_boards(after)
    entries = [entry for after in afters for entry in after.entries]
    if not entries:
        return
    if behind_backlog and catch_up.backlogged:
        _queue(_changed_scores(afters), catch_up)
        return
    try:
        ranks = redis_store.mirror(entries)
    except BoardUnavailable as error:
        _fell_behind(_changed_scores(afters), catch_up, error)
        return
    ranked = [outcome for after in afters for outcome in after.ranked]
    for outcome, rank in zip(ranked, ranks, strict=True):
        if outcome is not None:
            outcome.rank = None if rank is None else rank + 1


def _changed_scores(afters: list[AfterCommit]) -> list[int]:
    """The scores whose entries changed: the ones a catch-up must replay."""
    pairs = (
        (score_id, entry) for after in afters for score_id, entry in zip(after.score_ids, after.entries, strict=True)
    )
    return [score_id for score_id, entry in pairs if entry.encoded is not None]


def _fell_behind(score_ids: list[int], catch_up: CatchUp, error: BoardUnavailable) -> None:
    logger.warning(
        "redis mirror failed for scores %s, queued for catch-up: %s", score_ids, error,
        extra={"event": "redis_unavailable", "score_ids": score_ids},
    )  # fmt: skip
    if score_ids:
        catch_up.fell_behind()
        _queue(score_ids, catch_up)


def _queue(score_ids: list[int], catch_up: CatchUp) -> None:
    queue_pending(score_ids)
    catch_up.schedule()


def _publish_new_boards(after: AfterCommit) -> None:
    for slug, rules in after.new_boards:
        try:
            redis_store.publish_board(slug, rules)
        except BoardUnavailable as error:
            # Reads of the game find the board not whole, and the repair they ask for rebuilds it.
            logger.warning("could not publish the rules of %s to redis: %s", slug, error)
