"""The process's Redis client and Lua scripts, and the one translation of Redis errors.

Built on first use from settings.REDIS_URL, so each server worker gets its own pool, and built
again when a test changes the REDIS_ settings.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Protocol

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.exceptions import NoScriptError
from redis.retry import Retry

from ..exceptions import BoardUnavailable
from ..metrics import REDIS_ERRORS

LUA_DIR = Path(__file__).resolve().parent.parent / "lua"


class RedisConnection:
    """A lazily built client, and the Lua scripts of lua/ registered with it."""

    def __init__(self):
        self._client: redis.Redis | None = None
        self._scripts: dict[str, Script] = {}
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

    def reset(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._client, self._scripts = None, {}


def _build_client() -> redis.Redis:
    # No retries: a failed call fails fast, and the caller decides (503 on reads, backlog on writes).
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


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
    try:
        yield
    except redis.RedisError as error:
        # Unreachable, too slow, or refusing writes (OOM, MISCONF, READONLY): not usable now.
        REDIS_ERRORS.inc()
        raise BoardUnavailable(str(error)) from error


Command = tuple  # (command name, *arguments), or ("script", name, keys, args)


class Rider(Protocol):
    """Commands that go with this context's next round trip, whatever it carries."""

    def commands(self) -> list[Command]: ...
    def take(self, replies: list) -> None: ...
    def failed(self, error: BoardUnavailable) -> None: ...


_rider: ContextVar[Rider | None] = ContextVar("speedrank_redis_rider", default=None)


@contextmanager
def riding(rider: Rider) -> Iterator[Rider]:
    """Within the block, the first round trip of this context also carries the rider's commands."""
    token = _rider.set(rider)
    try:
        yield rider
    finally:
        _rider.reset(token)


def execute(commands: list[Command]) -> list:
    """Run the commands in one round trip and return their replies; a rider waiting in this
    context goes with them, once."""
    rider = _rider.get()
    if rider is None:
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
    """Run the commands in one pipeline (one round trip) and return their replies.

    Scripts go as EVALSHA: a Script registered with a pipeline would cost a SCRIPT EXISTS round
    trip on every execution. If Redis lost a script (it restarted), the commands from the first
    that found its script missing run again once it is loaded: later ones may read what it writes,
    and the ones before it are not sent twice.
    """
    if len(commands) == 1:
        return [_one(commands[0])]
    with unavailable_on_error():
        replies = _pipeline(commands).execute(raise_on_error=False)
        missing = next((i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)), None)
        if missing is not None:
            for name in {command[1] for command in commands[missing:] if command[0] == "script"}:
                client().script_load(script(name).script)
            replies[missing:] = _pipeline(commands[missing:]).execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, redis.RedisError):
                raise reply
    return replies


def _pipeline(commands: list[Command]) -> redis.client.Pipeline:
    pipe = client().pipeline(transaction=False)
    for command in commands:
        if command[0] == "script":
            _, name, keys, args = command
            pipe.evalsha(script(name).sha, len(keys), *keys, *args)
        else:
            pipe.execute_command(*command)
    return pipe


def _one(command: Command):
    """A command alone, without a pipeline's cost: one round trip (two if Redis lost the script)."""
    with unavailable_on_error():
        if command[0] == "script":
            _, name, keys, args = command
            return script(name)(keys=keys, args=args)
        return client().execute_command(*command)
