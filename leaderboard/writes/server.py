"""The write server: on SQLite, one process of its own commits the works of every worker of the
server, in groups.

Why a process: a worker's group-commit thread holds SQLite's write turn, and between any two of
its statements the worker's request threads take the GIL, so the turn lasts as long as the reads
around it, and every other writer waits for it. A process with nothing else to run holds the turn
for the SQL alone, and its groups take all the workers' works at once.

A worker sends a work over a unix socket beside the database and waits for the answer: the
outcome once committed and mirrored to Redis, or the error that kept it from being written. The
socket is its owner's alone (0600): works and answers travel pickled, as multiprocessing's
connections carry them between processes of one program.
"""

import logging
import os
import pickle
import signal
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from functools import lru_cache
from multiprocessing.connection import Connection, wait
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection

from ..exceptions import LeaderboardError, WriteUnconfirmed
from .group import groups_writes
from .work import Work

logger = logging.getLogger(__name__)

# A unix socket's path must fit in sockaddr_un (108 bytes on Linux, with its final NUL).
SOCKET_PATH_MAX = 100
RECONNECT_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 1.0
STOP_CHECK_SECONDS = 0.5
PING = b"ping"
MESSAGE_MAX_BYTES = 64 * 1024  # a work is a few slugs, names and numbers
NOT_SENT = object()
# Refusals the work's caller answers; anything else is also logged here.
_EXPECTED = (LeaderboardError, IntegrityError)


def socket_path() -> Path | None:
    """Where this database's write server listens; None where there is none to have (PostgreSQL,
    an in-memory database, group commit off, a path too long for a unix socket)."""
    return socket_for(connection.settings_dict["NAME"]) if groups_writes() else None


@lru_cache(maxsize=8)
def socket_for(database: str) -> Path | None:
    """Where the write server of this SQLite file listens (None if the path is too long)."""
    path = Path(f"{database}.writes.sock")
    return path if len(os.fsencode(path)) <= SOCKET_PATH_MAX else None


def answer_timeout() -> float:
    """How long a work may wait for the write server before it counts as hung: the group before it
    and its own, each waiting out the turn, SQLite's busy timeout and Redis's timeouts."""
    redis_seconds = settings.REDIS_CONNECT_TIMEOUT + settings.REDIS_SOCKET_TIMEOUT
    return 2 * (2 * settings.SQLITE_BUSY_TIMEOUT_SECONDS + redis_seconds) + 1


def connect(path: Path) -> Connection:
    # A server that has stopped accepting fills its listen queue, and then a blocking connect
    # would wait for ever.
    with socket.socket(socket.AF_UNIX) as unix:
        unix.settimeout(CONNECT_TIMEOUT_SECONDS)
        unix.connect(str(path))
        unix.settimeout(None)
        return Connection(unix.detach())


def listening(path: Path) -> bool:
    """Whether a write server listens on path (and accepts connections)."""
    try:
        connect(path).close()
    except OSError:
        return False
    return True


def answers_ping(path: Path, timeout: float) -> bool:
    """Whether a write server listens on path and answers within timeout (between its groups)."""
    try:
        with connect(path) as peer:
            peer.send_bytes(PING)
            return peer.poll(timeout) and peer.recv_bytes() == PING
    except (OSError, EOFError):
        return False


class WriteServerClient:
    """A worker's connections to its write server, one per request thread (a thread waits for its
    answer before it sends again)."""

    def __init__(self):
        self._local = threading.local()

    def commit(self, work: Work, path: Path):
        """The work's outcome, committed and mirrored by the write server, or NOT_SENT if there is
        no write server to ask. Raises the work's own error, or WriteUnconfirmed when the server
        went away (or hung) before answering: then the work may or may not be committed."""
        peer = self._connection(path)
        if peer is None:
            return NOT_SENT
        try:
            peer.send_bytes(pickle.dumps(work))
        except OSError:
            self.disconnect()  # nothing was sent: the server went away since the last work
            return NOT_SENT
        committed, value = self._answer(peer)
        if not committed:
            raise value
        return value

    def _answer(self, peer: Connection) -> tuple[bool, object]:
        try:
            if not peer.poll(answer_timeout()):
                # A late answer must not be read as the next work's; and until a hung server is
                # replaced, this thread writes itself rather than wait on it again.
                self.disconnect(retry_in=answer_timeout())
                raise WriteUnconfirmed("the write server did not answer in time")
            return pickle.loads(peer.recv_bytes())
        except (OSError, EOFError) as error:
            self.disconnect()
            raise WriteUnconfirmed(f"the write server went away before answering ({error!r})") from None

    def _connection(self, path: Path) -> Connection | None:
        peer = getattr(self._local, "peer", None)
        if peer is not None or time.monotonic() < getattr(self._local, "next_attempt", 0.0):
            return peer
        try:
            self._local.peer = connect(path)
        except OSError:  # none listening (yet), or not accepting: the worker writes itself meanwhile
            self._local.next_attempt = time.monotonic() + RECONNECT_SECONDS
            return None
        return self._local.peer

    def disconnect(self, *, retry_in: float = 0.0) -> None:
        """Drop this thread's connection; a work connects afresh after retry_in seconds (until
        then this thread writes itself)."""
        peer, self._local.peer = getattr(self._local, "peer", None), None
        self._local.next_attempt = time.monotonic() + retry_in
        if peer is not None:
            peer.close()


