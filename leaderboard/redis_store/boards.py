"""Board writes and upkeep: mirroring committed entries, new boards' headers, rebuilds, checks
against SQL, and the locks and run ids that recovery relies on.

Entries only move to newer states (set_entries.lua), so a mirror replayed late or twice changes
nothing. A rebuild holds the board's rebuild lock; while it does, every write also lands in the
rebuild key, so the board swapped in misses nothing committed during the rebuild.
"""

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

from ..exceptions import RebuildInProgress
from ..rules import BoardRules
from .client import client, execute, unavailable_on_error
from .keys import (
    HEADER_SCORE,
    Entry,
    board_key,
    changes_channel,
    decode_sequence,
    game_boards,
    game_of,
    header,
    is_shard,
    lock_key,
    moved_out_key,
    profile_key,
    rebuild_key,
    rebuild_lock_key,
    region_boards,
    rules_of_header,
)
from .regions import counts_above

REBUILD_KEY_TTL_SECONDS = 3600
# A rebuild refreshes its lock with every batch; a rebuild that died frees the board after this.
REBUILD_LOCK_SECONDS = 60
# Score/member pairs per script call: keeps each call, which blocks Redis, short.
SCRIPT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class MirroredEntry:
    """A committed score's effect on its board: the entry's new state, or None if unchanged. A
    player moved to another region's board leaves `moved_from` once the entry is on `board`, so
    a reader finds them on one board or both (the same encoded score), never on neither."""

    board: str
    rules: BoardRules
    member: str
    encoded: int | None
    moved_from: str | None = None


def mirror(entries: Sequence[MirroredEntry]) -> list[int | None]:
    """After players score: set their entries, drop their cached profiles, announce the games
    whose boards changed (live servers listen), and read each player's
    0-based rank after the write (None where the board is not whole; across every region of a
    game with regions). One pipeline for all, so a hung Redis costs the batch one timeout, not one
    each; a second round counts the ranks of players on games with regions."""
    if not entries:
        return []
    writes = []
    for entry in entries:
        if entry.moved_from is not None:
            writes.append(("HDEL", moved_out_key(entry.board), entry.member))  # it may be moving back
        if entry.encoded is not None:
            writes.append(("script", "set_entries", _entry_keys(entry.board), [entry.encoded, entry.member]))
        if entry.moved_from is not None:
            writes += _leave(entry.moved_from, entry.member, entry.encoded)
        writes.append(("DEL", profile_key(entry.member)))
    changed = dict.fromkeys(entry.board for entry in entries if entry.encoded is not None)
    writes += list(dict.fromkeys(_announce(board) for board in changed))
    boards = list(dict.fromkeys(entry.board for entry in entries))
    regional = [entry for entry in entries if entry.rules.regions]
    reads = [("ZREVRANGE", board_key(board), 0, 0) for board in boards]
    reads += [("ZREVRANK", board_key(entry.board), entry.member) for entry in entries]
    reads += [("ZSCORE", board_key(entry.board), entry.member) for entry in regional]
    replies = execute(writes + reads)[len(writes) :]
    whole = {
        board: bool(top) and rules_of_header(top[0]) is not None
        for board, top in zip(boards, replies[: len(boards)], strict=True)
    }
    ranks = replies[len(boards) : len(boards) + len(entries)]
    ranks = [
        rank - 1 if rank is not None and whole[entry.board] else None
        for entry, rank in zip(entries, ranks, strict=True)
    ]
    if regional:
        _rank_globally(entries, ranks, replies[len(boards) + len(entries) :])
    return ranks


def _rank_globally(entries: Sequence[MirroredEntry], ranks: list[int | None], scores: list) -> None:
    """Replace the shard ranks of entries on games with regions by their ranks across every shard."""
    regional = [i for i, entry in enumerate(entries) if entry.rules.regions]
    counted = [(i, int(float(score))) for i, score in zip(regional, scores, strict=True) if ranks[i] is not None]
    queries = [(region_boards(game_of(entries[i].board), entries[i].rules.regions), encoded) for i, encoded in counted]
    for (i, _encoded), above in zip(counted, counts_above(queries), strict=True):
        ranks[i] = above


def set_entries(board: str, entries: Sequence[Entry]) -> None:
    """Set entries to these states, on the live board and on a rebuild in progress, unless Redis
    already holds newer ones; announce the change."""
    for start in range(0, len(entries), SCRIPT_BATCH):
        batch = list(chain.from_iterable(entries[start : start + SCRIPT_BATCH]))
        execute([("script", "set_entries", _entry_keys(board), batch), _announce(board)])


