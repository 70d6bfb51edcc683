"""Mirroring committed entries into Redis, and catching up on the ones Redis missed.

A mirror that fails leaves a PendingMirror row; a background thread in the same process
replays the backlog once Redis answers again, then rebuilds every board if Redis restarted or
lost data meanwhile. A replay writes the entry's current state from SQL, and Redis keeps only
newer states, so replays are idempotent.
"""

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from .. import redis_store
from ..exceptions import BoardUnavailable
from ..models import Board, BoardEntry, PendingMirror, Score
from .games import publish_all_rules, rules_of

logger = logging.getLogger(__name__)

# A committed score's mirror: (board, username, encoded entry or None if unchanged, score id).
Mirror = tuple[Board, str, int | None, int]
_gathering = threading.local()
_catch_up_lock = threading.Lock()
_catch_up_running = False
_catch_up_wanted = False
_replay_recent_wanted = False
_redis_failing = False  # since a mirror failed, until a catch-up round drains the backlog
REPLAY_LOCK_SECONDS = 10


def mirror_entry(board: Board, username: str, encoded: int | None, score_id: int) -> None:
    """Runs after commit: write the player's entry (if it changed) to the board and drop their
    cached profile; if Redis fails, queue the score for the catch-up. Inside mirrors_gathered(),
    the mirror waits to go with the others."""
    gathered = getattr(_gathering, "mirrors", None)
    if gathered is None:
        write_mirrors([(board, username, encoded, score_id)])
    else:
        gathered.append((board, username, encoded, score_id))


@contextmanager
def mirrors_gathered() -> Iterator[list[Mirror]]:
    """The mirrors this thread starts within are gathered in the list it yields, to go to Redis
    together, in one pipeline, through write_mirrors()."""
    _gathering.mirrors = gathered = []
    try:
        yield gathered
    finally:
        _gathering.mirrors = None


def write_mirrors(mirrors: list[Mirror], *, behind_backlog: bool = False) -> None:
    """Write the mirrors to Redis in one pipeline; if Redis fails, queue them for the catch-up.
    behind_backlog: once Redis has failed, queue them at once, without waiting on Redis, until
    the catch-up has drained the backlog into it again."""
    global _redis_failing
    if not mirrors:
        return
    if behind_backlog and _redis_failing:
        _queue([score_id for _board, _name, encoded, score_id in mirrors if encoded is not None])
        return
    try:
        redis_store.record_submissions([(b.slug, rules_of(b), name, encoded) for b, name, encoded, _id in mirrors])
    except BoardUnavailable as error:
        score_ids = [score_id for _board, _name, encoded, score_id in mirrors if encoded is not None]
        logger.warning(
            "redis mirror failed for scores %s, queued for catch-up: %s", score_ids, error,
            extra={"event": "redis_unavailable", "score_ids": score_ids},
        )  # fmt: skip
        if score_ids:
            _redis_failing = True  # the catch-up _queue starts clears it
            _queue(score_ids)


def _queue(score_ids: list[int]) -> None:
    try:
        PendingMirror.objects.bulk_create([PendingMirror(score_id=i) for i in score_ids], ignore_conflicts=True)
    except DatabaseError:
        # The scores themselves are committed; `sync_redis --check` reports them and `sync_redis` repairs them.
        logger.exception("scores %s are committed but neither mirrored nor queued", score_ids)
    schedule_catch_up()


