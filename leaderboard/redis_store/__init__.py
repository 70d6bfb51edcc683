"""The only package that speaks Redis: the client, key names, the score encoding and board commands.

A board is a sorted set of player ids (usernames). An entry's score is

    rank_value << SEQUENCE_BITS | (SEQUENCE_LIMIT - 1 - sequence)

where rank_value (0..1,048,575, see rules.BoardRules) is larger for a better entry and
sequence is the id of the Score that brought the entry to its value. Better entries sort
higher; at equal values the earlier submission sorts higher. 20 + 33 = 53 bits, so every score
is an integer that a double stores exactly. Entries only move to newer states (set_entries.lua),
so a mirror replayed late or twice changes nothing.

A rebuild holds the board's rebuild lock; while it does, every write also lands in the rebuild
key, so the board swapped in misses nothing committed during the rebuild.
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

from ..exceptions import BoardNotBuilt, BoardUnavailable, RebuildInProgress
from ..limits import ENCODABLE_POINTS_MAX, SEQUENCE_BITS, SEQUENCE_LIMIT
from ..metrics import REDIS_ERRORS

REBUILD_KEY_TTL_SECONDS = 3600
# A rebuild refreshes its lock with every batch; a rebuild that died frees the board after this.
REBUILD_LOCK_SECONDS = 60
# Score/member pairs per script call: keeps each call, which blocks Redis, short.
SCRIPT_BATCH = 1000

LUA_DIR = Path(__file__).resolve().parent.parent / "lua"

_client: redis.Redis | None = None
_client_lock = threading.Lock()
_scripts: dict[str, Script] = {}


# A board entry to write: (encoded score, member), the order ZADD takes them in, so a batch
# of rows from SQL goes to Redis without building an object per entry.
Entry = tuple[int, str]


# --- client -----------------------------------------------------------------------------


def client() -> redis.Redis:
    """The process's client, built on first use so each server worker gets its own pool."""
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
    except redis.RedisError as error:
        # Unreachable, too slow, or refusing writes (OOM, MISCONF, READONLY): not usable now.
        REDIS_ERRORS.inc()
        raise BoardUnavailable(str(error)) from error


def ping() -> None:
    with _unavailable_on_error():
        client().ping()


# --- keys and encoding ------------------------------------------------------------------


def board_key(board: str) -> str:
    # The hash tag keeps a board and its rebuild keys in one cluster slot.
    return f"{settings.REDIS_KEY_PREFIX}:board:{{{board}}}"


def rebuild_key(board: str) -> str:
    return f"{board_key(board)}:rebuild"


def rebuild_lock_key(board: str) -> str:
    return f"{board_key(board)}:rebuild-lock"


def encode(rank_value: int, sequence: int) -> int:
    if not 0 <= rank_value <= ENCODABLE_POINTS_MAX or not 0 < sequence < SEQUENCE_LIMIT:
        raise ValueError(f"cannot encode rank_value={rank_value} sequence={sequence}")
    return rank_value << SEQUENCE_BITS | (SEQUENCE_LIMIT - 1 - sequence)


def decode_rank_value(score: float) -> int:
    return int(score) >> SEQUENCE_BITS


def board_config_key(board: str) -> str:
    return f"{board_key(board)}:rules"


def board_built_key(board: str) -> str:
    # Set when a board is created or rebuilt, never by a single write: if Redis loses its data,
    # the marker goes with it, and reads know the board is not whole.
    return f"{board_key(board)}:built"


def run_id_key() -> str:
    return f"{settings.REDIS_KEY_PREFIX}:boards-built-in"


# --- writes -----------------------------------------------------------------------------


def set_entry(board: str, member: str, encoded: int) -> None:
    """Set the member's entry to this state unless Redis already holds a newer one."""
    set_entries(board, [(encoded, member)])


# A submission to mirror: (board, its rules, member, encoded entry or None if it did not change).
Submission = tuple[str, dict[str, str | int], str, int | None]


def record_submissions(submissions: Sequence[Submission]) -> None:
    """After players score: set their entries (None: it did not change), drop their cached
    profiles, and restate the boards' rules (Redis may have lost them). One pipeline for all, so
    a hung Redis costs the batch one timeout, not one each.
    """
    with _unavailable_on_error():
        try:
            _submissions_pipeline(submissions).execute()
        except redis.exceptions.NoScriptError:
            # Redis lost its scripts (a restart): load it and send the batch again, all of which
            # may run twice (entries only move to newer states).
            client().script_load(_script("set_entries").script)
            _submissions_pipeline(submissions).execute()


def _submissions_pipeline(submissions: Sequence[Submission]) -> redis.client.Pipeline:
    # EVALSHA itself: a script object in a pipeline would send SCRIPT EXISTS first, every time.
    set_entries = _script("set_entries").sha
    pipe = client().pipeline(transaction=False)
    for board, _rules, member, encoded in submissions:
        if encoded is not None:
            pipe.evalsha(set_entries, 3, board_key(board), rebuild_key(board), rebuild_lock_key(board), encoded, member)
        pipe.delete(profile_key(member))
    for board, rules in {board: rules for board, rules, _member, _encoded in submissions}.items():
        pipe.hset(board_config_key(board), mapping=rules)
    return pipe


