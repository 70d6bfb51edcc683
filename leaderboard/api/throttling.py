"""Rate limits for /v1/: per client IP on reads and writes, and per player on score writes.

Counted in Redis (one Lua script, shared by every worker). If Redis cannot be reached the
limits are not enforced: failing open keeps scores landing while the board is down.
"""

import logging
import math

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from .. import redis_store
from ..exceptions import BoardUnavailable

logger = logging.getLogger(__name__)


def client_ip(request) -> str:
    """REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front, the address the first of them saw."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def hit(request, limits: list[tuple[str, str, int]]) -> int | None:
    """Count the request against the limits; None if allowed, else the seconds until it would be.

    Leaves (limit, left, reset seconds) on the request for the RateLimit headers.
    """
    if not settings.RATE_LIMITS_ENABLED:
        return None
    try:
        allowed, limit, left, reset_ms = redis_store.hit_limits(limits, settings.RATE_LIMIT_WINDOW)
    except BoardUnavailable as error:
        logger.warning("rate limits not enforced, redis unavailable: %s", error, extra={"event": "redis_unavailable"})
        return None
    reset_seconds = max(math.ceil(reset_ms / 1000), 1)
    request.rate_limit = (limit, left, reset_seconds)
    return None if allowed else reset_seconds


def limit_player_writes(request, player_id: str) -> None:
    """The per-player write limit, counted once the request has shown its credentials, so that
    nobody can spend another player's allowance."""
    if (wait := hit(request, [("write-player", player_id, settings.RATE_LIMIT_WRITES_PER_PLAYER)])) is not None:
        raise Throttled(wait)


class _RedisThrottle(BaseThrottle):
    def limits(self, request) -> list[tuple[str, str, int]]:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        self.reset_seconds = hit(request, self.limits(request))
        return self.reset_seconds is None

    def wait(self) -> int:
        return self.reset_seconds


class ReadThrottle(_RedisThrottle):
    def limits(self, request):
        return [("read-ip", client_ip(request), settings.RATE_LIMIT_READS_PER_IP)]


class WriteThrottle(_RedisThrottle):
    def limits(self, request):
        return [("write-ip", client_ip(request), settings.RATE_LIMIT_WRITES_PER_IP)]
