"""Rate limits for /v1/: per client IP on reads and writes, and per player on score writes.

Counted in Redis, shared by every worker, in the call's first Redis round trip rather than one of
their own (redis_store.ratelimit). If Redis cannot count them the limits are not enforced:
failing open keeps scores landing while the board is down.
"""

import logging
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from rest_framework.exceptions import Throttled
from rest_framework.response import Response

from .. import redis_store
from .errors import Reply

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """The rate-limit settings, read once (a setting costs a lookup, and every call needs them)."""

    enabled: bool
    window: int
    reads_per_ip: int
    writes_per_ip: int
    writes_per_player: int
    trusted_proxies: int


@lru_cache(maxsize=1)
def limits() -> Limits:
    return Limits(
        settings.RATE_LIMITS_ENABLED, settings.RATE_LIMIT_WINDOW, settings.RATE_LIMIT_READS_PER_IP,
        settings.RATE_LIMIT_WRITES_PER_IP, settings.RATE_LIMIT_WRITES_PER_PLAYER, settings.TRUSTED_PROXY_COUNT,
    )  # fmt: skip


@receiver(setting_changed)
def _limits_changed(*, setting: str, **kwargs) -> None:
    if setting.startswith("RATE_LIMIT") or setting == "TRUSTED_PROXY_COUNT":
        limits.cache_clear()


def client_ip(request) -> str:
    """REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front, the address the first of them saw."""
    meta = request.META
    return address_seen(meta.get("REMOTE_ADDR", ""), meta.get("HTTP_X_FORWARDED_FOR", ""), limits().trusted_proxies)


def address_seen(remote: str, forwarded_for: str, proxies: int) -> str:
    """The client's address: the peer's, or with `proxies` trusted proxies in front, the address
    the first of them saw (X-Forwarded-For, counted from the right)."""
    if proxies:
        forwarded = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return remote


def charge(request, *, writes: bool) -> redis_store.Charge | None:
    """The call's count against its per-IP limit, or None with the limits off."""
    policy = limits()
    if not policy.enabled:
        return None
    limit = ("write-ip", policy.writes_per_ip) if writes else ("read-ip", policy.reads_per_ip)
    found = redis_store.Charge([(limit[0], client_ip(request), limit[1])], policy.window)
    request.charge = found
    return found


def limit_player_writes(request, player_id: str) -> None:
    """Count the call against the player's write limit too, with the write: only once the call
    has shown its credentials, so nobody can spend another player's allowance."""
    found = getattr(request, "charge", None)
    if found is not None:
        found.add(("write-player", player_id, limits().writes_per_player))


def verdict(found: redis_store.Charge | None) -> redis_store.Verdict | None:
    """The charge's verdict, counted now if no round trip carried it; None without one."""
    if found is None:
        return None
    decided = found.settle()
    if decided is None and found.limits:
        logger.warning(
            "rate limits not enforced, redis unavailable: %s", found.unavailable, extra={"event": "redis_unavailable"}
        )
    return decided


def refusal(decided: redis_store.Verdict) -> Throttled:
    return Throttled(decided.reset_seconds)


def with_headers(reply: Reply | Response, decided: redis_store.Verdict | None) -> Reply | Response:
    """The reply with RateLimit-Limit, -Remaining and -Reset, when a verdict was had."""
    if decided is None:
        return reply
    headers = {
        "RateLimit-Limit": str(decided.limit),
        "RateLimit-Remaining": str(decided.left),
        "RateLimit-Reset": str(decided.reset_seconds),
    }
    if isinstance(reply, Response):
        for name, value in headers.items():
            reply[name] = value
        return reply
    if reply.headers:
        headers = {**reply.headers, **headers}
    return Reply(reply.status, reply.body, headers)
