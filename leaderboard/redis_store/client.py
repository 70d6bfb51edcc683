"""The process's Redis client and Lua scripts, and the one translation of Redis errors.

Built on first use from settings.REDIS_URL, so each server worker gets its own pool, and built
again when a test changes the REDIS_ settings.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Protocol

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from hiredis import pack_command
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.exceptions import NoScriptError
from redis.retry import Retry

from ..exceptions import BoardUnavailable
from ..metrics import REDIS_ERRORS

LUA_DIR = Path(__file__).resolve().parent.parent / "lua"
IDLE_CHECK_SECONDS = 1.0


class RedisConnection:
    """A lazily built client, the Lua scripts of lua/ registered with it, and each thread's own
    connection for round trips. A thread's connection needs no checkout from the pool (a lock and
    a poll for stray replies each time): a round trip reads every reply it asked for or drops it."""

    def __init__(self):
        self._client: redis.Redis | None = None
        self._scripts: dict[str, Script] = {}
        self._threads = threading.local()
        self._lock = threading.Lock()

    def client(self) -> redis.Redis:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = _build_client()
        return self._client

    def script(self, name: str) -> Script:
        """lua/NAME.lua, run by EVALSHA and loaded on first use."""
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self.client().register_script((LUA_DIR / f"{name}.lua").read_text())
        return script

    def link(self) -> redis.connection.AbstractConnection:
        """This thread's own connection (it connects on its first use, and after being dropped).
        One idle for a while is checked first: Redis may have closed it (a restart, its own idle
        timeout), and a closed one is dropped rather than failing a call."""
        threads, now = self._threads, time.monotonic()
        link = getattr(threads, "link", None)
        if link is None:
            link = threads.link = self.client().connection_pool.make_connection()
        elif now - threads.used > IDLE_CHECK_SECONDS:
            _drop_if_closed(link)
        threads.used = now
        return link

    def reset(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._client, self._scripts, self._threads = None, {}, threading.local()


def _build_client() -> redis.Redis:
    # No retries: a failed call fails fast, and the caller decides (503 on reads, backlog on writes).
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


def _drop_if_closed(link: redis.connection.AbstractConnection) -> None:
    try:
        closed = link.can_read()  # after a round trip nothing is left to read, unless Redis hung up
    except redis.ConnectionError:
        closed = True
    if closed:
        link.disconnect()


connection = RedisConnection()


def client() -> redis.Redis:
    return connection.client()


def script(name: str) -> Script:
    return connection.script(name)


@receiver(setting_changed)
def _reset_connection(*, setting: str, **kwargs) -> None:
    if setting.startswith("REDIS_"):
        connection.reset()


@contextmanager
def unavailable_on_error() -> Iterator[None]:
    """For the few client calls that are not plain commands (INFO, SCAN)."""
    try:
        yield
    except redis.RedisError as error:
        REDIS_ERRORS.inc()
        raise BoardUnavailable(str(error)) from error


Command = tuple  # (command name, *arguments), or ("script", name, keys, args)


class Rider(Protocol):
    """Commands that go with this context's next round trip, whatever it carries, unless they
    have been sent on their own meanwhile."""

    sent: bool

    def commands(self) -> list[Command]: ...
    def take(self, replies: list) -> None: ...
    def failed(self, error: BoardUnavailable) -> None: ...


_rider: ContextVar[Rider | None] = ContextVar("speedrank_redis_rider", default=None)


class riding:  # noqa: N801  a context manager, named as one
    """Within the block, the first round trip of this context also carries the rider's commands."""

    def __init__(self, rider: Rider):
        self.rider = rider

    def __enter__(self) -> Rider:
        self.token = _rider.set(self.rider)
        return self.rider

    def __exit__(self, *exc_info) -> None:
        _rider.reset(self.token)


def claim_rider() -> Rider | None:
    """The rider waiting in this context, taken off it, for its caller to carry another way (a
    write carries its call's rate-limit charge to the write's group)."""
    rider = _rider.get()
    if rider is None or rider.sent:
        return None
    _rider.set(None)
    return rider


def execute(commands: list[Command]) -> list:
    """Run the commands in one round trip and return their replies; a rider waiting in this
    context goes with them, once."""
    rider = _rider.get()
    if rider is None or rider.sent:
        return send(commands)
    _rider.set(None)
    extra = rider.commands()
    try:
        replies = send(extra + commands)
    except BoardUnavailable as error:
        rider.failed(error)
        raise
    rider.take(replies[: len(extra)])
    return replies[len(extra) :]


def send(commands: list[Command]) -> list:
    """Run the commands in one round trip and return their replies.

    Scripts go as EVALSHA. If Redis lost a script (it restarted), the commands from the first
    that found its script missing run again once it is loaded: later ones may read what it writes,
    and the ones before it are not sent twice.
    """
    try:
        replies = _round_trip(commands)
        missing = next((i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)), None)
        if missing is not None:
            for name in {command[1] for command in commands[missing:] if command[0] == "script"}:
                client().script_load(script(name).script)
            replies[missing:] = _round_trip(commands[missing:])
        failed = next((reply for reply in replies if isinstance(reply, redis.RedisError)), None)
        if failed is not None:
            raise failed
    except redis.RedisError as error:
        # Unreachable, too slow, or refusing writes (OOM, MISCONF, READONLY): not usable now.
        REDIS_ERRORS.inc()
        raise BoardUnavailable(str(error)) from error
    return replies


def _round_trip(commands: list[Command]) -> list:
    """The commands written at once on this thread's connection and their replies read back, an
    error reply in its place. A redis-py pipeline does the same with several times the Python (a
    command stack, response callbacks, a checkout from the pool, and a SCRIPT EXISTS round trip
    when it carries scripts), which measured more than a read's whole Redis time. Commands are
    packed by hiredis, the parser redis-py reads them back with."""
    link = connection.link()
    try:
        link.send_packed_command([b"".join([pack_command(_arguments(command)) for command in commands])])
        return [_reply(link) for _command in commands]
    except BaseException:
        link.disconnect()  # half a conversation must not be continued: the next round trip reconnects
        raise


def _arguments(command: Command) -> tuple:
    if command[0] != "script":
        return command
    _, name, keys, args = command
    return ("EVALSHA", script(name).sha, len(keys), *keys, *args)


def _reply(link) -> object:
    try:
        return link.read_response()
    except redis.ResponseError as error:  # a reply like any other; the rest still follow
        return error
