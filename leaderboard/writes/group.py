"""Group commit, on SQLite: many works in one transaction, so they share one turn at SQLite's
write lock and one WAL sync (synchronous=FULL) instead of taking a turn and a sync each.

A group first runs without a savepoint per work (each is two statements more, and every statement
lets the process's other threads take the GIL while the turn is held). If a work fails, the whole
transaction rolls back and the group runs again with a savepoint per work: the one that fails
rolls back alone and its caller hears why, and the rest commit.
"""

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction

from . import charges
from .turn import WriteTurn
from .work import AfterCommit, Work

logger = logging.getLogger(__name__)

# A work's result: its outcome, or the error that kept it from being committed.
Result = object


def groups_writes() -> bool:
    """Whether this database's writes go in groups: SQLite on a file, with group commit on. Not
    on PostgreSQL, which runs its writers side by side."""
    return connection.vendor == "sqlite" and settings.GROUP_COMMIT_MAX > 1 and not connection.is_in_memory_db()


class _RunIsolated(Exception):
    """A work of the group failed before the commit: the group runs again, each work isolated."""

    def __init__(self, failed: int | None, error: Exception):
        super().__init__(failed, error)
        self.failed, self.error = failed, error


def run_group(works: list[Work], hand_on_turn: Callable[[], None]) -> tuple[list[Result], list[AfterCommit]]:
    """Run the works in one transaction: each one's result, and what the committed ones tell Redis.
    Works over their rate limits are refused first, unwritten (charges.py). hand_on_turn runs the
    moment the transaction has committed."""
    refused = charges.count(works)
    runnable = [work for index, work in enumerate(works) if index not in refused]
    if not runnable:
        return [refused[index] for index in range(len(works))], []
    try:
        results, afters = _run(runnable, hand_on_turn, isolate=None)
    except _RunIsolated as first:  # nothing of the first run stands, and no caller has been answered
        results, afters = _run(runnable, hand_on_turn, isolate=first)
    if refused:
        ran = iter(results)
        results = [refused[index] if index in refused else next(ran) for index in range(len(works))]
    return results, afters


def _run(works: list[Work], hand_on_turn, *, isolate: _RunIsolated | None) -> tuple[list[Result], list[AfterCommit]]:
    results: list[Result] = []
    afters: list[AfterCommit] = []
    committed = []

    def on_commit() -> None:
        committed.append(True)
        hand_on_turn()  # the next writer need not wait for this group's mirrors

    try:
        with transaction.atomic():
            # Registered first, so it runs first after the commit, before any work's own hook.
            transaction.on_commit(on_commit)
            for index, work in enumerate(works):
                after = AfterCommit()
                results.append(_apply(work, after, index, isolate))
                if not isinstance(results[-1], Exception):
                    afters.append(after)
    except _RunIsolated:
        raise
    except Exception as error:  # noqa: BLE001
        if committed:
            logger.exception("an after-commit hook failed; the group's writes are committed")
        elif isolate is not None:
            return [error] * len(works), []
        else:
            raise _RunIsolated(None, error) from error
    return results, afters


def _apply(work: Work, after: AfterCommit, index: int, isolate: _RunIsolated | None) -> Result:
    if isolate is None:
        try:
            return work.apply(after)
        except Exception as error:
            raise _RunIsolated(index, error) from error
    if index == isolate.failed:
        # It runs on the same state as in the first run and fails alike: its error stands, and it
        # is not run again (its refusal may be logged, once).
        return isolate.error
    return _apply_isolated(work, after)


def _apply_isolated(work: Work, after: AfterCommit) -> Result:
    """One work in a savepoint of its own: if it fails, it fails for its caller alone."""
    try:
        with transaction.atomic():
            return work.apply(after)
    except Exception as error:  # noqa: BLE001  the caller's own error, raised where it waits
        if transaction.get_rollback():
            # A failure that a savepoint could not contain: nothing of the group may stand.
            raise DatabaseError("the group's transaction was aborted by one of its works") from error
        return error


class GroupCommitter:
    """A thread of this process that commits what its request threads queue, in groups of up to
    GROUP_COMMIT_MAX. A caller waits for its work's commit and mirror, so every answer is for a
    durable write; one whose work has not begun within SQLite's busy timeout withdraws it and
    hears "database is locked", as a writer waiting on SQLite itself would."""

    def __init__(self, turn: Callable[[], WriteTurn], send: Callable[[list[AfterCommit]], None]):
        self._turn, self._send = turn, send
        self._queue: queue.SimpleQueue[tuple[Work, Future]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def commit(self, work: Work):
        future: Future = Future()
        self._queue.put((work, future))
        self._ensure_running()
        try:
            return future.result(timeout=settings.SQLITE_BUSY_TIMEOUT_SECONDS)
        except FutureTimeout:
            # Still queued (a writer stuck elsewhere holds the turn): withdraw it and answer 503.
            # Already begun: it finishes within SQLite's own busy timeout; wait for its outcome.
            if future.cancel():
                raise OperationalError("database is locked: no write turn within the busy timeout") from None
            return future.result()

    def _ensure_running(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._write_forever, name="speedrank-group-commit", daemon=True)
                self._thread.start()

    def _write_forever(self) -> None:
        while True:
            group = [self._queue.get()]
            try:
                self._write(group)
            except BaseException as error:
                for _work, future in group:  # no caller may wait for ever; the next commit starts a new thread
                    if not future.done():
                        future.set_exception(error)
                raise

    def _write(self, group: list[tuple[Work, Future]]) -> None:
        results, afters = [], []
        try:
            connection.close_if_unusable_or_obsolete()
            with self._turn().held() as hand_on_turn:
                self._gather(group)
                # Works whose callers gave up waiting for the turn are dropped, never written.
                group[:] = [(work, future) for work, future in group if future.set_running_or_notify_cancel()]
                results, afters = run_group([work for work, _ in group], hand_on_turn)
        except Exception as error:  # noqa: BLE001  the turn or the commit failed: nothing of the group stands
            results = [error] * len(group)
        self._send(afters)
        for (_work, future), result in zip(group, results, strict=True):
            if future.done():  # withdrawn by its caller before the group began
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _gather(self, group: list[tuple[Work, Future]]) -> None:
        """Once the turn is ours: the works that came while it was another's join this group."""
        while len(group) < settings.GROUP_COMMIT_MAX:
            try:
                group.append(self._queue.get_nowait())
            except queue.Empty:
                return