def _announce(board: str) -> tuple:
    """The command telling the live servers that the board's game changed."""
    game = game_of(board)
    return ("PUBLISH", changes_channel(game), game)


def set_entry(board: str, member: str, encoded: int) -> None:
    set_entries(board, [(encoded, member)])


def _entry_keys(board: str) -> list[str]:
    keys = [board_key(board), rebuild_key(board), rebuild_lock_key(board)]
    return [*keys, moved_out_key(board)] if is_shard(board) else keys


def _leave(board: str, member: str, encoded: int) -> list[tuple]:
    """A moved player off the board they left, and kept off it: a late mirror of a score from
    before the move must not bring them back."""
    return [
        ("HSET", moved_out_key(board), member, decode_sequence(encoded)),
        ("ZREM", board_key(board), member),
        ("ZREM", rebuild_key(board), member),
    ]


def whole_boards(boards: Sequence[str]) -> list[bool]:
    """Whether Redis holds each board whole (under its header), in one round trip."""
    return [rules is not None for rules in board_rules(boards)]


def board_rules(boards: Sequence[str]) -> list[BoardRules | None]:
    """The rules each board's header names (None where it has none: not whole), in one round trip."""
    tops = execute([("ZREVRANGE", board_key(board), 0, 0) for board in boards]) if boards else []
    return [rules_of_header(top[0]) if top else None for top in tops]


def publish_board(game: str, rules: BoardRules) -> None:
    """A new game's boards (one, or one per region and the game's own): empty, and whole as they
    are, under their header."""
    named = header(rules)
    execute([("ZADD", board_key(board), HEADER_SCORE, named) for board in game_boards(game, rules)])


def start_rebuild(board: str) -> None:
    """Take the board's rebuild lock and start an empty rebuild key; RebuildInProgress if taken."""
    if not execute([("SET", rebuild_lock_key(board), "1", "NX", "EX", REBUILD_LOCK_SECONDS)])[0]:
        raise RebuildInProgress(board)
    execute([("DEL", rebuild_key(board))])


def load_entries(board: str, entries: Sequence[Entry]) -> None:
    """Write entries into the rebuild key, and keep the lock and key alive while the rebuild runs."""
    key = rebuild_key(board)
    execute(
        [
            # NX: an entry a live write already set during the rebuild is newer than this read of SQL.
            ("ZADD", key, "NX", *chain.from_iterable(entries)),
            ("EXPIRE", key, REBUILD_KEY_TTL_SECONDS),
            ("EXPIRE", rebuild_lock_key(board), REBUILD_LOCK_SECONDS),
        ]
    )


def swap_in(board: str, rules: BoardRules) -> int:
    """Atomically make the rebuild key the live board (absent means empty), under its header, and
    release the lock."""
    live = board_key(board)
    retired = f"{live}:retired:{secrets.token_hex(8)}"
    keys = [live, rebuild_key(board), rebuild_lock_key(board), retired]
    return execute([("script", "swap_board", keys, [header(rules)]), _announce(board)])[0]


def abandon_rebuild(board: str) -> None:
    execute([("DEL", rebuild_key(board), rebuild_lock_key(board))])


def total_members(board: str) -> int:
    """The board's entries (its header left out)."""
    return board_sizes([board])[0]


def board_sizes(boards: Sequence[str]) -> list[int]:
    """Each board's entries (its header left out), in one round trip."""
    return execute([("ZCOUNT", board_key(board), "-inf", "(+inf") for board in boards]) if boards else []


def encoded_scores(board: str, members: Sequence[str]) -> list[int | None]:
    """Each member's encoded score on the live board, or None where absent."""
    if not members:
        return []
    scores = execute([("ZMSCORE", board_key(board), *members)])[0]
    return [None if score is None else int(float(score)) for score in scores]


def iter_members(board: str, batch_size: int = 1000) -> Iterable[list[str]]:
    """Every member of the live board, in batches (ZSCAN: never blocks Redis for long)."""
    with unavailable_on_error():
        batch: list[str] = []
        for member, _score in client().zscan_iter(board_key(board), count=batch_size):
            if rules_of_header(member) is not None:
                continue
            batch.append(member)
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def take_lock(name: str, seconds: int) -> bool:
    """Take a lock shared by every worker, for at most `seconds`; False if another holds it."""
    return bool(execute([("SET", lock_key(name), "1", "NX", "EX", max(seconds, 1))])[0])


def release_lock(name: str) -> None:
    execute([("DEL", lock_key(name))])
