"""A game's reset calendar: when its periods end, in its own timezone.

A boundary is the local time `at` on every day, on every Monday, or on the 1st of every month,
in an IANA timezone, so a London day is 23 hours long on 2026-03-29 and 25 on 2026-10-25. A
local time a DST change skips (01:30 in London on the spring change) falls at the same wall
time in the offset before the change (02:30 local), as zoneinfo reads it.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

EVERY = ("day", "week", "month")
AT_FORMAT = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
TIMEZONE_MAX_LENGTH = 64


class InvalidReset(ValueError):
    """A reset the calendar cannot follow: `problems` maps each field to what is wrong with it."""

    def __init__(self, problems: dict[str, list[str]]):
        super().__init__(problems)
        self.problems = problems


@dataclass(frozen=True)
class ResetRule:
    every: str
    timezone: str
    at: str = "00:00"

    @classmethod
    def parse(cls, given: object) -> "ResetRule | None":
        """The rule an API body gives ({"every", "timezone", "at"}; null for none); InvalidReset naming
        each field that is wrong."""
        if given is None:
            return None
        if not isinstance(given, dict):
            raise InvalidReset({"reset": ['must be an object {"every", "timezone", "at"} or null']})
        problems: dict[str, list[str]] = {}
        unknown = sorted(set(given) - {"every", "timezone", "at"})
        if unknown:
            problems["reset"] = [f"unknown field(s): {', '.join(unknown)}"]
        every, zone, at = given.get("every"), given.get("timezone", "UTC"), given.get("at", "00:00")
        if every not in EVERY:
            problems["reset.every"] = [f"must be one of {', '.join(EVERY)}"]
        if not _is_timezone(zone):
            problems["reset.timezone"] = ["must be an IANA timezone name, such as Europe/London or UTC"]
        if not (isinstance(at, str) and AT_FORMAT.fullmatch(at)):
            problems["reset.at"] = ["must be a local time HH:MM, 00:00 to 23:59"]
        if problems:
            raise InvalidReset(problems)
        return cls(every, zone, at)

    def as_dict(self) -> dict:
        return {"every": self.every, "timezone": self.timezone, "at": self.at}

    def next_boundary(self, after: datetime) -> datetime:
        """The first boundary strictly after `after` (an aware datetime), in UTC."""
        zone = ZoneInfo(self.timezone)
        local_day = after.astimezone(zone).date()
        # The boundary on or before the local day, then forward one step at a time: at most two.
        day = self._period_start(local_day)
        while (boundary := self._at(day, zone)) <= after:
            day = self._step(day)
        return boundary

    def _period_start(self, day: date) -> date:
        if self.every == "week":
            return day - timedelta(days=day.weekday())  # weeks start on Monday
        if self.every == "month":
            return day.replace(day=1)
        return day

    def _step(self, day: date) -> date:
        if self.every == "week":
            return day + timedelta(days=7)
        if self.every == "month":
            return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        return day + timedelta(days=1)

    def _at(self, day: date, zone: ZoneInfo) -> datetime:
        hour, minute = map(int, self.at.split(":"))
        return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


def _is_timezone(name: object) -> bool:
    if not isinstance(name, str) or not 0 < len(name) <= TIMEZONE_MAX_LENGTH or name not in _zones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


# Names some tz databases hold that are not places: the host's own zone, and a placeholder.
NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})


@cache
def _zones() -> frozenset[str]:
    """The IANA names the tz database holds (read once: listing them reads the whole database)."""
    return frozenset(available_timezones()) - NOT_PLACES
