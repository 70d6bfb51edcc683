"""Reads for the v1 API: each one round trip, with the board's rules read in the same transaction."""

from collections.abc import Sequence

from . import (
    _script,
    _unavailable_on_error,
    board_built_key,
    board_config_key,
    board_key,
    client,
    decode_rank_value,
    require_built,
)

Rules = dict[str, str]


def page(board: str, offset: int, count: int) -> tuple[Rules, int, list[tuple[str, int]]]:
    """(rules, entries on the board, [(member, rank value)] from offset, best first)."""
    with _unavailable_on_error():
        pipe = client().pipeline(transaction=True)
        pipe.hgetall(board_config_key(board))
        pipe.exists(board_built_key(board))
        pipe.zcard(board_key(board))
        pipe.zrevrange(board_key(board), offset, offset + count - 1, withscores=True)
        rules, built, total, rows = pipe.execute()
    _whole(board, rules, built)
    return rules, total, [(member, decode_rank_value(score)) for member, score in rows]


def around(board: str, member: str, context: int) -> tuple[Rules, tuple | None]:
    """(rules, None or (0-based rank, rank value, total, [(member, rank value)] around it))."""
    with _unavailable_on_error():
        pipe = client().pipeline(transaction=True)
        pipe.hgetall(board_config_key(board))
        pipe.exists(board_built_key(board))
        _script("around")(keys=[board_key(board)], args=[member, context], client=pipe)
        rules, built, found = pipe.execute()
    _whole(board, rules, built)
    if not found:
        return rules, None
    rank, score, total, window = found
    pairs = [(window[i], decode_rank_value(float(window[i + 1]))) for i in range(0, len(window), 2)]
    return rules, (rank, decode_rank_value(float(score)), total, pairs)


def entries_of(board: str, members: Sequence[str]) -> tuple[Rules, list[tuple[str, int, int]]]:
    """(rules, [(member, 0-based rank, rank value)] for the members that have an entry)."""
    key = board_key(board)
    with _unavailable_on_error():
        pipe = client().pipeline(transaction=True)
        pipe.hgetall(board_config_key(board))
        pipe.exists(board_built_key(board))
        for member in members:
            pipe.zrevrank(key, member)
            pipe.zscore(key, member)
        rules, built, *answers = pipe.execute()
    _whole(board, rules, built)
    found = zip(members, answers[0::2], answers[1::2], strict=True)
    return rules, [(m, rank, decode_rank_value(score)) for m, rank, score in found if rank is not None]


def ranks_of(member: str, boards: Sequence[str]) -> list[int | None]:
    """The member's 0-based rank on each board (None where absent)."""
    with _unavailable_on_error():
        pipe = client().pipeline(transaction=False)
        for board in boards:
            pipe.zrevrank(board_key(board), member)
        return pipe.execute()


def _whole(board: str, rules: Rules, built: int) -> None:
    # Without rules the game is unknown to Redis (the caller decides); with them, the board
    # must also be whole.
    if rules:
        require_built(board, built)
