"""A board's rules as pure functions: which value a player's entry holds, and how it ranks.

Every entry ranks by a "rank value" in 0..ENCODABLE_POINTS_MAX where more is better:
value - min_score on a `desc` board, max_score - value on an `asc` one.
"""

from dataclasses import dataclass

DESC, ASC = "desc", "asc"
BEST, LATEST, INCREMENT = "best", "latest", "increment"


@dataclass(frozen=True, slots=True)
class BoardRules:
    order: str
    operator: str
    min_score: int
    max_score: int
    # A game sharded by region: its regions' slugs, in the order the game was created with; () for one board.
    regions: tuple[str, ...] = ()

    def rank_value(self, value: int) -> int:
        return value - self.min_score if self.order == DESC else self.max_score - value

    def value_of(self, rank_value: int) -> int:
        base, sign = self.value_base()
        return base + sign * rank_value

    def value_base(self) -> tuple[int, int]:
        """(base, sign) such that value = base + sign * rank_value, for decoding many at once."""
        return (self.min_score, 1) if self.order == DESC else (self.max_score, -1)

    def accepts(self, value: int) -> bool:
        return self.min_score <= value <= self.max_score

    def is_better(self, new: int, old: int) -> bool:
        return new > old if self.order == DESC else new < old

    def next_value(self, current: int | None, submitted: int) -> int:
        """The entry's value after a submission; None means the player has no entry yet."""
        if current is None:
            return submitted
        if self.operator == BEST:
            return submitted if self.is_better(submitted, current) else current
        if self.operator == LATEST:
            return submitted
        return current + submitted
