"""A write's rate-limit charge goes with the write. The boundary takes the call's uncounted charge
(redis_store.claim_rider) and sends it with the work; the charges of a group are counted in one
round trip before the group runs, and a work over its limit is refused unwritten. A worker thus
makes no round trip of its own to count a write, and the write server one per group."""

from dataclasses import dataclass
from typing import NamedTuple

from .. import redis_store
from ..exceptions import BoardUnavailable, RateLimited
from .work import AfterCommit, Work


class Counted(NamedTuple):
    """A charged work's outcome, with what counting its charge found."""

    outcome: object
    verdict: redis_store.Verdict | None
    unavailable: BoardUnavailable | None


@dataclass(frozen=True)
class Charged(Work):
    """A work and its call's charge, counted before the work runs (count())."""

    work: Work
    charge: redis_store.Charge

    def apply(self, after: AfterCommit) -> Counted:
        return Counted(self.work.apply(after), self.charge.verdict, self.charge.unavailable)


def count(works: list[Work]) -> dict[int, RateLimited]:
    """Count the charges the works carry, in one round trip; the refused works' errors, by index.
    If Redis cannot count them, the limits are not enforced (as for reads)."""
    charges = [work.charge for work in works if isinstance(work, Charged)]
    if not charges:
        return {}
    redis_store.settle_charges(charges)
    return {
        index: RateLimited(work.charge.verdict)
        for index, work in enumerate(works)
        if isinstance(work, Charged) and work.charge.refused
    }


def claim() -> redis_store.Charge | None:
    """The calling request's charge if it is still to be counted, taken off its next round trip."""
    rider = redis_store.claim_rider()
    if rider is not None and not isinstance(rider, redis_store.Charge):
        raise TypeError(f"a write can carry a rate-limit charge only, not {rider!r}")
    return rider
