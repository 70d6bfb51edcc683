"""Player profiles, served cache-aside from Redis: built from SQL on a miss, dropped when the player
scores (the mirror drops it in the same round trip as the entry) and when their avatar changes."""

from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import datetime

import orjson

from .. import redis_store, regional
from ..exceptions import BoardUnavailable, PlayerNotFound, PlayerNotRanked
from ..models import BoardEntry, Player
from ..timestamps import iso_utc
from .avatars import AvatarView, avatar_of


@dataclass(frozen=True, slots=True)
class GameEntry:
    game_id: str
    score: int
    rank: int | None  # on a game with regions, the global rank
    submissions: int
    region: str | None = None  # on a game with regions
    regional_rank: int | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    player_id: str
    created_at: datetime
    games: list[GameEntry]
    avatar: AvatarView

    def cached(self) -> str:
        return orjson.dumps({**asdict(self), "created_at": iso_utc(self.created_at)}).decode()

    @classmethod
    def from_cache(cls, cached: str) -> "Profile | None":
        kept = orjson.loads(cached)
        if "avatar" not in kept:
            return None  # cached before profiles showed avatars: built again
        created_at = datetime.fromisoformat(kept["created_at"].replace("Z", "+00:00"))
        games = [GameEntry(**game) for game in kept["games"]]
        return cls(kept["player_id"], created_at, games, AvatarView(**kept["avatar"]))


def player_profile(*, player_id: str) -> Profile:
    """The player's created_at, avatar and, per game, their entry's score, rank and number of
    submissions."""
    try:
        cached = redis_store.cached_profile(player_id)
    except BoardUnavailable:
        cached = None
    if cached is not None and (profile := Profile.from_cache(cached)) is not None:
        return profile
    profile = _build(player_id)
    _cache(profile)
    return profile


def _build(player_id: str) -> Profile:
    player = Player.objects.filter(username=player_id).select_related("avatar").first()
    if player is None:
        raise PlayerNotFound(player_id)
    entries = list(BoardEntry.objects.filter(player=player).select_related("board").order_by("board__slug"))
    plain = [entry for entry in entries if not entry.board.regions]
    ranks = dict(zip(plain, _ranks(player_id, [entry.board.slug for entry in plain]), strict=True))
    games = [
        GameEntry(entry.board.slug, entry.value, ranks[entry], entry.submissions)
        if entry in ranks
        else _regional_entry(player_id, entry)
        for entry in entries
    ]
    return Profile(player_id, player.created_at, games, avatar_of(getattr(player, "avatar", None)))


def _ranks(player_id: str, boards: list[str]) -> list[int | None]:
    try:
        return [None if rank is None else rank + 1 for rank in redis_store.ranks_of(player_id, boards)]
    except BoardUnavailable:
        return [None] * len(boards)


def _regional_entry(player_id: str, entry: BoardEntry) -> GameEntry:
    """The entry on a game with regions: its global and regional ranks, read across the shards."""
    game = entry.board
    try:
        found = regional.around(game.slug, tuple(game.regions), player_id, 0, total=False)
        rank, regional_rank = found.rank, found.regional_rank
    except (BoardUnavailable, PlayerNotRanked):  # not mirrored yet, or Redis cannot say now
        rank = regional_rank = None
    return GameEntry(game.slug, entry.value, rank, entry.submissions, entry.region, regional_rank)


def _cache(profile: Profile) -> None:
    if any(game.rank is None for game in profile.games):
        return  # a rank Redis could not give now should not be served from the cache later
    if profile.avatar.status == "processing":
        return  # read before its job's outcome, it would outlive the drop that outcome makes
    # A profile Redis cannot cache now is simply built again on the next read.
    with suppress(BoardUnavailable):
        redis_store.cache_profile(profile.player_id, profile.cached())
