"""The only module that speaks Redis: the client, key names, the score encoding and board commands.

A board is a sorted set of usernames. An entry's score is

    points << SEQUENCE_BITS | (SEQUENCE_LIMIT - 1 - sequence)

where sequence is the id of the Score row that first reached those points. More points sort
higher; at equal points the earlier submission sorts higher. Points use 20 bits (0..1,048,575)
and sequences 33 bits (ids below 8,589,934,592): 53 bits, so every score is an integer that a
double stores exactly, and `ZADD GT` keeps a player's best without a read-then-write race.
"""

import secrets
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from pathlib import Path

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from .exceptions import BoardUnavailable
from .limits import ENCODABLE_POINTS_MAX, SEQUENCE_BITS, SEQUENCE_LIMIT

REBUILD_KEY_TTL_SECONDS = 3600

LUA_DIR = Path(__file__).resolve().parent / "lua"

_client: redis.Redis | None = None
_client_lock = threading.Lock()
_scripts: dict[str, Script] = {}


# A board entry to write: (encoded score, member), the order ZADD takes them in, so a batch
# of rows from SQL goes to Redis without building an object per entry.
Entry = tuple[int, str]


# --- client -----------------------------------------------------------------------------


def client() -> redis.Redis:
    """The process's client, built on first use so each gunicorn worker gets its own pool."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = _build_client()
    return _client


def _build_client() -> redis.Redis:
    # No retries: a failed call fails fast, and the caller decides (503 on reads, backlog on writes).
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


def _script(name: str) -> Script:
    """A Lua script from lua/NAME.lua, bound to the current client (EVALSHA, loaded on first use)."""
    if name not in _scripts:
        _scripts[name] = client().register_script((LUA_DIR / f"{name}.lua").read_text())
    return _scripts[name]


@receiver(setting_changed)
def _reset_client(*, setting: str, **kwargs) -> None:
    global _client
    if setting.startswith("REDIS_") and _client is not None:
        _client.close()
        _client = None
        _scripts.clear()


@contextmanager
def _unavailable_on_error() -> Iterator[None]:
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise BoardUnavailable(str(error)) from error


def ping() -> None:
    with _unavailable_on_error():
        client().ping()


# --- keys and encoding ------------------------------------------------------------------


def board_key(board: str) -> str:
    # The hash tag keeps a board and its rebuild keys in one cluster slot.
    return f"{settings.REDIS_KEY_PREFIX}:board:{{{board}}}"


def rebuild_key(board: str) -> str:
    return f"{board_key(board)}:rebuild:{secrets.token_hex(8)}"


def encode(points: int, sequence: int) -> int:
    if not 0 <= points <= ENCODABLE_POINTS_MAX or not 0 < sequence < SEQUENCE_LIMIT:
        raise ValueError(f"cannot encode points={points} sequence={sequence}")
    return points << SEQUENCE_BITS | (SEQUENCE_LIMIT - 1 - sequence)


def decode_points(score: float) -> int:
    return int(score) >> SEQUENCE_BITS


# --- writes -----------------------------------------------------------------------------


def record_best(board: str, member: str, points: int, sequence: int) -> None:
    """Raise the member's entry to this score if it is better; idempotent."""
    with _unavailable_on_error():
        client().zadd(board_key(board), {member: encode(points, sequence)}, gt=True)


def record_many_best(board: str, entries: Sequence[Entry]) -> None:
    """`record_best` for many entries in one round trip."""
    raise_entries(board_key(board), entries)


def raise_entries(key: str, entries: Sequence[Entry]) -> None:
    """ZADD GT a batch into any board key, live or rebuilding: each entry only ever rises."""
    if not entries:
        return
    with _unavailable_on_error():
        client().execute_command("ZADD", key, "GT", *chain.from_iterable(entries))


def load_entries(key: str, entries: Sequence[Entry]) -> None:
    """Write entries into a rebuild key; it expires if the rebuild dies before the swap."""
    with _unavailable_on_error():
        pipe = client().pipeline(transaction=False)
        pipe.execute_command("ZADD", key, *chain.from_iterable(entries))
        pipe.expire(key, REBUILD_KEY_TTL_SECONDS)
        pipe.execute()


def swap_in(board: str, key: str) -> int:
    """Atomically make a rebuilt key the live board (an absent key means an empty board)."""
    live = board_key(board)
    with _unavailable_on_error():
        return _script("swap_board")(keys=[live, key, f"{live}:retired:{secrets.token_hex(8)}"])


def delete_board(board: str) -> None:
    with _unavailable_on_error():
        client().delete(board_key(board))


# --- reads ------------------------------------------------------------------------------


def top(board: str, count: int, offset: int = 0) -> list[tuple[str, int]]:
    """(member, points) of the best `count` entries after `offset`, best first."""
    with _unavailable_on_error():
        rows = client().zrevrange(board_key(board), offset, offset + count - 1, withscores=True)
    return [(member, decode_points(score)) for member, score in rows]


def rank_for(board: str, member: str) -> tuple[int, int] | None:
    """(1-based rank, points) of a member, read atomically, or None if absent."""
    with _unavailable_on_error():
        pipe = client().pipeline(transaction=True)
        pipe.zrevrank(board_key(board), member)
        pipe.zscore(board_key(board), member)
        rank, score = pipe.execute()
    if rank is None or score is None:
        return None
    return rank + 1, decode_points(score)


def total_members(board: str) -> int:
    with _unavailable_on_error():
        return client().zcard(board_key(board))


def encoded_scores(board: str, members: Sequence[str]) -> list[int | None]:
    """Each member's encoded score on the live board, or None where absent."""
    if not members:
        return []
    with _unavailable_on_error():
        scores = client().zmscore(board_key(board), list(members))
    return [None if score is None else int(score) for score in scores]


def iter_members(board: str, batch_size: int = 1000) -> Iterable[list[str]]:
    """Every member of the live board, in batches (ZSCAN: never blocks Redis for long)."""
    with _unavailable_on_error():
        batch: list[str] = []
        for member, _score in client().zscan_iter(board_key(board), count=batch_size):
            batch.append(member)
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
