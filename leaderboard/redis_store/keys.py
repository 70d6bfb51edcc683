"""Every Redis key SpeedRank uses, and the exact score encoding of a board entry.

A board is a sorted set of player ids. An entry's score is

    rank_value << SEQUENCE_BITS | (SEQUENCE_LIMIT - 1 - sequence)

where rank_value (0..1,048,575, see rules.BoardRules) is larger for a better entry and sequence
is the id of the Score that brought the entry to its value. Better entries sort higher; at equal
values the earlier submission sorts higher. 20 + 33 = 53 bits, so every score is an integer a
double stores exactly. The low bits also tell which of two states of an entry is newer.

A whole board also holds one header member, above every entry (score +inf), that names the
board's rules: reads decode entries with them, and a board without its header is not whole
(Redis lost it, or it was never built), so no read serves it. Only creating a board and swapping
in a rebuild write the header; a player id cannot start with the header's control character.

A board's keys share the hash tag {game}, so a script may touch them together on a cluster.

A game with regions has one board per region, a shard named game@region~n (a game's slug has no
'@', so no shard is named like a game): its own hash tag, so its own slot on a cluster, which n
places (see shard()). Each shard holds the game's header, which then also names the regions, and
so does the game's own board, which holds nothing else: a read that does not know the game yet
learns its regions there.
"""

from functools import lru_cache
from itertools import count

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from ..limits import ENCODABLE_POINTS_MAX, SEQUENCE_BITS, SEQUENCE_LIMIT
from ..rules import BoardRules

HEADER_PREFIX = "\x00rules "
HEADER_SCORE = "+inf"
SHARD_MARK = "@"

# A board entry to write: (encoded score, member), the order ZADD takes them in, so a batch of
# rows from SQL goes to Redis without building an object per entry.
Entry = tuple[int, str]


def encode(rank_value: int, sequence: int) -> int:
    if not 0 <= rank_value <= ENCODABLE_POINTS_MAX or not 0 < sequence < SEQUENCE_LIMIT:
        raise ValueError(f"cannot encode rank_value={rank_value} sequence={sequence}")
    return rank_value << SEQUENCE_BITS | (SEQUENCE_LIMIT - 1 - sequence)


def decode_rank_value(score: float | str) -> int:
    return int(float(score)) >> SEQUENCE_BITS


def decode_sequence(encoded: int) -> int:
    """The id of the submission that made the entry this state."""
    return SEQUENCE_LIMIT - 1 - encoded % SEQUENCE_LIMIT


@lru_cache(maxsize=1)
def prefix() -> str:
    """REDIS_KEY_PREFIX, read once: keys are built on every call, and a setting costs a lookup."""
    return settings.REDIS_KEY_PREFIX


@receiver(setting_changed)
def _prefix_changed(*, setting: str, **kwargs) -> None:
    if setting == "REDIS_KEY_PREFIX":
        prefix.cache_clear()
        board_key.cache_clear()


@lru_cache(maxsize=4096)
def board_key(board: str) -> str:
    return f"{prefix()}:board:{{{board}}}"


@lru_cache(maxsize=4096)
def shard(game: str, region: str, regions: tuple[str, ...]) -> str:
    """The board of one region of a game: game@region~n, the first n whose hash slot lies near the
    middle of the region's share of the slots (the i-th of the game's regions, the i-th share). A
    cluster's masters serve equal runs of slots, so a game's regions spread over them as evenly as
    they can: 5 regions on 3 masters, 2, 1 and 2, where hashing the names alone put them 3, 2 and 0."""
    share = REDIS_CLUSTER_HASH_SLOTS / len(regions)
    middle, near = (regions.index(region) + 0.5) * share, share / 16
    for n in count():
        name = f"{game}{SHARD_MARK}{region}~{n}"
        if abs(key_slot(name.encode()) - middle) <= near:
            return name
    raise AssertionError("unreachable: count() never ends")


def game_of(board: str) -> str:
    """The game a board belongs to: the game of a region's shard, else the board's own."""
    return board.partition(SHARD_MARK)[0]


def board_of(game: str, region: str, regions: tuple[str, ...]) -> str:
    """The board an entry of the game is on: its region's, or the game's one board ("" region)."""
    return shard(game, region, regions) if region else game


def region_boards(game: str, regions: tuple[str, ...]) -> list[str]:
    """The boards of the game's regions, in the regions' order."""
    return [shard(game, region, regions) for region in regions]


def game_boards(game: str, rules: BoardRules) -> list[str]:
    """Every board of the game: its one board, or its own (the header alone) and one per region."""
    return [game, *region_boards(game, rules.regions)]


def header(rules: BoardRules) -> str:
    """The board's header member, naming its rules (and its game's regions, if it has any)."""
    named = f"{HEADER_PREFIX}{rules.order} {rules.operator} {rules.min_score} {rules.max_score}"
    return f"{named} {','.join(rules.regions)}" if rules.regions else named


@lru_cache(maxsize=1024)
def rules_of_header(member: str) -> BoardRules | None:
    """The rules a header names, or None if the member is no header (the board is not whole)."""
    if not member.startswith(HEADER_PREFIX):
        return None
    order, operator, min_score, max_score, *regions = member[len(HEADER_PREFIX) :].split(" ")
    return BoardRules(order, operator, int(min_score), int(max_score), tuple(regions[0].split(",")) if regions else ())


def changes_channel(game: str) -> str:
    """The pub/sub channel announcing that a game's board changed; the message is the game."""
    return f"{prefix()}:changed:{game}"


def changes_pattern() -> str:
    """Every game's changes channel, for PSUBSCRIBE."""
    return f"{prefix()}:changed:*"


def match_key(match_id: str) -> str:
    """A match's state, its version and when each player was last seen connected: one hash."""
    return f"{prefix()}:match:{{{match_id}}}"


def match_channel(match_id: str) -> str:
    """The pub/sub channel a match's states are published on: "version|STATE message"."""
    return f"{prefix()}:match-state:{match_id}"


def match_pattern() -> str:
    """Every match's channel, for PSUBSCRIBE."""
    return f"{prefix()}:match-state:*"


def rebuild_key(board: str) -> str:
    return f"{board_key(board)}:rebuild"


def rebuild_lock_key(board: str) -> str:
    return f"{board_key(board)}:rebuild-lock"


def moved_out_key(board: str) -> str:
    """The players moved out of a region's board: member -> the id of the submission that made
    their entry when they left (set_entries.lua keeps late mirrors of older states off it)."""
    return f"{board_key(board)}:moved-out"


def is_shard(board: str) -> bool:
    return SHARD_MARK in board


def run_id_key() -> str:
    """The run id of the Redis process every board was last rebuilt into."""
    return f"{prefix()}:boards-built-in"


def lock_key(name: str) -> str:
    return f"{prefix()}:lock:{name}"


def rate_limit_key(scope: str, identity: str, window: int) -> str:
    """The counter of one fixed window (the window's number since the epoch)."""
    return f"{prefix()}:rate:{scope}:{identity}:{window}"


def profile_key(player: str) -> str:
    return f"{prefix()}:profile:{player}"