CommitNow = Callable[[list[Work]], list]


class WriteServer:
    """Answers workers' works on `path` until SIGTERM or until the process `parent` ends: every
    work that arrived while it wrote the last group is the next group."""

    def __init__(self, path: Path, commit_now: CommitNow, *, parent: int):
        self.path, self._commit_now, self.parent = path, commit_now, parent
        self._stopping = threading.Event()

    def serve(self) -> None:
        listener = self._listen()
        signal.signal(signal.SIGTERM, lambda _signal, _frame: self._stopping.set())  # after the group in hand
        threading.Thread(target=self._exit_with_parent, name="write-server-parent", daemon=True).start()
        logger.info("write server listening on %s", self.path, extra={"event": "write_server_started"})
        peers: list[Connection] = []
        while not self._stopping.is_set():
            group = self._receive(listener, peers)
            for start in range(0, len(group), settings.GROUP_COMMIT_MAX):
                self._answer_group(group[start : start + settings.GROUP_COMMIT_MAX])
        listener.close()
        self.path.unlink(missing_ok=True)
        logger.info("write server stopped", extra={"event": "write_server_stopped"})

    def _receive(self, listener: socket.socket, peers: list[Connection]) -> list[tuple[Connection, Work]]:
        group = []
        for ready in wait([listener, *peers], timeout=STOP_CHECK_SECONDS):
            if ready is listener:
                peers.append(Connection(listener.accept()[0].detach()))
                continue
            message = _received(ready)
            if message == PING:
                ready.send_bytes(PING)
            elif message is None:
                peers.remove(ready)
                ready.close()
            else:
                group.append((ready, message))
        return group

    def _answer_group(self, group: list[tuple[Connection, Work]]) -> None:
        close_old_connections()
        try:
            results = self._commit_now([work for _peer, work in group])
        except Exception as error:  # noqa: BLE001  nothing written; every worker hears why
            results = [error] * len(group)
        for (peer, _work), result in zip(group, results, strict=True):
            _answer(peer, result)

    def _listen(self) -> socket.socket:
        """Listen on path, in place of a socket left by a server that ended; refuse if one listens."""
        if listening(self.path):
            raise SystemExit(f"a write server already listens on {self.path}")
        self.path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX)
        umask = os.umask(0o177)  # only the server's own user may write through it
        try:
            listener.bind(str(self.path))
        finally:
            os.umask(umask)
        listener.listen(128)
        return listener

    def _exit_with_parent(self) -> None:
        ours = os.getppid() == self.parent  # then watching getppid() also catches a parent left unreaped
        while os.getppid() == self.parent if ours else _exists(self.parent):
            time.sleep(1)
        logger.info("write server's parent ended; stopping", extra={"event": "write_server_stopped"})
        os._exit(0)


def _received(peer: Connection) -> Work | bytes | None:
    """The peer's work, or PING; None if it hung up or sent anything else."""
    try:
        message = peer.recv_bytes(MESSAGE_MAX_BYTES)
        if message == PING:
            return PING
        work = pickle.loads(message)
    except (EOFError, OSError, pickle.UnpicklingError, ValueError, TypeError, AttributeError, ImportError):
        return None
    return work if isinstance(work, Work) else None


def _answer(peer: Connection, result) -> None:
    """Tell the worker how its work went: (True, outcome) or (False, error)."""
    if isinstance(result, Exception) and not isinstance(result, _EXPECTED):
        logger.warning("write server could not commit a work: %r", result)
    try:
        answer = pickle.dumps((not isinstance(result, Exception), result))
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        answer = pickle.dumps((False, RuntimeError(f"the write server's answer could not be sent: {error!r}")))
    with suppress(OSError):  # the worker went away; its connection is dropped when read next
        peer.send_bytes(answer)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process
    return True
