"""Rebuilding boards in Redis from SQL, and checking them against SQL.

A rebuild streams each player's best entry into a temporary key, replays what was committed
meanwhile, and swaps the key in with RENAME, so readers never see a partial board.
"""
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.db.models import F, Max

from .. import redis_store
from ..exceptions import BoardNotFound
from ..limits import SEQUENCE_LIMIT
from ..models import Board, PendingMirror, Score

CHUNK_SIZE = 10_000
DRIFT_EXAMPLES = 10

# The same number as redis_store.encode(points, id), computed by the database.
ENCODED_SCORE = F("points") * SEQUENCE_LIMIT + (SEQUENCE_LIMIT - 1) - F("id")


@dataclass(frozen=True)
class RebuildResult:
    board: str
    players: int
    replayed: int
    seconds: float


@dataclass
class BoardDrift:
    board: str
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    wrong: list[tuple[str, int, int]] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.wrong or self.extra)


def boards(slug: str | None = None) -> list[Board]:
    """Every board, or the one named (BoardNotFound if there is none)."""
    found = list(Board.objects.order_by("slug") if slug is None else Board.objects.filter(slug=slug))
    if slug is not None and not found:
        raise BoardNotFound(slug)
    return found


def rebuild_board(*, board: Board, chunk_size: int = CHUNK_SIZE, progress: Callable[[int], None] = None) -> RebuildResult:
    """Replace the board in Redis by the best entry of every player in SQL."""
    started = time.perf_counter()
    snapshot_id = _last_score_id(board)
    key = redis_store.rebuild_key(board.slug)
    loaded = 0
    for entries in _chunked(best_entries(board, upto_id=snapshot_id), chunk_size):
        redis_store.load_entries(key, entries)
        loaded += len(entries)
        if progress:
            progress(len(entries))
    replayed = _replay_since(board, snapshot_id, key)
    redis_store.swap_in(board.slug, key)
    # Scores mirrored into the old key just before the swap are replayed onto the new one.
    final_id = _last_score_id(board)
    _replay_since(board, snapshot_id, redis_store.board_key(board.slug))
    PendingMirror.objects.filter(score__board=board, score_id__lte=final_id).delete()
    return RebuildResult(board.slug, loaded, replayed, time.perf_counter() - started)


def best_entries(board: Board, *, after_id: int = 0, upto_id: int | None = None) -> Iterator[redis_store.Entry]:
    """Each player's best entry on the board among scores with after_id < id <= upto_id."""
    scores = Score.objects.filter(board=board, id__gt=after_id)
    if upto_id is not None:
        scores = scores.filter(id__lte=upto_id)
    rows = (
        scores.values("player__username")
        .annotate(best=Max(ENCODED_SCORE))
        .values_list("player__username", "best")
        .order_by()
    )
    for username, best in rows.iterator(chunk_size=CHUNK_SIZE):
        yield redis_store.Entry(username, best)


def _replay_since(board: Board, after_id: int, key: str) -> int:
    replayed = 0
    for entries in _chunked(best_entries(board, after_id=after_id), CHUNK_SIZE):
        redis_store.raise_entries(key, entries)
        replayed += len(entries)
    return replayed


def _last_score_id(board: Board) -> int:
    return Score.objects.filter(board=board).aggregate(last=Max("id"))["last"] or 0


def _chunked(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def check_board(*, board: Board, chunk_size: int = CHUNK_SIZE) -> BoardDrift:
    """Compare the board in Redis with SQL without writing; scores that land meanwhile may show as drift."""
    drift = BoardDrift(board.slug)
    for entries in _chunked(best_entries(board), chunk_size):
        actual = redis_store.encoded_scores(board.slug, [entry.member for entry in entries])
        for entry, found in zip(entries, actual, strict=True):
            _compare(drift, entry, found)
        drift.checked += len(entries)
    present = drift.checked - len(drift.missing)
    if redis_store.total_members(board.slug) > present:
        drift.extra = _extra_members(board)
    return drift


def _compare(drift: BoardDrift, entry: redis_store.Entry, found: int | None) -> None:
    if found is None:
        drift.missing.append(entry.member)
    elif found != entry.encoded:
        drift.wrong.append((entry.member, redis_store.decode_points(entry.encoded), redis_store.decode_points(found)))


def _extra_members(board: Board) -> list[str]:
    extra = []
    for members in redis_store.iter_members(board.slug):
        known = set(
            Score.objects.filter(board=board, player__username__in=members)
            .values_list("player__username", flat=True)
            .distinct()
        )
        extra.extend(member for member in members if member not in known)
    return extra
