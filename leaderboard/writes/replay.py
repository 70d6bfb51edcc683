"""Replaying committed entries from SQL into Redis: the queue of scores whose mirror failed, and
the entries changed lately, whose mirror may never have run. Redis keeps only newer states, so a
replay is idempotent."""

import logging
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from .. import redis_store
from ..models import BoardEntry, PendingMirror, Score

logger = logging.getLogger(__name__)


def queue_pending(score_ids: list[int]) -> None:
    """Queue committed scores whose mirror failed, for the catch-up."""
    try:
        PendingMirror.objects.bulk_create([PendingMirror(score_id=i) for i in score_ids], ignore_conflicts=True)
    except DatabaseError:
        # The scores themselves are committed; `sync_redis --check` reports them and `sync_redis` repairs them.
        logger.exception("scores %s are committed but neither mirrored nor queued", score_ids)


def drain_pending_mirrors(*, batch_size: int = 1000) -> int:
    """Replay the entries of every queued score into Redis; return how many. Raises BoardUnavailable."""
    drained = 0
    while batch := list(PendingMirror.objects.order_by("score_id").values_list("score_id", flat=True)[:batch_size]):
        write_current_entries(batch)
        with transaction.atomic():
            PendingMirror.objects.filter(score_id__in=batch).delete()
        drained += len(batch)
    if drained:
        logger.info(
            "catch-up replayed %s queued scores into redis", drained, extra={"event": "catch_up", "replayed": drained}
        )
    return drained


def replay_recent_entries(*, seconds: int) -> int:
    """Write every entry changed in the last `seconds` to Redis again; return how many.

    This repairs mirrors that never ran and left no trace (a process killed between its commit
    and its mirror) without a full rebuild. Redis keeps only newer states, so it changes nothing else.
    """
    since = timezone.now() - timedelta(seconds=seconds)
    recent = BoardEntry.objects.filter(updated_at__gte=since).select_related("board", "player").order_by("id")
    replayed = 0
    for board, entries in _by_board(recent.iterator(chunk_size=1000)).items():
        redis_store.set_entries(board, entries)
        replayed += len(entries)
    if replayed:
        logger.info("replayed %s recent entries", replayed, extra={"event": "catch_up_recent", "replayed": replayed})
    return replayed


def write_current_entries(score_ids: list[int]) -> None:
    """The current entries of these scores' players, from SQL to Redis, as a mirror writes them.
    Raises BoardUnavailable."""
    for board, entries in _current_entries(score_ids).items():
        redis_store.set_entries(board, entries)
        redis_store.forget_profiles([username for _encoded, username in entries])


def _by_board(entries) -> dict[str, list[redis_store.Entry]]:
    """The entries by the Redis board each is on (its region's, on a game with regions)."""
    boards: dict[str, list[redis_store.Entry]] = {}
    for entry in entries:
        encoded = redis_store.encode(entry.board.rules.rank_value(entry.value), entry.reached_seq)
        board = redis_store.board_of(entry.board.slug, entry.region, entry.board.rules.regions)
        boards.setdefault(board, []).append((encoded, entry.player.username))
    return boards


def _current_entries(score_ids: list[int]) -> dict[str, list[redis_store.Entry]]:
    """The current entry, per board, of each player these scores belong to."""
    players_by_board: dict[int, set[int]] = {}
    for board_id, player_id in Score.objects.filter(id__in=score_ids).values_list("board_id", "player_id"):
        players_by_board.setdefault(board_id, set()).add(player_id)
    entries = []
    for board_id, player_ids in players_by_board.items():
        entries += BoardEntry.objects.filter(board_id=board_id, player_id__in=player_ids).select_related(
            "board", "player"
        )
    return _by_board(entries)
