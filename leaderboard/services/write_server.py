"""The write server: on SQLite, one process of its own writes the seed API's submissions for
every worker of the server, through the group commit.

Why a process: a worker's group-commit thread holds SQLite's write turn, and between any two of
its statements the worker's request threads take the GIL, so the turn lasts as long as the reads
around it, and every other writer waits for it. A process with nothing else to run holds the
turn for the SQL alone, and one process's groups take all the workers' submissions at once.

A worker sends a submission over a unix socket beside the database and waits for the answer: the
score once committed and mirrored to Redis. When there is no write server (none started, or one
being restarted) the worker writes itself, through the same group commit and the same turn, so
both ways never write at once. `python -m speedrank.serve` starts the write server and restarts
it if it ends; `manage.py run_write_server` runs one.
"""

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from multiprocessing.connection import Connection, wait
from pathlib import Path

import orjson
from django.conf import settings
from django.db import OperationalError, close_old_connections, connection

from ..exceptions import LeaderboardError, WriteUnconfirmed

logger = logging.getLogger(__name__)

# A unix socket's path must fit in sockaddr_un (108 bytes on Linux, with its final NUL).
SOCKET_PATH_MAX = 100
RECONNECT_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 1.0
STOP_CHECK_SECONDS = 0.5
PING = b"ping"
MESSAGE_MAX_BYTES = 64 * 1024  # a submission is a slug, a username and a number
REFUSED, FAILED = "refused", "failed"

Written = tuple[int, datetime]  # the score's id and time
# (board slug, username, points) submissions -> each one's score (with .id, .achieved_at) or error
WriteGroup = Callable[[list[tuple[str, str, int]]], list]

_client = threading.local()


class Refused(Exception):
    """The write server refused the submission and wrote nothing: the submitter writes it itself
    and hears why in the error it raises."""


def socket_path() -> Path | None:
    """Where this database's write server listens; None where there is none to have (PostgreSQL,
    an in-memory database, a path too long for a unix socket)."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db() or settings.GROUP_COMMIT_MAX <= 1:
        return None
    path = Path(f"{connection.settings_dict['NAME']}.writes.sock")
    return path if len(os.fsencode(path)) <= SOCKET_PATH_MAX else None


# The submitting side, in a worker.


def send(board_slug: str, username: str, points: int) -> Written | None:
    """Have the write server record a submission: its score once committed and mirrored, or None
    if there is no write server to ask. Raises Refused or OperationalError when it wrote nothing,
    WriteUnconfirmed when it went away (or hung) before answering."""
    if connection.in_atomic_block:
        return None  # the write belongs in the caller's transaction
    peer = _connection()
    if peer is None:
        return None
    try:
        peer.send_bytes(orjson.dumps([board_slug, username, points]))
    except OSError:
        disconnect()  # nothing was sent: the server went away since the last submission
        return None
    try:
        if not peer.poll(answer_timeout()):
            # A late answer must not be read as the next submission's; and until a hung server is
            # replaced, this thread writes itself rather than wait on it again.
            disconnect(retry_in=answer_timeout())
            raise WriteUnconfirmed("the write server did not answer in time")
        answer = orjson.loads(peer.recv_bytes())
    except (OSError, EOFError) as error:
        disconnect()
        raise WriteUnconfirmed(f"the write server went away before answering ({error!r})") from None
    if answer[0] == REFUSED:
        raise Refused(answer[1])
    if answer[0] == FAILED:
        raise OperationalError(answer[1])
    return answer[0], datetime.fromisoformat(answer[1])


def _connection() -> Connection | None:
    peer = getattr(_client, "peer", None)
    if peer is not None:
        return peer
    if time.monotonic() < getattr(_client, "next_attempt", 0.0):
        return None
    path = socket_path()
    try:
        _client.peer = _connect(path) if path else None
    except OSError:  # none listening (yet), or not accepting: the worker writes itself meanwhile
        _client.peer = None
    if _client.peer is None:
        _client.next_attempt = time.monotonic() + RECONNECT_SECONDS
    return _client.peer


def _connect(path: Path) -> Connection:
    # A server that has stopped accepting fills its listen queue, and then a blocking connect
    # would wait for ever.
    with socket.socket(socket.AF_UNIX) as unix:
        unix.settimeout(CONNECT_TIMEOUT_SECONDS)
        unix.connect(str(path))
        unix.settimeout(None)
        return Connection(unix.detach())


def answers_ping(path: Path, timeout: float) -> bool:
    """Whether a write server listens on path and answers within timeout (between its groups)."""
    try:
        with _connect(path) as peer:
            peer.send_bytes(PING)
            return peer.poll(timeout) and peer.recv_bytes() == PING
    except (OSError, EOFError):
        return False


def disconnect(*, retry_in: float = 0.0) -> None:
    """Drop this thread's connection to the write server; a submission connects afresh after
    retry_in seconds (until then this thread writes itself)."""
    peer, _client.peer = getattr(_client, "peer", None), None
    _client.next_attempt = time.monotonic() + retry_in
    if peer is not None:
        peer.close()


def answer_timeout() -> float:
    """How long a submission may wait for the write server before it counts as hung: the group
    before it and its own, each waiting out the turn, SQLite's busy timeout and Redis's timeouts."""
    redis_seconds = settings.REDIS_CONNECT_TIMEOUT + settings.REDIS_SOCKET_TIMEOUT
    return 2 * (2 * settings.SQLITE_BUSY_TIMEOUT_SECONDS + redis_seconds) + 1


# The write server's side.


def serve(write_group: WriteGroup, path: Path, *, parent: int) -> None:
    """Answer workers' submissions on `path` until SIGTERM or until the process `parent` ends:
    every submission that has arrived while the last group was written is the next group."""
    listener = _listen(path)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signal, _frame: stopping.set())  # after the group in hand
    threading.Thread(target=_exit_with_parent, args=(parent,), name="write-server-parent", daemon=True).start()
    logger.info("write server listening on %s", path, extra={"event": "write_server_started"})
    peers: list[Connection] = []
    while not stopping.is_set():
        group = []
        for ready in wait([listener, *peers], timeout=STOP_CHECK_SECONDS):
            if ready is listener:
                peers.append(Connection(listener.accept()[0].detach()))
                continue
            # A worker thread waits for its answer before it sends again: one message each.
            message = _received(ready)
            if message == PING:
                ready.send_bytes(PING)
            elif message is None:
                peers.remove(ready)
                ready.close()
            else:
                group.append((ready, message))
        for start in range(0, len(group), settings.GROUP_COMMIT_MAX):
            _answer_group(group[start : start + settings.GROUP_COMMIT_MAX], write_group)
    listener.close()
    path.unlink(missing_ok=True)
    logger.info("write server stopped", extra={"event": "write_server_stopped"})


def _received(peer: Connection) -> tuple[str, str, int] | bytes | None:
    """The peer's submission, or PING; None if it hung up or sent something else."""
    try:
        message = peer.recv_bytes(MESSAGE_MAX_BYTES)
        if message == PING:
            return PING
        board_slug, username, points = orjson.loads(message)
    except (EOFError, OSError, ValueError, TypeError):
        return None
    if isinstance(board_slug, str) and isinstance(username, str) and type(points) is int:
        return board_slug, username, points
    return None


