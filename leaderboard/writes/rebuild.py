"""Rebuilding boards in Redis from SQL, checking them against SQL, and rebuilding them all when
Redis restarted or lost data.

A rebuild streams each player's entry into the board's rebuild key, which live writes also reach
while it runs, and swaps it in atomically, so readers never see a partial board. A game with
regions is rebuilt shard by shard, each from its region's entries.
"""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from django.db import connection

from .. import redis_store
from ..exceptions import BoardUnavailable, RebuildInProgress
from ..limits import SEQUENCE_LIMIT
from ..models import Board, BoardEntry, Player
from ..rules import ASC, DESC, BoardRules

logger = logging.getLogger(__name__)

RECOVERY_LOCK_SECONDS = 600
CHUNK_SIZE = 10_000
DRIFT_EXAMPLES = 10

# Every entry of a board, encoded by the database exactly as redis_store.encode does (the rank
# value is value - min_score on a desc board, max_score - value on an asc one). Raw SQL because
# this is the rebuild's hot loop: at 1,000,000 players it streams in about 1 s where a queryset
# took nearly 3 s. Best first, because Redis inserts a sorted run about three times faster.
ENTRIES_SQL = f"""
    SELECT ({{rank_value}}) * {SEQUENCE_LIMIT} + {SEQUENCE_LIMIT - 1} - entry.reached_seq AS encoded, player.username
    FROM {BoardEntry._meta.db_table} AS entry
    JOIN {Player._meta.db_table} AS player ON player.id = entry.player_id
    WHERE entry.board_id = %s AND entry.region = %s
    ORDER BY encoded DESC
"""
RANK_VALUE_SQL = {DESC: "entry.value - %s", ASC: "%s - entry.value"}


@dataclass(frozen=True)
class Shard:
    """One Redis board of a game, and the region whose entries it holds: "" (everyone's) on a game
    without regions; None (nobody's) for a game with regions' own board, which holds its header."""

    name: str
    region: str | None


def shards(board: Board) -> list[Shard]:
    """The game's boards in Redis: its one board, or its own and one per region."""
    if not board.regions:
        return [Shard(board.slug, "")]
    return [
        Shard(board.slug, None),
        *(Shard(redis_store.shard(board.slug, region, board.rules.regions), region) for region in board.regions),
    ]


@dataclass(frozen=True)
class RebuildResult:
    board: str
    players: int
    seconds: float


@dataclass
class BoardDrift:
    board: str
    rules: BoardRules
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    wrong: list[tuple[str, int, int]] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    held_by: str = ""  # the Redis server holding the board: its address and the slots it serves

    @property
    def clean(self) -> bool:
        return not (self.missing or self.wrong or self.extra)


def rebuild_board(
    *, board: Board, chunk_size: int = CHUNK_SIZE, progress: Callable[[int], None] = None
) -> RebuildResult:
    """Replace the game's boards in Redis by every player's entry in SQL, one shard after another."""
    started = time.perf_counter()
    loaded = sum(rebuild_shard(board=board, shard=shard, chunk_size=chunk_size, progress=progress).players
                 for shard in shards(board))  # fmt: skip
    return RebuildResult(board.slug, loaded, time.perf_counter() - started)


def rebuild_shard(
    *, board: Board, shard: Shard, chunk_size: int = CHUNK_SIZE, progress: Callable[[int], None] = None
) -> RebuildResult:
    """Replace one board of the game in Redis by its entries in SQL; one rebuild per board at a time."""
    started = time.perf_counter()
    # The lock comes first: a score committed after it is also written to the rebuild key by
    # its mirror, and one committed before it is in the SQL read that starts after it.
    redis_store.start_rebuild(shard.name)
    try:
        loaded = _load_rebuild_key(board, shard, chunk_size, progress)
    except BaseException:
        _abandon_rebuild(shard)
        raise
    redis_store.swap_in(shard.name, board.rules)
    return RebuildResult(shard.name, loaded, time.perf_counter() - started)


def _load_rebuild_key(board: Board, shard: Shard, chunk_size: int, progress: Callable[[int], None] | None) -> int:
    loaded = 0
    for entries in entry_batches(board, shard, batch_size=chunk_size):
        redis_store.load_entries(shard.name, entries)
        loaded += len(entries)
        if progress:
            progress(len(entries))
    return loaded


def _abandon_rebuild(shard: Shard) -> None:
    # If Redis itself failed, the lock and the key expire on their own.
    with suppress(BoardUnavailable):
        redis_store.abandon_rebuild(shard.name)


def entry_batches(board: Board, shard: Shard, *, batch_size: int = CHUNK_SIZE) -> Iterator[list[redis_store.Entry]]:
    """Every entry of the shard, encoded, best first, in batches."""
    if shard.region is None:
        return
    sql = ENTRIES_SQL.format(rank_value=RANK_VALUE_SQL[board.order])
    bound = board.min_points if board.order == DESC else board.max_points
    # chunked_cursor streams (a server-side cursor on PostgreSQL), so memory stays flat.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [bound, board.id, shard.region])
        while rows := cursor.fetchmany(batch_size):
            yield rows


