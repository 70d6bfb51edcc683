"""The write turn on SQLite: the processes writing one database take turns through a file lock
beside it. The kernel hands the lock on the moment it is free, where SQLite's own busy handler
would poll with sleeps of up to 100 ms."""

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import OperationalError

TURN_POLL_SECONDS = 0.001


class WriteTurn:
    """One process's handle on the turn of one database file, opened on first use."""

    def __init__(self, database_path: str):
        self.path = f"{database_path}.write-lock"
        self._fd: int | None = None

    @contextmanager
    def held(self, *, wait: float | None = None) -> Iterator[Callable[[], None]]:
        """Hold the turn, waiting at most `wait` seconds if given (else as long as it takes);
        yields a function that hands it on early (once the commit is done, before the mirrors)."""
        fd = self._descriptor()
        if wait is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            _flock_within(fd, wait)
        try:
            yield lambda: fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _descriptor(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _flock_within(fd: int, seconds: float) -> None:
    # The write server's turn is rarely contended (a worker writing itself while the server
    # starts), so a short poll is the exception, not the rule.
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OperationalError("database is locked: no write turn within the busy timeout") from None
            time.sleep(TURN_POLL_SECONDS)


class NoTurn:
    """Where there is no turn to take (an in-memory database)."""

    @contextmanager
    def held(self, *, wait: float | None = None) -> Iterator[Callable[[], None]]:
        yield lambda: None
