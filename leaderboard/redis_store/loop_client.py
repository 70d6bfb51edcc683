"""Round trips to Redis from the live server's event loop, with no thread hop: one connection per
process, commands written at once and their replies matched in order as they arrive.

redis.asyncio was measured first: about 110 µs of CPU a command against 12 to 36 µs for this (the
same HGETALL, side by side), and a match move is two round trips on a loop that also serves every
socket. Commands are the round trips' own (client.py: tuples, scripts by name, replies with an
error reply in place), packed by hiredis and read back by its parser.

On a Redis Cluster a round trip goes through the threads' client instead (client.send), which
follows MOVED, ASK and failovers."""

import asyncio
import ssl
from collections import deque
from collections.abc import Generator
from typing import Any

import hiredis
import redis
from django.conf import settings
from redis._parsers.base import BaseParser
from redis.connection import parse_url
from redis.exceptions import NoScriptError

from ..exceptions import BoardUnavailable
from ..metrics import REDIS_ERRORS
from .client import Command, Step, arguments, connection, script, send


class _Replies(asyncio.Protocol):
    """One connection: each command written gets a future, and replies resolve them in order. A
    reply not in after REDIS_SOCKET_TIMEOUT closes the connection, failing every command waiting;
    one timer at a time looks after the oldest (a timer per round trip cost more than the rest)."""

    def __init__(self):
        self._reader = hiredis.Reader(encoding="utf-8", errors="replace")
        self._waiting: deque[tuple[asyncio.Future, float]] = deque()  # each with its deadline
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.lost = False

    def connection_made(self, transport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            if isinstance(reply, hiredis.ReplyError):
                reply = BaseParser.parse_error(str(reply))  # the error redis-py names, as client.py gets
            waiter, _deadline = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(redis.ConnectionError(f"Redis closed the connection: {exc or 'EOF'}"))

    def ask(self, commands: list[Command]) -> list[asyncio.Future]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.REDIS_SOCKET_TIMEOUT
        waiters = [loop.create_future() for _command in commands]
        self._waiting.extend((waiter, deadline) for waiter in waiters)
        self._transport.write(b"".join([hiredis.pack_command(arguments(command)) for command in commands]))
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._look_at_oldest)
        return waiters

    def _look_at_oldest(self) -> None:
        self._timer = None
        if self.lost or not self._waiting:
            return
        loop, deadline = asyncio.get_running_loop(), self._waiting[0][1]
        if loop.time() < deadline:
            self._timer = loop.call_at(deadline, self._look_at_oldest)
            return
        self._fail(redis.TimeoutError(f"Redis did not answer in {settings.REDIS_SOCKET_TIMEOUT}s"))
        self.close()

    def _fail(self, error: Exception) -> None:
        while self._waiting:
            waiter, _deadline = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    def close(self) -> None:
        self.lost = True
        if self._transport is not None:
            self._transport.close()


class LoopConnection:
    """The process's connection for its event loop, opened on first use and again after it was
    lost or a round trip timed out (replies left unread would answer the wrong commands)."""

    def __init__(self):
        self._link: _Replies | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Lock | None = None
        self._on_cluster: bool | None = None

    async def send(self, commands: list[Command]) -> list:
        """The commands run in one round trip and their replies; BoardUnavailable if Redis cannot
        answer in REDIS_SOCKET_TIMEOUT, or answers with an error."""
        try:
            if await self._cluster():
                return await asyncio.to_thread(send, commands)
            replies = await self._round_trip(commands)
            missing = next((i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)), None)
            if missing is not None:  # Redis lost a script: loaded, then the commands from there again
                names = {command[1] for command in commands[missing:] if command[0] == "script"}
                await self._round_trip([("SCRIPT", "LOAD", script(name).script) for name in names])
                replies[missing:] = await self._round_trip(commands[missing:])
            failed = next((reply for reply in replies if isinstance(reply, redis.RedisError)), None)
            if failed is not None:
                raise failed
            return replies
        except (redis.RedisError, OSError) as error:
            REDIS_ERRORS.inc()
            raise BoardUnavailable(str(error) or type(error).__name__) from error

    async def converse(self, steps: Generator[Step, Any, Any]) -> Any:
        """Run a conversation's steps, each one round trip (see client.converse); its result."""
        step = next(steps)
        while True:
            try:
                step = steps.send(step.read(await self.send(step.commands)))
            except StopIteration as done:
                return done.value

    async def _round_trip(self, commands: list[Command]) -> list:
        link = await self._connected()
        waiters = link.ask(commands)
        try:
            return [await waiter for waiter in waiters]
        except asyncio.CancelledError:
            raise  # the replies still come, in order, to waiters the link knows are done
        except BaseException:
            link.close()  # lost, or too slow: its late replies must not answer later commands
            raise
        finally:
            for waiter in waiters:  # every failure of the round trip taken, not just the first
                if waiter.done() and not waiter.cancelled():
                    waiter.exception()

    async def _cluster(self) -> bool:
        if self._on_cluster is None:  # building the threads' client may ask Redis: not on the loop
            self._on_cluster = await asyncio.to_thread(lambda: connection.nodes() is not None)
        return self._on_cluster

    async def _connected(self) -> _Replies:
        loop = asyncio.get_running_loop()
        if self._link is not None and not self._link.lost and self._loop is loop:
            return self._link
        if self._loop is not loop:
            self._loop, self._link, self._opening = loop, None, asyncio.Lock()
        async with self._opening:
            if self._link is None or self._link.lost:
                async with asyncio.timeout(settings.REDIS_CONNECT_TIMEOUT):
                    self._link = await _open(loop)
        return self._link


async def _open(loop: asyncio.AbstractEventLoop) -> _Replies:
    """A connection to the Redis REDIS_URL names, logged in and on its database."""
    named = parse_url(settings.REDIS_URL)
    if "path" in named:
        _transport, link = await loop.create_unix_connection(_Replies, named["path"])
    else:
        secure = ssl.create_default_context() if named.get("connection_class") is redis.SSLConnection else None
        _transport, link = await loop.create_connection(_Replies, named["host"], named["port"], ssl=secure)
    greeting: list[Command] = []
    if named.get("password"):
        greeting.append(("AUTH", *([named["username"]] if named.get("username") else []), named["password"]))
    if named.get("db"):
        greeting.append(("SELECT", named["db"]))
    try:
        for reply in [await waiter for waiter in link.ask(greeting)] if greeting else []:
            if isinstance(reply, redis.RedisError):
                raise reply
    except BaseException:
        link.close()  # refused, or given up (the connect timeout): not left open
        raise
    return link


loop_connection = LoopConnection()


async def converse_on_loop(steps: Generator[Step, Any, Any]) -> Any:
    """client.converse on the running event loop."""
    return await loop_connection.converse(steps)