def drain_pending_mirrors(*, batch_size: int = 1000) -> int:
    """Replay the entries of every queued score into Redis; return how many. Raises BoardUnavailable."""
    drained = 0
    while batch := list(PendingMirror.objects.order_by("score_id").values_list("score_id", flat=True)[:batch_size]):
        _write_current_entries(batch)
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

    This repairs mirrors that never ran and left no trace (a worker killed between its commit and
    its mirror) without a full rebuild. Redis keeps only newer states, so it changes nothing else.
    """
    since = timezone.now() - timedelta(seconds=seconds)
    recent = BoardEntry.objects.filter(updated_at__gte=since).select_related("board", "player").order_by("id")
    replayed = 0
    for board, entries in _by_board(recent.iterator(chunk_size=1000)).items():
        redis_store.publish_rules(board.slug, rules_of(board))
        redis_store.set_entries(board.slug, entries)
        replayed += len(entries)
    if replayed:
        logger.info("replayed %s recent entries", replayed, extra={"event": "catch_up_recent", "replayed": replayed})
    return replayed


def mirror_current_entry(*, score_id: int) -> None:
    """Write the current entry of this score's player to Redis from SQL, for a reader that must
    not wait on another request's mirror. Raises BoardUnavailable."""
    _write_current_entries([score_id])


def _write_current_entries(score_ids: list[int]) -> None:
    """The current entries of these scores' players, from SQL to Redis, as a mirror writes them."""
    for board, entries in _current_entries(score_ids).items():
        redis_store.publish_rules(board.slug, rules_of(board))
        redis_store.set_entries(board.slug, entries)
        redis_store.forget_profiles([username for _encoded, username in entries])


def _by_board(entries) -> dict[Board, list[redis_store.Entry]]:
    boards: dict[Board, list[redis_store.Entry]] = {}
    for entry in entries:
        encoded = redis_store.encode(entry.board.rules.rank_value(entry.value), entry.reached_seq)
        boards.setdefault(entry.board, []).append((encoded, entry.player.username))
    return boards


def _current_entries(score_ids: list[int]) -> dict[Board, list[redis_store.Entry]]:
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


def start_serving_process() -> None:
    """At a server process's start: replay the scores Redis may have missed (queued ones, and
    recent ones whose mirror may never have run if the process before it died) and republish the
    games' rules; then free this thread's database connection, which serves no request."""
    schedule_catch_up(replay_recent=True)
    publish_all_rules()
    connections.close_all()


def schedule_catch_up(*, replay_recent: bool = False) -> None:
    """Make sure a catch-up thread runs in this process until the backlog is empty; with
    replay_recent, its next round also replays the entries changed in the last moments."""
    global _catch_up_running, _catch_up_wanted, _replay_recent_wanted
    with _catch_up_lock:
        _catch_up_wanted = True
        _replay_recent_wanted = _replay_recent_wanted or replay_recent
        if _catch_up_running:
            return
        _catch_up_running = True
    threading.Thread(target=_catch_up_loop, name="speedrank-catch-up", daemon=True).start()


def catch_up_running() -> bool:
    return _catch_up_running


def _catch_up_loop() -> None:
    global _catch_up_running
    try:
        while True:
            time.sleep(settings.MIRROR_CATCH_UP_INTERVAL)
            if _drain_round_finished():
                return
    finally:
        with _catch_up_lock:
            _catch_up_running = False
            restart = _catch_up_wanted
        connections.close_all()
        if restart:
            schedule_catch_up()


def _drain_round_finished() -> bool:
    """One round: True once the backlog is drained and no failure since asked for another."""
    global _catch_up_wanted
    with _catch_up_lock:
        _catch_up_wanted = False
    global _redis_failing
    if not _try_drain():
        return False
    _redis_failing = False  # Redis took the backlog: new mirrors try it again
    with _catch_up_lock:
        return not _catch_up_wanted


def _try_drain() -> bool:
    from .recovery import recover_if_needed  # recovery rebuilds through services that import this module

    global _replay_recent_wanted
    try:
        drain_pending_mirrors()
        # Workers that start together replay once, not once each; a worker that starts later, as
        # the replacement of one that died, replays again.
        if _replay_recent_wanted and redis_store.take_lock("replay-recent", REPLAY_LOCK_SECONDS):
            replay_recent_entries(seconds=settings.MIRROR_REPLAY_SECONDS)
        _replay_recent_wanted = False
        recover_if_needed()
    except BoardUnavailable:
        return False
    except DatabaseError:
        logger.exception("catch-up could not read the backlog")
        return False
    return True
