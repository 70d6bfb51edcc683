"""The exact global view of a game sharded by region: its shards read together (redis_store.regions)
and merged by encoded score, which is unique per submission, so a tie in value goes to whoever
reached it first, across regions too. Not one snapshot: each shard answers at its own moment.

A member seen on two shards (a player being moved, briefly on both with the same encoded score)
is listed once; the counts behind ranks may count such a member twice for that moment.
"""

import threading
from collections import OrderedDict
from typing import NamedTuple

from . import redis_store
from .exceptions import PlayerNotRanked
from .rules import BoardRules


class Located(NamedTuple):
    """An entry found on a shard: its encoded score, member and region."""

    encoded: int
    member: str
    region: str


class KnownRegions:
    """The regions of the games with regions this process has read, learnt from their headers in
    Redis: a game's regions never change, so once known they stand, and a read of the game goes
    straight to its shards. Bounded: the least recently read are forgotten first."""

    def __init__(self, size: int = 4096):
        self._size = size
        self._games: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, game: str) -> tuple[str, ...] | None:
        regions = self._games.get(game)
        if regions is not None:
            with self._lock:
                if game in self._games:
                    self._games.move_to_end(game)
        return regions

    def learn(self, game: str, regions: tuple[str, ...]) -> None:
        with self._lock:
            self._games[game] = regions
            while len(self._games) > self._size:
                self._games.popitem(last=False)

    def clear(self) -> None:
        """Forget every game (a test's games come and go under one process)."""
        with self._lock:
            self._games.clear()


known_regions = KnownRegions()


class Around(NamedTuple):
    rules: BoardRules
    player: Located
    rank: int
    regional_rank: int
    above: list[Located]  # best first, up to the player
    below: list[Located]  # best first, from the player
    total: int | None  # the players on every shard, if asked


def page(
    game: str, regions: tuple[str, ...], *, top: int, offset: int, count_players: bool
) -> tuple[BoardRules, list[Located], int | None]:
    """(rules, the entries from 0-based global position offset, the players on every shard if
    asked): the best offset + top of each shard hold the global ones."""
    rules, sizes, tops = redis_store.regions.tops(
        redis_store.region_boards(game, regions), offset + top, total=count_players
    )
    merged = merge(regions, tops, best_first=True)[offset : offset + top]
    return rules, merged, None if sizes is None else sum(sizes)


def around(game: str, regions: tuple[str, ...], player_id: str, context: int, *, total: bool) -> Around:
    """The player's global and regional rank with up to `context` entries on each side;
    PlayerNotRanked if the player has no entry."""
    boards = redis_store.region_boards(game, regions)
    rules, sizes, found = redis_store.regions.scores(boards, [player_id], total=total)
    mine = next(
        (Located(s[0], player_id, region) for s, region in zip(found, regions, strict=True) if s[0] is not None), None
    )
    if mine is None:
        raise PlayerNotRanked(player_id)
    counts, above, below = redis_store.regions.around(boards, mine.encoded, context)
    nearest_above = [e for e in merge(regions, above, best_first=False) if e.member != player_id][:context]
    nearest_below = [e for e in merge(regions, below, best_first=True) if e.member != player_id][:context]
    regional_rank = 1 + counts[regions.index(mine.region)]
    total = None if sizes is None else sum(sizes)
    return Around(rules, mine, 1 + sum(counts), regional_rank, nearest_above[::-1], nearest_below, total)


def ranked(game: str, regions: tuple[str, ...], player_ids: list[str]) -> tuple[BoardRules, list[tuple[int, Located]]]:
    """(rules, (global rank, entry) of those players who have an entry)."""
    boards = redis_store.region_boards(game, regions)
    rules, _sizes, found = redis_store.regions.scores(boards, player_ids, total=False)
    located = []
    for i, member in enumerate(player_ids):
        shard = next((j for j, scores in enumerate(found) if scores[i] is not None), None)
        if shard is not None:
            located.append(Located(found[shard][i], member, regions[shard]))
    counts = redis_store.regions.counts_above([(boards, entry.encoded) for entry in located])
    return rules, [(1 + above, entry) for entry, above in zip(located, counts, strict=True)]


def merge(regions: tuple[str, ...], lists: list[redis_store.regions.Scored], *, best_first: bool) -> list[Located]:
    """The shards' entries in one order, each member once."""
    found = [
        Located(encoded, member, region)
        for region, scored in zip(regions, lists, strict=True)
        for member, encoded in scored
    ]
    merged, seen = [], set()
    for entry in sorted(found, reverse=best_first):
        if entry.member not in seen:
            seen.add(entry.member)
            merged.append(entry)
    return merged
