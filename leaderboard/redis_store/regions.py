"""Reads across the region shards of a game: each read is one round trip carrying every shard's
commands (on a cluster, one per node), and no command touches two shards, which may live on
different nodes. The first round of a read brings each shard's header, so a shard that is not
whole fails it (BoardNotBuilt). Merging the shards' answers is the selectors' (regional.py).

Encoded scores are unique per submission (see keys.py), so bounds on them are exact: `(score`
excludes the score itself, and `(+inf` excludes the header above every entry.
"""

from collections.abc import Sequence

from ..exceptions import BoardNotBuilt
from ..rules import BoardRules
from .client import execute
from .keys import board_key, rules_of_header

# (member, encoded score) pairs, in the order Redis gave them.
Scored = list[tuple[str, int]]


def tops(boards: Sequence[str], count: int, *, total: bool) -> tuple[BoardRules, list[int] | None, list[Scored]]:
    """(rules, each board's size if asked, each board's best `count` entries)."""
    keys = [board_key(board) for board in boards]
    replies = execute(
        [("ZREVRANGE", key, 0, count, "WITHSCORES") for key in keys] + ([_size(key) for key in keys] if total else [])
    )
    ranges = replies[: len(keys)]
    rules = _rules(boards, [reply[:1] for reply in ranges])
    return rules, replies[len(keys) :] if total else None, [_scored(reply[2:]) for reply in ranges]


def scores(
    boards: Sequence[str], members: Sequence[str], *, total: bool
) -> tuple[BoardRules, list[int] | None, list[list[int | None]]]:
    """(rules, each board's size if asked, each board's encoded score of each member, None where absent)."""
    keys = [board_key(board) for board in boards]
    commands = [("ZREVRANGE", key, 0, 0) for key in keys] + [("ZMSCORE", key, *members) for key in keys]
    replies = execute(commands + ([_size(key) for key in keys] if total else []))
    rules = _rules(boards, replies[: len(keys)])
    found = [
        [None if score is None else int(float(score)) for score in reply]
        for reply in replies[len(keys) : 2 * len(keys)]
    ]
    return rules, replies[2 * len(keys) :] if total else None, found


def around(boards: Sequence[str], encoded: int, context: int) -> tuple[list[int], list[Scored], list[Scored]]:
    """Around an encoded score, on each board: (how many entries rank above it, the `context`
    entries just above it, nearest first, and the `context` just below it, nearest first)."""
    commands = []
    for key in (board_key(board) for board in boards):
        commands += [
            ("ZCOUNT", key, f"({encoded}", "(+inf"),
            ("ZRANGEBYSCORE", key, f"({encoded}", "(+inf", "WITHSCORES", "LIMIT", 0, context),
            ("ZREVRANGEBYSCORE", key, f"({encoded}", "-inf", "WITHSCORES", "LIMIT", 0, context),
        ]
    replies = execute(commands)
    return replies[0::3], [_scored(reply) for reply in replies[1::3]], [_scored(reply) for reply in replies[2::3]]


def counts_above(queries: Sequence[tuple[Sequence[str], int]]) -> list[int]:
    """For each (boards, encoded score), how many entries of those boards rank above the score."""
    commands = [("ZCOUNT", board_key(board), f"({encoded}", "(+inf") for boards, encoded in queries for board in boards]
    replies = iter(execute(commands) if commands else [])
    return [sum(next(replies) for _board in boards) for boards, _encoded in queries]


def _size(key: str) -> tuple:
    return ("ZCOUNT", key, "-inf", "(+inf")


def _rules(boards: Sequence[str], tops: list[list]) -> BoardRules:
    """The rules the boards' headers name; BoardNotBuilt for the first board without one."""
    found = [rules_of_header(top[0]) if top else None for top in tops]
    for board, rules in zip(boards, found, strict=True):
        if rules is None:
            raise BoardNotBuilt(board)
    return found[0]


def _scored(flat: list) -> Scored:
    return [(flat[i], int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]
