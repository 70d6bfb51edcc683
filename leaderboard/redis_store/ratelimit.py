"""Fixed-window rate limits counted atomically in Redis, shared by every worker."""

from django.conf import settings

from . import _script, _unavailable_on_error


def rate_limit_key(scope: str, identity: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:rate:{scope}:{identity}"


def hit_limits(limits: list[tuple[str, str, int]], window_seconds: int) -> tuple[bool, int, int, int]:
    """Count a request against each (scope, identity, limit); (allowed, limit, left, ms until reset)."""
    keys = [rate_limit_key(scope, identity) for scope, identity, _ in limits]
    args = [value for _, _, limit in limits for value in (limit, window_seconds * 1000)]
    with _unavailable_on_error():
        allowed, limit, left, reset_ms = _script("rate_limit")(keys=keys, args=args)
    return bool(allowed), limit, left, reset_ms