def check_board(*, board: Board, chunk_size: int = CHUNK_SIZE) -> BoardDrift:
    """The drift of every board of the game, as one (see check_shard)."""
    drift = BoardDrift(board.slug, board.rules)
    for shard in shards(board):
        found = check_shard(board=board, shard=shard, chunk_size=chunk_size)
        drift.checked += found.checked
        drift.missing += found.missing
        drift.wrong += found.wrong
        drift.extra += found.extra
    return drift


def check_shard(*, board: Board, shard: Shard, chunk_size: int = CHUNK_SIZE) -> BoardDrift:
    """Compare one board of the game in Redis with SQL without writing; scores that land meanwhile
    may show as drift."""
    drift = BoardDrift(shard.name, board.rules, held_by=_held_by(shard.name))
    for entries in entry_batches(board, shard, batch_size=chunk_size):
        found = redis_store.encoded_scores(shard.name, [member for _, member in entries])
        for (expected, member), actual in zip(entries, found, strict=True):
            _compare(drift, member, expected, actual)
        drift.checked += len(entries)
    present = drift.checked - len(drift.missing)
    if redis_store.total_members(shard.name) > present:
        drift.extra = _extra_members(board, shard)
    return drift


def _held_by(name: str) -> str:
    master = redis_store.master_of(name, redis_store.masters())
    return "" if master is None else f"{master.address} (slots {master.slots})"


def _value(drift: BoardDrift, encoded: int) -> int:
    return drift.rules.value_of(redis_store.decode_rank_value(encoded))


def _compare(drift: BoardDrift, member: str, expected: int, actual: int | None) -> None:
    if actual is None:
        drift.missing.append(member)
    elif actual != expected:
        drift.wrong.append((member, _value(drift, expected), _value(drift, actual)))


def _extra_members(board: Board, shard: Shard) -> list[str]:
    extra = []
    for members in redis_store.iter_members(shard.name):
        entries = BoardEntry.objects.filter(board=board, region=shard.region, player__username__in=members)
        known = set(entries.values_list("player__username", flat=True))
        extra.extend(member for member in members if member not in known)
    return extra


@contextmanager
def rebuilding_all_boards() -> Iterator[None]:
    """Around a rebuild of every board: once it is done, record the Redis processes they were built
    into, as they were before the first began. A shard that restarted, failed over or lost its data
    meanwhile has another run id, or none recorded, so recovery still rebuilds what it lost."""
    run_ids = redis_store.run_ids()
    yield
    redis_store.record_boards_built_in(run_ids)


def rebuild_all_boards() -> list[str]:
    """Rebuild every board and record which Redis they are built in; returns the boards rebuilt."""
    with rebuilding_all_boards():
        return rebuild_boards(list(Board.objects.order_by("slug")))


def boards_not_whole() -> list[Board]:
    """The games Redis does not hold whole (a board without its header): lost, or kept in an older layout."""
    boards = list(Board.objects.order_by("slug"))
    names = [shard.name for board in boards for shard in shards(board)]
    whole = dict(zip(names, redis_store.whole_boards(names), strict=True))
    return [board for board in boards if not all(whole[shard.name] for shard in shards(board))]


def rebuild_boards(boards: list[Board]) -> list[str]:
    """Rebuild these boards, skipping one another process is rebuilding; the boards rebuilt."""
    rebuilt = []
    for board in boards:
        with suppress(RebuildInProgress):
            rebuild_board(board=board)
            rebuilt.append(board.slug)
    return rebuilt


def recover_if_needed() -> bool:
    """Rebuild the boards of every shard whose Redis is not the process they were last rebuilt into
    (a restart or a failover changes the run id; data lost without one, FLUSHALL, loses the record):
    acknowledged mirrors may be gone, and only a rebuild restores them. One worker does it."""
    serving = redis_store.run_ids()
    stale = redis_store.stale_slots(redis_store.boards_built_in(), serving)
    if not stale or not redis_store.take_lock("recovery", RECOVERY_LOCK_SECONDS):
        return False
    try:
        boards = list(Board.objects.order_by("slug"))
        affected = [board for board in boards if _any_in(stale, board)]
        rebuilt = rebuild_boards(affected)
        redis_store.record_boards_built_in(serving)
    finally:
        redis_store.release_lock("recovery")
    logger.warning(
        "redis restarted, failed over or lost data in slots %s; rebuilt %s", stale, rebuilt,
        extra={"event": "recovery", "slots": stale, "boards": rebuilt},
    )  # fmt: skip
    return True


def _any_in(slots: list[str], board: Board) -> bool:
    """Whether any of the game's boards in Redis (its regions' too) lives in these slots."""
    return bool(redis_store.boards_in(slots, [shard.name for shard in shards(board)]))