def listening(path: Path) -> bool:
    """Whether a write server listens on path (and accepts connections)."""
    try:
        _connect(path).close()
    except OSError:
        return False
    return True


def _listen(path: Path) -> socket.socket:
    """Listen on path, in place of a socket left by a write server that ended; refuse if one listens."""
    if listening(path):
        raise SystemExit(f"a write server already listens on {path}")
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX)
    umask = os.umask(0o177)  # only the server's own user may write scores through it
    try:
        listener.bind(str(path))
    finally:
        os.umask(umask)
    listener.listen(128)
    return listener


def _exit_with_parent(parent: int) -> None:
    ours = os.getppid() == parent  # then watching getppid() also catches a parent left unreaped
    while os.getppid() == parent if ours else _exists(parent):
        time.sleep(1)
    logger.info("write server's parent ended; stopping", extra={"event": "write_server_stopped"})
    os._exit(0)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process
    return True


def _answer_group(group: list[tuple[Connection, tuple[str, str, int]]], write_group: WriteGroup) -> None:
    close_old_connections()
    try:
        outcomes = write_group([submission for _peer, submission in group])
    except Exception as error:  # noqa: BLE001  nothing written; every worker answers 503
        outcomes = [error] * len(group)
    for (peer, _submission), outcome in zip(group, outcomes, strict=True):
        _answer(peer, outcome)


def _answer(peer: Connection, outcome) -> None:
    """Tell the worker how its submission went."""
    if isinstance(outcome, LeaderboardError):
        answer = [REFUSED, str(outcome)]
    elif isinstance(outcome, Exception):
        logger.warning("write server could not write a submission: %s", outcome)
        answer = [FAILED, str(outcome)]
    else:
        answer = [outcome.id, outcome.achieved_at.isoformat()]
    with suppress(OSError):  # the worker went away; its connection is dropped when read next
        peer.send_bytes(orjson.dumps(answer))
