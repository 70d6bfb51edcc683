"""Cached player profiles: one JSON string per player, dropped when the player scores."""

from django.conf import settings

from . import _unavailable_on_error, client


def profile_key(player: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:profile:{player}"


def cached_profile(player: str) -> str | None:
    with _unavailable_on_error():
        return client().get(profile_key(player))


def cache_profile(player: str, profile_json: str) -> None:
    with _unavailable_on_error():
        client().set(profile_key(player), profile_json, ex=settings.PROFILE_CACHE_SECONDS)


def forget_profile(player: str) -> None:
    forget_profiles([player])


def forget_profiles(players: list[str]) -> None:
    """Drop many cached profiles in one round trip."""
    if players:
        with _unavailable_on_error():
            client().delete(*(profile_key(player) for player in players))
