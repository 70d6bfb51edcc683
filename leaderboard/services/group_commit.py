"""Group commit, on SQLite: a writer thread per process runs the queued writes of many requests
in one transaction, so they share one turn at SQLite's write lock and one WAL sync
(synchronous=FULL) instead of taking a turn and a sync each. The writer threads of the server's
processes take turns through a file lock beside the database: the kernel wakes the next one the
moment the lock is free, where SQLite's own busy handler would poll with sleeps of up to 100 ms.

A group first runs without a savepoint per write (each is two statements more, and every
statement lets the process's other threads take the GIL while the turn is held). If a write
fails, the whole transaction rolls back and the group runs again with a savepoint per write:
the one that fails rolls back alone and raises in its caller, and the rest commit.

A caller waits for the commit, so every answer is for a durable write, and for the group's
mirrors, which go to Redis together in one pipeline. A caller whose write has not begun within
SQLite's busy timeout withdraws it and hears "database is locked" (a 503), as a writer waiting
on SQLite itself would.

A caller already inside a transaction runs its write inline, inside that transaction. So does
every caller on PostgreSQL, which runs writers side by side and groups their WAL flushes itself;
one transaction for several players' writes there would lock their rows in no set order, and
two such groups could deadlock.
"""

import fcntl
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction

from .mirror import mirrors_gathered, write_mirrors

logger = logging.getLogger(__name__)

T = TypeVar("T")
Write = tuple[Callable[[], object], Future]

_queue: "queue.SimpleQueue[Write]" = queue.SimpleQueue()
_writer: threading.Thread | None = None
_writer_lock = threading.Lock()
_lock_files: dict[str, int] = {}
TURN_POLL_SECONDS = 0.001


def run_write(work: Callable[[], T]) -> T:
    """Run work() in a transaction, grouped with other requests' writes; return its result."""
    if connection.in_atomic_block or settings.GROUP_COMMIT_MAX <= 1 or connection.vendor != "sqlite":
        with transaction.atomic():
            return work()
    future: Future = Future()
    _queue.put((work, future))
    _start_writer()
    try:
        return future.result(timeout=settings.SQLITE_BUSY_TIMEOUT_SECONDS)
    except FutureTimeout:
        # Still queued (a writer stuck elsewhere holds the turn): withdraw it and answer 503.
        # Already begun: it finishes within SQLite's own busy timeout; wait for its outcome.
        if future.cancel():
            raise OperationalError("database is locked: no write turn within the busy timeout") from None
        return future.result()


def commit_now(works: list[Callable[[], T]]) -> list[T | Exception]:
    """Run the writes as one group in this thread, now (the write server's loop does): each one's
    result once committed and mirrored, or the error that kept it from being committed. Once a
    mirror has failed, the group's mirrors queue for the catch-up rather than each group waiting
    out Redis's timeout in turn."""
    if not works:
        return []
    group: list[Write] = [(work, Future()) for work in works]
    for _work, future in group:
        future.set_running_or_notify_cancel()
    try:
        connection.close_if_unusable_or_obsolete()
        with _write_turn(wait=settings.SQLITE_BUSY_TIMEOUT_SECONDS) as hand_on_turn:
            _commit(group, hand_on_turn, behind_backlog=True)
    except Exception as error:  # noqa: BLE001  each write's caller hears why
        _fail(group, error)
    return [future.exception() or future.result() for _work, future in group]


def _start_writer() -> None:
    global _writer
    if _writer is not None and _writer.is_alive():
        return
    with _writer_lock:
        if _writer is None or not _writer.is_alive():
            _writer = threading.Thread(target=_write_forever, name="speedrank-group-commit", daemon=True)
            _writer.start()


def _write_forever() -> None:
    while True:
        group = [_queue.get()]
        try:
            connection.close_if_unusable_or_obsolete()
            with _write_turn() as hand_on_turn:
                # Gathered once the turn is ours: the writes that came while it was another's join.
                _gather(group)
                # Writes whose callers gave up waiting for the turn are dropped, never written.
                group = [(work, future) for work, future in group if future.set_running_or_notify_cancel()]
                _commit(group, hand_on_turn)
        except Exception as error:  # noqa: BLE001  the thread must live on; the group's callers hear why
            _fail(group, error)
        except BaseException as error:
            _fail(group, error)  # no caller may wait for ever; the next run_write starts a new writer
            raise