def set_entries(board: str, entries: Sequence[Entry]) -> None:
    """set_entry for a batch, on the live board and on a rebuild in progress."""
    keys = [board_key(board), rebuild_key(board), rebuild_lock_key(board)]
    with _unavailable_on_error():
        for start in range(0, len(entries), SCRIPT_BATCH):
            _script("set_entries")(keys=keys, args=list(chain.from_iterable(entries[start : start + SCRIPT_BATCH])))


def publish_rules(board: str, rules: dict[str, str | int]) -> None:
    """Store the board's rules beside it, so reads can decode entries without SQL."""
    with _unavailable_on_error():
        client().hset(board_config_key(board), mapping=rules)


def start_rebuild(board: str) -> None:
    """Take the board's rebuild lock and start an empty rebuild key; RebuildInProgress if taken."""
    with _unavailable_on_error():
        if not client().set(rebuild_lock_key(board), "1", nx=True, ex=REBUILD_LOCK_SECONDS):
            raise RebuildInProgress(board)
        client().delete(rebuild_key(board))


def load_entries(board: str, entries: Sequence[Entry]) -> None:
    """Write entries into the rebuild key, and keep the lock and key alive while the rebuild runs."""
    key, lock = rebuild_key(board), rebuild_lock_key(board)
    with _unavailable_on_error():
        pipe = client().pipeline(transaction=False)
        # NX: an entry a live write already set during the rebuild is newer than this read of SQL.
        pipe.execute_command("ZADD", key, "NX", *chain.from_iterable(entries))
        pipe.expire(key, REBUILD_KEY_TTL_SECONDS)
        pipe.expire(lock, REBUILD_LOCK_SECONDS)
        pipe.execute()


def swap_in(board: str) -> int:
    """Atomically make the rebuild key the live board (absent means empty) and release the lock."""
    live = board_key(board)
    keys = [
        live, rebuild_key(board), rebuild_lock_key(board), f"{live}:retired:{secrets.token_hex(8)}",
        board_built_key(board),
    ]  # fmt: skip
    with _unavailable_on_error():
        return _script("swap_board")(keys=keys)


def abandon_rebuild(board: str) -> None:
    with _unavailable_on_error():
        client().delete(rebuild_key(board), rebuild_lock_key(board))


# --- reads ------------------------------------------------------------------------------


def top(board: str, count: int, offset: int = 0) -> list[tuple[str, int]]:
    """(member, rank value) of the best `count` entries after `offset`, best first."""
    with _unavailable_on_error():
        flat = _script("top")(keys=[board_built_key(board), board_key(board)], args=[offset, offset + count - 1])
    require_built(board, flat is not None)
    return [(flat[i], decode_rank_value(float(flat[i + 1]))) for i in range(0, len(flat), 2)]


def rank_for(board: str, member: str) -> tuple[int, int] | None:
    """(1-based rank, rank value) of a member, read atomically, or None if absent."""
    with _unavailable_on_error():
        found = _script("rank")(keys=[board_built_key(board), board_key(board)], args=[member])
    require_built(board, found is not None)
    if not found:
        return None
    rank, score = found
    return rank + 1, decode_rank_value(float(score))


def require_built(board: str, built: int) -> None:
    if not built:
        raise BoardNotBuilt(board)


def mark_built(board: str) -> None:
    """A new, empty board is whole as it is."""
    with _unavailable_on_error():
        client().set(board_built_key(board), "1")


def server_run_id() -> str:
    with _unavailable_on_error():
        return client().info("server")["run_id"]


def boards_built_in() -> str | None:
    """The run id of the Redis process the boards were last all rebuilt into."""
    with _unavailable_on_error():
        return client().get(run_id_key())


def record_boards_built_in(run_id: str) -> None:
    with _unavailable_on_error():
        client().set(run_id_key(), run_id)


def take_lock(name: str, seconds: int) -> bool:
    """Take a lock shared by every worker, for at most `seconds`; False if another holds it."""
    with _unavailable_on_error():
        return bool(client().set(f"{settings.REDIS_KEY_PREFIX}:lock:{name}", "1", nx=True, ex=max(seconds, 1)))


def release_lock(name: str) -> None:
    with _unavailable_on_error():
        client().delete(f"{settings.REDIS_KEY_PREFIX}:lock:{name}")


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


# Submodules build on the client above; their commands are part of this package's interface.
from .profiles import cache_profile, cached_profile, forget_profile, forget_profiles, profile_key  # noqa: E402, F401
from .ratelimit import hit_limits  # noqa: E402, F401
from .reads import around, entries_of, page, ranks_of  # noqa: E402, F401
