"""The process's Redis client and Lua scripts, and the one translation of Redis errors.

Built on first use from settings.REDIS_URL, so each server worker gets its own pool, and built
again when a test changes the REDIS_ settings. With REDIS_CLUSTER, the client is redis-py's cluster
client, and a round trip goes to each master its commands' keys live on, one round trip per master.
"""

import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from hiredis import pack_command
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.core import Script
from redis.exceptions import AskError, ClusterDownError, MovedError, NoScriptError, RedisClusterException
from redis.retry import Retry

from ..exceptions import BoardUnavailable
from ..metrics import REDIS_ERRORS
from .cluster import ClusterNodes

LUA_DIR = Path(__file__).resolve().parent.parent / "lua"
IDLE_CHECK_SECONDS = 1.0


class RedisConnection:
    """A lazily built client, the Lua scripts of lua/ registered with it, and each thread's own
    connection for round trips. A thread's connection needs no checkout from the pool (a lock and
    a poll for stray replies each time): a round trip reads every reply it asked for or drops it."""

    def __init__(self):
        self._client: redis.Redis | RedisCluster | None = None
        self._nodes: ClusterNodes | None = None
        self._scripts: dict[str, Script] = {}
        self._threads = threading.local()
        self._lock = threading.Lock()

    def client(self) -> redis.Redis | RedisCluster:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = _build_client()
                    self._nodes = ClusterNodes(self._client) if isinstance(self._client, RedisCluster) else None
        return self._client

    def nodes(self) -> ClusterNodes | None:
        """The cluster's masters, or None on a single Redis."""
        self.client()
        return self._nodes

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

    def node_link(self, node: ClusterNode) -> redis.connection.AbstractConnection:
        """On a cluster, this thread's own connection to the node, checked as link() checks its one."""
        threads, now = self._threads, time.monotonic()
        links = getattr(threads, "nodes", None)
        if links is None:
            links = threads.nodes = {}
        held = links.get(node.name)
        if held is None:
            if node.redis_connection is None:  # a master a MOVED named, not seen before
                self.client().nodes_manager.create_redis_connections([node])
            held = links[node.name] = [node.redis_connection.connection_pool.make_connection(), now]
        elif now - held[1] > IDLE_CHECK_SECONDS:
            _drop_if_closed(held[0])
        held[1] = now
        return held[0]

    def reset(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._client, self._nodes, self._scripts, self._threads = None, None, {}, threading.local()


def _build_client() -> redis.Redis | RedisCluster:
    # No retries: a failed call fails fast, and the caller decides (503 on reads, backlog on writes).
    options = {
        "socket_connect_timeout": settings.REDIS_CONNECT_TIMEOUT,
        "socket_timeout": settings.REDIS_SOCKET_TIMEOUT,
        "retry": Retry(NoBackoff(), 0),
        "decode_responses": True,
    }
    if not settings.REDIS_CLUSTER:
        single = redis.Redis.from_url(settings.REDIS_URL, **options)
        if settings.REDIS_URL.startswith("unix://") or not _is_cluster_node(single):
            return single
        single.close()
    try:  # it asks the node named for the others at once
        return RedisCluster.from_url(settings.REDIS_URL, require_full_coverage=False, **options)
    except RedisClusterException as error:
        raise redis.ConnectionError(str(error)) from error


def _is_cluster_node(client: redis.Redis) -> bool:
    """Whether REDIS_URL names a node of a cluster, though REDIS_CLUSTER does not say so."""
    return client.info("cluster").get("cluster_enabled") == 1


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
    except (redis.RedisError, RedisClusterException) as error:
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


@dataclass(frozen=True, slots=True)
class Step:
    """One round trip of a conversation with Redis: its commands, and what their replies mean."""

    commands: list[Command]
    read: Callable[[list], Any]


def converse(steps: Generator[Step, Any, Any]) -> Any:
    """Run a conversation: a generator that yields Steps, is sent what each step's replies mean,
    and returns its result. The same conversation runs on the event loop (loop_client.py)."""
    step = next(steps)
    while True:
        try:
            step = steps.send(step.read(execute(step.commands)))
        except StopIteration as done:
            return done.value


def single(step: Step) -> Generator[Step, Any, Any]:
    """A conversation of one step."""
    return (yield step)


def send(commands: list[Command]) -> list:
    """Run the commands in one round trip (on a cluster, one per master) and return their replies."""
    try:
        nodes = connection.nodes()
        replies = _round_trip(connection.link(), commands) if nodes is None else _round_trips(nodes, commands)
        failed = next((reply for reply in replies if isinstance(reply, redis.RedisError)), None)
        if failed is not None:
            raise failed
    except redis.RedisError as error:
        # Unreachable, too slow, or refusing writes (OOM, MISCONF, READONLY, CLUSTERDOWN): not usable now.
        REDIS_ERRORS.inc()
        raise BoardUnavailable(str(error)) from error
    return replies


def ping() -> None:
    """Every server answers: the one Redis, or each master of the cluster."""
    nodes = None
    try:
        nodes = connection.nodes()
        if nodes is not None:
            nodes.refresh_if_stale()
        links = [connection.link()] if nodes is None else [connection.node_link(node) for node in nodes.masters()]
        for link in links:
            _round_trip(link, [("PING",)])
    except (redis.RedisError, RedisClusterException) as error:
        if nodes is not None:
            nodes.went_wrong()
        REDIS_ERRORS.inc()
        raise BoardUnavailable(str(error)) from error


def _round_trips(nodes: ClusterNodes, commands: list[Command]) -> list:
    """The commands sent to the masters serving their keys and their replies, in order: each
    master's commands are written before any reply is read, so the masters work at once and the
    call costs about one round trip, not one per master. Commands a master answered MOVED (a
    failover or a resharding moved their slots) were not run: they go once more, where it said;
    ASK (a slot being moved) too, with ASKING."""
    nodes.refresh_if_stale()
    replies: list = [None] * len(commands)
    pending = range(len(commands))
    for attempt in range(2):
        routes = nodes.routes([_key(commands[i]) for i in pending]).values()
        batches = [(connection.node_link(node), [pending[i] for i in positions]) for node, positions in routes]
        try:
            for link, positions in batches:
                _write(link, [commands[i] for i in positions])
            for link, positions in batches:
                for position, reply in zip(positions, _read(link, [commands[i] for i in positions]), strict=True):
                    replies[position] = reply
        except BaseException as error:
            for link, _positions in batches:
                link.disconnect()  # replies may be left unread: the next round trip reconnects
            if isinstance(error, redis.ConnectionError):
                nodes.went_wrong()
            raise
        pending = [i for i in pending if isinstance(replies[i], MovedError)]
        if not pending or attempt:
            break
        nodes.moved([replies[i] for i in pending])
    _asked_elsewhere(nodes, commands, replies)
    if any(isinstance(reply, ClusterDownError) for reply in replies):
        nodes.went_wrong()
    return replies


def _asked_elsewhere(nodes: ClusterNodes, commands: list[Command], replies: list) -> None:
    """Commands a master answered ASK (their key's slot is moving, and the key has left) go to
    the master it is moving to, each after an ASKING, which lets that one command in."""
    asked: dict[str, list[int]] = {}
    for position, reply in enumerate(replies):
        if isinstance(reply, AskError) and not isinstance(reply, MovedError):
            asked.setdefault(f"{reply.host}:{reply.port}", []).append(position)
    for address, positions in asked.items():
        each = [part for i in positions for part in (("ASKING",), commands[i])]
        answered = _round_trip(connection.node_link(nodes.node_at(address)), each)
        for position, reply in zip(positions, answered[1::2], strict=True):
            replies[position] = reply


def _key(command: Command) -> str | None:
    """The key a command is routed by: its first (a script's keys share one slot)."""
    if command[0] == "script":
        return command[2][0] if command[2] else None
    return command[1] if len(command) > 1 else None


def _round_trip(link, commands: list[Command]) -> list:
    """The commands run on one connection in one round trip, an error reply in place of a reply."""
    try:
        _write(link, commands)
        return _read(link, commands)
    except BaseException:
        link.disconnect()  # half a conversation must not be continued: the next round trip reconnects
        raise


def _write(link, commands: list[Command]) -> None:
    """The commands written at once. A redis-py pipeline does the same with several times the
    Python (a command stack, response callbacks, a checkout from the pool, and a SCRIPT EXISTS round
    trip when it carries scripts), which measured more than a read's whole Redis time. Commands are
    packed by hiredis, the parser redis-py reads them back with."""
    link.send_packed_command([b"".join([pack_command(arguments(command)) for command in commands])])


def _read(link, commands: list[Command]) -> list:
    """The replies to the commands written, an error reply in place of a reply.

    Scripts go as EVALSHA. If the server lost a script (it restarted, or a replica took over), it
    is loaded there and the commands from the first that found its script missing run again: later
    ones may read what it writes, and the ones before it are not sent twice.
    """
    replies = [_reply(link) for _command in commands]
    missing = next((i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)), None)
    if missing is not None:
        names = {command[1] for command in commands[missing:] if command[0] == "script"}
        loads = [("SCRIPT", "LOAD", script(name).script) for name in names]
        _write(link, loads)
        _read(link, loads)
        _write(link, commands[missing:])
        replies[missing:] = _read(link, commands[missing:])
    return replies


def arguments(command: Command) -> tuple:
    if command[0] != "script":
        return command
    _, name, keys, args = command
    return ("EVALSHA", script(name).sha, len(keys), *keys, *args)


def _reply(link) -> object:
    try:
        return link.read_response()
    except redis.ResponseError as error:  # a reply like any other; the rest still follow
        return error
