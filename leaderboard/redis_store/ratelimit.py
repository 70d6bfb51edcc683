"""Fixed-window rate limits counted in Redis, shared by every worker.

A Charge is a call's count against its limits. Ridden (client.riding), it goes with the call's
first Redis round trip rather than one of its own; a call that makes none sends it alone.
"""

import math
from dataclasses import dataclass

from ..exceptions import BoardUnavailable
from .client import Command, send
from .keys import rate_limit_key

Limit = tuple[str, str, int]  # (scope, identity, requests allowed per window)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The limit that decides: the exceeded one that resets last if any is exceeded, else the
    one with fewest requests left."""

    allowed: bool
    limit: int
    left: int
    reset_seconds: int


class Charge:
    def __init__(self, limits: list[Limit], window_seconds: int):
        self.limits = list(limits)
        self.window_ms = window_seconds * 1000
        self.verdict: Verdict | None = None
        self.unavailable: BoardUnavailable | None = None

    @property
    def sent(self) -> bool:
        return self.verdict is not None or self.unavailable is not None

    def add(self, limit: Limit) -> None:
        if self.sent:
            raise RuntimeError("this charge was already counted")
        self.limits.append(limit)

    def commands(self) -> list[Command]:
        # One script per counter: on a cluster the counters live on different nodes.
        return [
            ("script", "rate_limit", [rate_limit_key(scope, who)], [self.window_ms]) for scope, who, _ in self.limits
        ]

    def take(self, replies: list) -> None:
        self.verdict = _verdict([limit for _, _, limit in self.limits], replies)

    def failed(self, error: BoardUnavailable) -> None:
        self.unavailable = error

    def settle(self) -> Verdict | None:
        """Count the charge now if no round trip took it; None if Redis could not count it."""
        if not self.sent and self.limits:
            try:
                self.take(send(self.commands()))
            except BoardUnavailable as error:
                self.failed(error)
        return self.verdict


def _verdict(limits: list[int], replies: list) -> Verdict:
    allowed, decisive, left_out, reset_ms = True, 0, math.inf, 0
    for limit, (count, ttl) in zip(limits, replies, strict=True):
        left = max(limit - count, 0)
        if count > limit:
            if allowed or ttl > reset_ms:
                decisive, left_out, reset_ms = limit, 0, ttl
            allowed = False
        elif allowed and left < left_out:
            decisive, left_out, reset_ms = limit, left, ttl
    return Verdict(allowed, decisive, int(left_out), max(math.ceil(reset_ms / 1000), 1))
