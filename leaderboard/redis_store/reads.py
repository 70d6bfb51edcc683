"""Board reads: each one call of read_board.lua, which also returns the board's rules and checks
the board is whole, so a read is one round trip (with the call's rate-limit charge riding along,
if one waits).

A read raises BoardNotFound if Redis holds no rules for the board (an unknown game, or rules Redis
lost: the caller tells which) and BoardNotBuilt if Redis does not hold the whole board.
"""

from collections.abc import Sequence

from ..exceptions import BoardNotBuilt, BoardNotFound
from ..rules import BoardRules
from .client import execute
from .keys import board_key, built_key, decode_rank_value, rules_key

# (member, rank value) pairs, best first.
Ranked = list[tuple[str, int]]


def page(board: str, offset: int, count: int) -> tuple[BoardRules, int, Ranked]:
    """(rules, entries on the board, the `count` entries from 0-based position offset)."""
    reply = _read(board, ["page", offset, offset + count - 1])
    rules, total, window = reply
    return rules, total, _pairs(window)


def around(board: str, member: str, context: int) -> tuple[BoardRules, int, tuple[int, Ranked] | None]:
    """(rules, entries on the board, None if the member has no entry, else (its 0-based rank,
    the entries from rank - context to rank + context)."""
    reply = _read(board, ["around", member, context])
    if len(reply) == 2:
        return reply[0], reply[1], None
    rules, total, rank, window = reply
    return rules, total, (rank, _pairs(window))


def entries_of(board: str, members: Sequence[str]) -> tuple[BoardRules, list[tuple[str, int, int]]]:
    """(rules, [(member, 0-based rank, rank value)] of the members that have an entry)."""
    rules, _total, found = _read(board, ["entries", *members])
    ranks, scores = found[0::2], found[1::2]
    present = zip(members, ranks, scores, strict=True)
    return rules, [(member, rank, decode_rank_value(score)) for member, rank, score in present if rank is not None]


def ranks_of(member: str, boards: Sequence[str]) -> list[int | None]:
    """The member's 0-based rank on each board (None where absent), in one round trip."""
    return execute([("ZREVRANK", board_key(board), member) for board in boards]) if boards else []


def _read(board: str, args: list) -> list:
    keys = [rules_key(board), built_key(board), board_key(board)]
    (reply,) = execute([("script", "read_board", keys, args)])
    if not reply:
        raise BoardNotFound(board)
    if len(reply) == 1:
        raise BoardNotBuilt(board)
    order, operator, min_score, max_score = reply[0]
    return [BoardRules(order, operator, int(min_score), int(max_score)), *reply[1:]]


def _pairs(flat: list) -> Ranked:
    return [(flat[i], decode_rank_value(flat[i + 1])) for i in range(0, len(flat), 2)]
