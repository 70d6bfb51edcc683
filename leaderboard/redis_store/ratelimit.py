"""Fixed-window rate limits counted in Redis, shared by every worker.

Windows are aligned on the clock (window n covers [n * w, (n + 1) * w)), so a count is two plain
commands on one key, INCR and an expiry set once, and the time until the window resets needs no
third: it is known here. A refused request still counts, so hammering a closed window does not
reopen it early.

A Charge is a call's count against its limits. Ridden (client.riding), it goes with the call's
first Redis round trip rather than one of its own; a write carries it to the write's group, whose
charges are counted together (writes.charges); a call that does neither sends it alone.
"""

import math
import time
from typing import NamedTuple

from ..exceptions import BoardUnavailable
from .client import Command, send
from .keys import rate_limit_key

Limit = tuple[str, str, int]  # (scope, identity, requests allowed per window)


class Verdict(NamedTuple):
    """The call's standing against its limits: allowed or not, and the limit that decides."""

    allowed: bool
    limit: int
    left: int
    reset_seconds: int


# A window's counter outlives the window by this much, so a Redis clock a little ahead of ours
# cannot end it early.
EXPIRY_SLACK_MS = 1000


class Charge:
    __slots__ = ("limits", "window", "ends_ms", "reset_ms", "verdict", "unavailable")

    def __init__(self, limits: list[Limit], window_seconds: int):
        self.limits = list(limits)
        window_ms = window_seconds * 1000
        now_ms = time.time() * 1000
        self.window = int(now_ms // window_ms)
        self.ends_ms = (self.window + 1) * window_ms
        self.reset_ms = self.ends_ms - now_ms
        self.verdict: Verdict | None = None
        self.unavailable: BoardUnavailable | None = None

    def __reduce__(self):
        # A charge travels to the write server with its write: as plain values, pickled fast.
        state = (self.limits, self.window, self.ends_ms, self.reset_ms, self.verdict, self.unavailable)
        return _restored_charge, state

    @property
    def sent(self) -> bool:
        return self.verdict is not None or self.unavailable is not None

    @property
    def refused(self) -> bool:
        return self.verdict is not None and not self.verdict.allowed

    def add(self, limit: Limit) -> None:
        if self.sent:
            raise RuntimeError("this charge was already counted")
        self.limits.append(limit)

    def commands(self) -> list[Command]:
        commands = []
        for scope, who, _limit in self.limits:
            key = rate_limit_key(scope, who, self.window)
            commands += [("INCR", key), ("PEXPIREAT", key, self.ends_ms + EXPIRY_SLACK_MS, "NX")]
        return commands

    def take(self, replies: list) -> None:
        counts = replies[0::2]
        self.verdict = _verdict([limit for _, _, limit in self.limits], counts, self.reset_ms)

    def failed(self, error: BoardUnavailable) -> None:
        self.unavailable = error

    def counted(self, verdict: Verdict | None, unavailable: BoardUnavailable | None) -> None:
        """What counting this charge found, where a copy of it was counted (the write server)."""
        self.verdict, self.unavailable = verdict, unavailable

    def settle(self) -> Verdict | None:
        """Count the charge now if no round trip took it; None if Redis could not count it."""
        settle_charges([self])
        return self.verdict


def _restored_charge(limits, window, ends_ms, reset_ms, verdict, unavailable) -> Charge:
    charge = Charge.__new__(Charge)
    charge.limits, charge.window, charge.ends_ms, charge.reset_ms = limits, window, ends_ms, reset_ms
    charge.verdict, charge.unavailable = verdict, unavailable
    return charge


def settle_charges(charges: list[Charge]) -> None:
    """Count the charges not counted yet, in one round trip."""
    pending = [charge for charge in charges if not charge.sent and charge.limits]
    if not pending:
        return
    commands = [charge.commands() for charge in pending]
    try:
        replies = send([command for each in commands for command in each])
    except BoardUnavailable as error:
        for charge in pending:
            charge.failed(error)
        return
    start = 0
    for charge, each in zip(pending, commands, strict=True):
        charge.take(replies[start : start + len(each)])
        start += len(each)


def _verdict(limits: list[int], counts: list[int], reset_ms: float) -> Verdict:
    """Every limit's window ends together; the one that decides is the exceeded one if any is
    (the lowest), else the one with fewest requests left."""
    reset_seconds = max(math.ceil(reset_ms / 1000), 1)
    if len(limits) == 1:  # most calls: one limit, nothing to choose
        return Verdict(counts[0] <= limits[0], limits[0], max(limits[0] - counts[0], 0), reset_seconds)
    exceeded = [limit for limit, count in zip(limits, counts, strict=True) if count > limit]
    left, decisive = min((max(limit - count, 0), limit) for limit, count in zip(limits, counts, strict=True))
    return Verdict(not exceeded, min(exceeded) if exceeded else decisive, 0 if exceeded else left, reset_seconds)