def _gather(group: list[Write]) -> None:
    while len(group) < settings.GROUP_COMMIT_MAX:
        try:
            group.append(_queue.get_nowait())
        except queue.Empty:
            return


class _RunIsolated(Exception):
    """A write of the group failed before the commit: the group runs again, each write isolated."""


def _commit(group: list[Write], hand_on_turn: Callable[[], None], *, behind_backlog: bool = False) -> None:
    try:
        _commit_as(group, hand_on_turn, isolated=False, behind_backlog=behind_backlog)
    except _RunIsolated:  # nothing of the first run stands, and no caller has been answered
        _commit_as(group, hand_on_turn, isolated=True, behind_backlog=behind_backlog)


def _commit_as(group: list[Write], hand_on_turn: Callable[[], None], *, isolated: bool, behind_backlog: bool) -> None:
    results: list[tuple[Future, object]] = []
    committed = []
    mirrors: list = []

    def on_commit() -> None:
        committed.append(True)
        hand_on_turn()  # the next writer need not wait for this group's mirrors

    try:
        with mirrors_gathered() as mirrors, transaction.atomic():
            # Registered first, so it runs first after the commit, before any caller's hook.
            transaction.on_commit(on_commit)
            for work, future in group:
                if isolated:
                    _run_isolated(work, future, results)
                else:
                    results.append((future, work()))
    except Exception as error:  # noqa: BLE001
        if not committed:
            if not isolated:
                raise _RunIsolated from error
            _fail(group, error)
            return
        logger.exception("an after-commit hook failed; the group's writes are committed")
    try:
        write_mirrors(mirrors, behind_backlog=behind_backlog)
    except Exception:  # noqa: BLE001  the writes are committed: their callers are answered all the same
        logger.exception("the mirrors of a committed group failed")
    for future, result in results:
        future.set_result(result)


def _run_isolated(work: Callable[[], object], future: Future, results: list[tuple[Future, object]]) -> None:
    """One write in a savepoint of its own: if it fails, it fails for its caller alone."""
    try:
        with transaction.atomic():
            results.append((future, work()))
    except Exception as error:  # noqa: BLE001  the caller's own error, raised where it waits
        future.set_exception(error)
    if transaction.get_rollback():
        # A failure that a savepoint could not contain: nothing of the group may stand.
        raise DatabaseError("the group's transaction was aborted by one of its writes")


def _fail(group: list[Write], error: Exception) -> None:
    """No write of the group is durable: every caller not yet answered hears why."""
    logger.warning("group of %s writes not committed: %s", len(group), error)
    for _work, future in group:
        if not future.done():
            future.set_exception(error)


@contextmanager
def _write_turn(*, wait: float | None = None) -> Iterator[Callable[[], None]]:
    """This process's turn to write, waiting at most `wait` seconds if given (else as long as it
    takes: run_write's callers time out their own wait); yields a function that ends it early."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        yield lambda: None
        return
    lock = _lock_file(f"{connection.settings_dict['NAME']}.write-lock")
    if wait is None:
        fcntl.flock(lock, fcntl.LOCK_EX)
    else:
        _flock_within(lock, wait)
    try:
        yield lambda: fcntl.flock(lock, fcntl.LOCK_UN)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)


def _flock_within(lock: int, seconds: float) -> None:
    # The write server's turn is rarely contended (a worker writing itself while the server
    # starts), so a short poll is the exception, not the rule.
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OperationalError("database is locked: no write turn within the busy timeout") from None
            time.sleep(TURN_POLL_SECONDS)


def _lock_file(path: str) -> int:
    """The lock file's descriptor, opened once per process (only the writer thread uses it)."""
    if path not in _lock_files:
        _lock_files[path] = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    return _lock_files[path]
