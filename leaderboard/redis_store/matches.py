"""Match rooms' state in Redis: one hash per match holding its state (as the service stores it), a
version that counts its changes, when it last changed, and when each player was last seen
connected. A change applies only from the version it was made from, and publishes the new state
with its version.

A match is read and changed in Steps (client.py), so the matches service's conversation runs the
same on a thread's connection and on the live server's event loop."""

from dataclasses import dataclass

from .client import Step, converse, execute, single
from .keys import match_channel, match_key

SEEN = "seen:"


@dataclass(frozen=True, slots=True)
class MatchRecord:
    version: int
    state: str
    changed_at: float
    seen: dict[str, float]  # player -> when last seen connected


def create_match(match_id: str, state: str, *, players: list[str], now: float, keep_seconds: int) -> None:
    """A new match at version 0; its players count as seen now, so a forfeit waits for them."""
    seen = [field for player in players for field in (SEEN + player, now)]
    key = match_key(match_id)
    execute([("HSET", key, "version", 0, "state", state, "changed_at", now, *seen), ("EXPIRE", key, keep_seconds)])


def match_record(match_id: str) -> MatchRecord | None:
    """The match as kept, or None if it expired or never was."""
    return converse(single(reading_match(match_id)))


def reading_match(match_id: str) -> Step:
    """Read the match: its MatchRecord, or None if it expired or never was."""
    return Step([("HGETALL", match_key(match_id))], _record)


def _record(replies: list) -> MatchRecord | None:
    flat = replies[0]  # name, value, name, value, ...
    fields = dict(zip(flat[::2], flat[1::2], strict=True))
    if "state" not in fields:
        return None
    seen = {name[len(SEEN) :]: float(at) for name, at in fields.items() if name.startswith(SEEN)}
    return MatchRecord(int(fields["version"]), fields["state"], float(fields["changed_at"]), seen)


def changing_match(match_id: str, *, version: int, state: str, message: str, keep_seconds: int, now: float) -> Step:
    """Replace the state made at `version` and publish `message`: the new version, or None if the
    match changed since (or is gone)."""
    arguments = [version, state, match_channel(match_id), message, keep_seconds, now]
    return Step([("script", "change_match", [match_key(match_id)], arguments)], _new_version)


def _new_version(replies: list) -> int | None:
    return None if replies[0] < 0 else replies[0]


def mark_seen(connected: dict[str, list[str]], *, now: float, idle_seconds: int) -> tuple[list[str], list[str]]:
    """The players of each match are connected now, in one round trip for them all: (the matches
    that are gone, the matches that went without a change for longer than idle_seconds)."""
    return converse(single(marking_seen(connected, now=now, idle_seconds=idle_seconds)))


def marking_seen(connected: dict[str, list[str]], *, now: float, idle_seconds: int) -> Step:
    """Mark the players of each match connected now: (the matches that are gone, the matches idle
    past idle_seconds)."""
    marked = list(connected)
    commands = [
        ("script", "mark_match_seen", [match_key(match_id)], [now, idle_seconds, *players])
        for match_id, players in connected.items()
    ]  # fmt: skip

    def gone_and_idle(replies: list) -> tuple[list[str], list[str]]:
        gone = [match_id for match_id, reply in zip(marked, replies, strict=True) if reply == 0]
        idle = [match_id for match_id, reply in zip(marked, replies, strict=True) if reply == 2]
        return gone, idle

    return Step(commands, gone_and_idle)
