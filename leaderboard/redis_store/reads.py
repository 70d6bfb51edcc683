"""Board reads, each one round trip (with the call's rate-limit charge riding along, if one waits),
each checking the board's header: a board without one is not whole (BoardNotBuilt; ranks_of
answers None for it instead).

A page is plain commands: from the top, one ZREVRANGE that brings the header with the entries,
which costs Redis a third of a script; so is a rank alone (the header, ZREVRANK, ZSCORE). A rank
with neighbours and several players' entries are read_board.lua: each needs a rank before it can
read on, and one script costs less than several commands in a pipeline.

Scores are decoded inline (int(float(score)) >> SEQUENCE_BITS, as keys.decode_rank_value does):
a call per entry costs more than the decoding on these paths.
"""

from collections.abc import Sequence

from ..exceptions import BoardNotBuilt
from ..limits import SEQUENCE_BITS
from ..rules import BoardRules
from .client import execute
from .keys import board_key, rules_of_header

# (member, rank value) pairs, best first.
Ranked = list[tuple[str, int]]


def page(board: str, offset: int, count: int, *, total: bool = True) -> tuple[BoardRules, int | None, Ranked]:
    """(rules, entries on the board if asked, the `count` entries from 0-based position offset)."""
    key = board_key(board)
    # From the top, the header comes with the entries; further down, it is read beside them.
    rows = [("ZREVRANGE", key, 0, count, "WITHSCORES")] if offset == 0 else [
        ("ZREVRANGE", key, 0, 0, "WITHSCORES"), ("ZREVRANGE", key, offset + 1, offset + count, "WITHSCORES"),
    ]  # fmt: skip
    replies = execute(rows + ([_count(key)] if total else []))
    rules = _rules(board, replies[0])
    entries = _pairs(replies[0], 2) if offset == 0 else _pairs(replies[1])
    return rules, replies[-1] if total else None, entries


def around(
    board: str, member: str, context: int, *, total: bool = True
) -> tuple[BoardRules, int | None, tuple[int, Ranked] | None]:
    """(rules, entries on the board (None if not asked: a rank alone needs no count), None if the
    member has no entry, else (its 0-based rank, the entries from rank - context to rank + context))."""
    if context == 0:
        return _alone(board, member, total)
    reply = _scripted(board, "around", [member, context], total=total)
    if len(reply) == 2:
        return reply[0], reply[1], None  # the count is None unless asked for
    rules, count, found, window = reply
    return rules, count, (found, _pairs(window))


def around_each(
    board: str, members: Sequence[str], context: int
) -> tuple[BoardRules, int, list[tuple[int, Ranked] | None]]:
    """around() of several members in one round trip: (rules, entries on the board, for each
    member None or (its 0-based rank, the entries from rank - context to rank + context))."""
    key = board_key(board)
    replies = execute([("script", "read_board", [key], ["around", "1", member, context]) for member in members])
    if not all(replies):
        raise BoardNotBuilt(board)
    found = [None if len(reply) == 2 else (reply[2], _pairs(reply[3])) for reply in replies]
    return rules_of_header(replies[0][0]), replies[0][1], found


def _alone(board: str, member: str, total: bool) -> tuple[BoardRules, int | None, tuple[int, Ranked] | None]:
    # Without neighbours a rank needs no script: plain commands cost Redis a fraction of one.
    key = board_key(board)
    replies = execute([*_rank_commands(key, member), ("ZSCORE", key, member), *([_count(key)] if total else [])])
    rules, rank, score = _rules(board, replies[0]), replies[1], replies[2]
    count = replies[3] if total else None
    if rank is None:
        return rules, count, None
    return rules, count, (rank - 1, [(member, int(float(score)) >> SEQUENCE_BITS)])


def entries_of(board: str, members: Sequence[str]) -> tuple[BoardRules, list[tuple[str, int, int]]]:
    """(rules, [(member, 0-based rank, rank value)] of the members that have an entry)."""
    rules, _total, found = _scripted(board, "entries", members, total=False)
    present = zip(members, found[0::2], found[1::2], strict=True)
    return rules, [
        (member, rank, int(float(score)) >> SEQUENCE_BITS) for member, rank, score in present if rank is not None
    ]


def ranks_of(member: str, boards: Sequence[str]) -> list[int | None]:
    """The member's 0-based rank on each board (None where absent, or where the board is not whole)."""
    commands = [command for board in boards for command in _rank_commands(board_key(board), member)]
    replies = execute(commands) if commands else []
    tops, ranks = replies[0::2], replies[1::2]
    return [None if found is None or not _header(top) else found - 1 for top, found in zip(tops, ranks, strict=True)]


def _rank_commands(key: str, member: str) -> list[tuple]:
    return [("ZREVRANGE", key, 0, 0, "WITHSCORES"), ("ZREVRANK", key, member)]


def _count(key: str) -> tuple:
    """The board's entries: every member below the header."""
    return ("ZCOUNT", key, "-inf", "(+inf")


def _scripted(board: str, read: str, args: Sequence, *, total: bool) -> list:
    (reply,) = execute([("script", "read_board", [board_key(board)], [read, "1" if total else "0", *args])])
    if not reply:
        raise BoardNotBuilt(board)
    return [rules_of_header(reply[0]), *reply[1:]]


def _rules(board: str, top: list) -> BoardRules:
    rules = _header(top)
    if rules is None:
        raise BoardNotBuilt(board)
    return rules


def _header(top: list) -> BoardRules | None:
    return rules_of_header(top[0]) if top else None


def _pairs(flat: list, start: int = 0) -> Ranked:
    """(member, rank value) of member, score, member, score, ... from position `start`."""
    return [(flat[i], int(float(flat[i + 1])) >> SEQUENCE_BITS) for i in range(start, len(flat), 2)]
