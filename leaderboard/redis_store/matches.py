"""Match rooms' state in Redis: one hash per match holding its state (as the service stores it), a
version that counts its changes, and when each player was last seen connected. A change applies
only from the version it was made from, and publishes the new state with its version."""

from dataclasses import dataclass

from .client import execute
from .keys import match_channel, match_key

SEEN = "seen:"


@dataclass(frozen=True, slots=True)
class MatchRecord:
    version: int
    state: str
    seen: dict[str, float]  # player -> when last seen connected


def create_match(match_id: str, state: str, *, players: list[str], now: float, keep_seconds: int) -> None:
    """A new match at version 0; its players count as seen now, so a forfeit waits for them."""
    seen = [field for player in players for field in (SEEN + player, now)]
    key = match_key(match_id)
    execute([("HSET", key, "version", 0, "state", state, *seen), ("EXPIRE", key, keep_seconds)])


def match_record(match_id: str) -> MatchRecord | None:
    """The match as kept, or None if it expired or never was."""
    flat = execute([("HGETALL", match_key(match_id))])[0]  # name, value, name, value, ...
    fields = dict(zip(flat[::2], flat[1::2], strict=True))
    if "state" not in fields:
        return None
    seen = {name[len(SEEN) :]: float(at) for name, at in fields.items() if name.startswith(SEEN)}
    return MatchRecord(int(fields["version"]), fields["state"], seen)


def change_match(match_id: str, *, version: int, state: str, message: str, keep_seconds: int) -> int | None:
    """Replace the state made at `version` and publish `message`; the new version, or None if the
    match changed since (or expired)."""
    arguments = [version, state, match_channel(match_id), message, keep_seconds]
    changed = execute([("script", "change_match", [match_key(match_id)], arguments)])[0]
    return None if changed < 0 else changed


def mark_seen(match_id: str, players: list[str], *, now: float) -> None:
    """The players are connected now (nothing, if the match is gone)."""
    execute([("script", "mark_match_seen", [match_key(match_id)], [now, *players])])
