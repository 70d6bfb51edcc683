"""What a write is: a Work a service builds and writes.commit() runs, and what its commit tells
Redis afterwards."""

from dataclasses import dataclass, field

from ..redis_store import MirroredEntry
from ..rules import BoardRules


class Work:
    """A write a service asks for, held by value so that any process can run it (the write server
    runs the workers'). apply() runs inside the transaction the boundary holds, possibly with
    other works, and returns the outcome; what Redis must learn once it commits goes into `after`.
    """

    def apply(self, after: "AfterCommit"):
        raise NotImplementedError


@dataclass
class AfterCommit:
    """What the works of one transaction tell Redis once it has committed: entries to mirror (a
    mirror reports the player's rank after it to the outcome that asks), and new boards' rules."""

    entries: list[MirroredEntry] = field(default_factory=list)
    score_ids: list[int] = field(default_factory=list)
    ranked: list[object | None] = field(default_factory=list)
    new_boards: list[tuple[str, BoardRules]] = field(default_factory=list)

    def mirror(self, entry: MirroredEntry, *, score_id: int, ranked: object | None = None) -> None:
        """Mirror the entry; `ranked`, if given, gets its `rank` set to the player's 1-based rank
        after the mirror (None if Redis could not say)."""
        self.entries.append(entry)
        self.score_ids.append(score_id)
        self.ranked.append(ranked)

    def publish_new_board(self, slug: str, rules: BoardRules) -> None:
        self.new_boards.append((slug, rules))

    def __bool__(self) -> bool:
        return bool(self.entries or self.new_boards)
