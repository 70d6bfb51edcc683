"""Player profiles, served cache-aside from Redis: built from SQL on a miss, dropped when the player scores."""

from contextlib import suppress

import orjson

from .. import redis_store
from ..exceptions import BoardUnavailable, PlayerNotFound
from ..models import BoardEntry, Player
from ..timestamps import iso_utc


def player_profile(*, player_id: str) -> dict:
    """The player's created_at and, per game, their entry's score, rank and number of submissions."""
    try:
        cached = redis_store.cached_profile(player_id)
    except BoardUnavailable:
        cached = None
    if cached is not None:
        return orjson.loads(cached)
    profile = _build(player_id)
    _cache(player_id, profile)
    return profile


def _build(player_id: str) -> dict:
    player = Player.objects.filter(username=player_id).first()
    if player is None:
        raise PlayerNotFound(player_id)
    entries = list(BoardEntry.objects.filter(player=player).select_related("board").order_by("board__slug"))
    ranks = _ranks(player_id, [entry.board.slug for entry in entries])
    games = [
        {"game_id": e.board.slug, "score": e.value, "rank": rank, "submissions": e.submissions}
        for e, rank in zip(entries, ranks, strict=True)
    ]
    return {"player_id": player_id, "created_at": iso_utc(player.created_at), "games": games}


def _ranks(player_id: str, boards: list[str]) -> list[int | None]:
    try:
        return [None if rank is None else rank + 1 for rank in redis_store.ranks_of(player_id, boards)]
    except BoardUnavailable:
        return [None] * len(boards)


def _cache(player_id: str, profile: dict) -> None:
    if any(game["rank"] is None for game in profile["games"]):
        return  # a rank Redis could not give now should not be served from the cache later
    # A profile Redis cannot cache now is simply built again on the next read.
    with suppress(BoardUnavailable):
        redis_store.cache_profile(player_id, orjson.dumps(profile).decode())
