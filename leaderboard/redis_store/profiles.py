"""Cached player profiles: one JSON string per player, dropped when the player scores."""

from django.conf import settings

from .client import execute
from .keys import profile_key


def cached_profile(player: str) -> str | None:
    return execute([("GET", profile_key(player))])[0]


def cache_profile(player: str, profile_json: str) -> None:
    execute([("SET", profile_key(player), profile_json, "EX", settings.PROFILE_CACHE_SECONDS)])


def forget_profiles(players: list[str]) -> None:
    """Drop many cached profiles in one round trip (a DEL each: on a cluster, they live apart)."""
    if players:
        execute([("DEL", profile_key(player)) for player in players])
