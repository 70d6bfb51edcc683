"""Every Redis key SpeedRank uses, and the exact score encoding of a board entry.

A board is a sorted set of player ids. An entry's score is

    rank_value << SEQUENCE_BITS | (SEQUENCE_LIMIT - 1 - sequence)

where rank_value (0..1,048,575, see rules.BoardRules) is larger for a better entry and sequence
is the id of the Score that brought the entry to its value. Better entries sort higher; at equal
values the earlier submission sorts higher. 20 + 33 = 53 bits, so every score is an integer a
double stores exactly. The low bits also tell which of two states of an entry is newer.

A board's keys share the hash tag {game}, so a script may touch them together on a cluster.
"""

from django.conf import settings

from ..limits import ENCODABLE_POINTS_MAX, SEQUENCE_BITS, SEQUENCE_LIMIT

# A board entry to write: (encoded score, member), the order ZADD takes them in, so a batch of
# rows from SQL goes to Redis without building an object per entry.
Entry = tuple[int, str]


def encode(rank_value: int, sequence: int) -> int:
    if not 0 <= rank_value <= ENCODABLE_POINTS_MAX or not 0 < sequence < SEQUENCE_LIMIT:
        raise ValueError(f"cannot encode rank_value={rank_value} sequence={sequence}")
    return rank_value << SEQUENCE_BITS | (SEQUENCE_LIMIT - 1 - sequence)


def decode_rank_value(score: float | str) -> int:
    return int(float(score)) >> SEQUENCE_BITS


def board_key(board: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:board:{{{board}}}"


def rules_key(board: str) -> str:
    """The board's rules (order, operator, min, max), so reads decode entries without SQL."""
    return f"{board_key(board)}:rules"


def built_key(board: str) -> str:
    # Set when a board is created or rebuilt, never by a single write: if Redis loses its data,
    # the marker goes with it, and reads know the board is not whole.
    return f"{board_key(board)}:built"


def rebuild_key(board: str) -> str:
    return f"{board_key(board)}:rebuild"


def rebuild_lock_key(board: str) -> str:
    return f"{board_key(board)}:rebuild-lock"


def run_id_key() -> str:
    """The run id of the Redis process every board was last rebuilt into."""
    return f"{settings.REDIS_KEY_PREFIX}:boards-built-in"


def lock_key(name: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:lock:{name}"


def rate_limit_key(scope: str, identity: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:rate:{scope}:{identity}"


def profile_key(player: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:profile:{player}"
