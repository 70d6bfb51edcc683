"""Rate limits for /v1/: per client IP on reads; per client IP and per player on writes.

Counted in Redis (one Lua script, shared by every worker). If Redis cannot be reached the
limits are not enforced: failing open keeps scores landing while the board is down.
"""

import logging
import math

from django.conf import settings
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


class _RedisThrottle(BaseThrottle):
    def limits(self, request) -> list[tuple[str, str, int]]:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        if not settings.RATE_LIMITS_ENABLED:
            return True
        try:
            allowed, limit, left, reset_ms = redis_store.hit_limits(self.limits(request), settings.RATE_LIMIT_WINDOW)
        except BoardUnavailable as error:
            logger.warning("rate limits not enforced, redis unavailable: %s", error)
            return True
        self.reset_seconds = max(math.ceil(reset_ms / 1000), 1)
        request.rate_limit = (limit, left, self.reset_seconds)
        return allowed

    def wait(self) -> int:
        return self.reset_seconds


class ReadThrottle(_RedisThrottle):
    def limits(self, request):
        return [("read-ip", client_ip(request), settings.RATE_LIMIT_READS_PER_IP)]


class WriteThrottle(_RedisThrottle):
    def limits(self, request):
        limits = [("write-ip", client_ip(request), settings.RATE_LIMIT_WRITES_PER_IP)]
        player = request.data.get("player_id") if isinstance(request.data, dict) else None
        if isinstance(player, str) and player:
            limits.append(("write-player", player[:150], settings.RATE_LIMIT_WRITES_PER_PLAYER))
        return limits
