"""Games (boards): creating and changing them, and looking them up to score on."""

import re
import threading
from collections.abc import Collection
from dataclasses import dataclass

from django.db import IntegrityError
from django.utils import timezone

from .. import writes
from ..calendar import InvalidReset, ResetRule
from ..exceptions import BoardNotFound, GameAlreadyExists, InvalidGame
from ..limits import ENCODABLE_POINTS_MAX, REGION_MAX_LENGTH, REGIONS_MAX, REGIONS_MIN
from ..models import Board, Period
from ..rules import BoardRules
from ..writes import AfterCommit, Work

# Settings a game may change after creation; its rules (its id, order, operator and range, named
# as the API names them) stay fixed.
MUTABLE_FIELDS = ("name", "max_points_per_second", "max_session_seconds", "reset")
RULE_FIELDS = frozenset({"game_id", "order", "operator", "min_score", "max_score", "regions"})
FIXED = "cannot be changed once the game exists"
REGION_SLUG = re.compile(rf"[a-z0-9_-]{{1,{REGION_MAX_LENGTH}}}")


@dataclass(frozen=True)
class CreateGame(Work):
    slug: str
    name: str
    order: str
    operator: str
    min_score: int
    max_score: int
    max_points_per_second: float | None
    max_session_seconds: int
    regions: tuple[str, ...] = ()
    reset: ResetRule | None = None

    def apply(self, after: AfterCommit) -> Board:
        board = Board(
            slug=self.slug, name=self.name, order=self.order, operator=self.operator,
            min_points=self.min_score, max_points=self.max_score,
            max_points_per_second=self.max_points_per_second, max_session_seconds=self.max_session_seconds,
            regions=list(self.regions) or None, reset=self.reset.as_dict() if self.reset else None,
        )  # fmt: skip
        board.save()
        after.publish_new_board(board.slug, board.rules)
        return board


@dataclass(frozen=True)
class UpdateGame(Work):
    slug: str
    changes: dict

    def apply(self, after: AfterCommit) -> Board:
        board = game(slug=self.slug, lock=True)
        for field, value in self.changes.items():
            setattr(board, field, value)
        board.save(update_fields=list(self.changes) or None)
        if "reset" in self.changes:
            _reschedule(board, board.reset_rule)
        return board


def _reschedule(board: Board, rule: ResetRule | None) -> None:
    """A change of rule applies to future periods only: the open period keeps the end it has, and
    the periods after it follow the new rule. An open period with no end (the game never reset)
    gets one: the new rule's next boundary."""
    open_periods = Period.objects.select_for_update().filter(board=board, status=Period.Status.OPEN)
    current = open_periods.first() or open_periods.first()  # again after a close that was running
    if current is not None and current.ends_at is None and rule is not None:
        current.ends_at = rule.next_boundary(timezone.now())
        current.save(update_fields=["ends_at"])


def create_game(
    *,
    slug: str,
    name: str,
    order: str,
    operator: str,
    min_score: int,
    max_score: int,
    max_points_per_second: float | None,
    max_session_seconds: int,
    regions: object = None,
    reset: object = None,
) -> Board:
    """A new game; with `regions` (2 to 16 distinct lowercase slugs), its board is sharded by region;
    with `reset` ({"every", "timezone", "at"}), it starts afresh at each boundary of that calendar."""
    _check_range(min_score, max_score)
    work = CreateGame(
        slug, name, order, operator, min_score, max_score, max_points_per_second, max_session_seconds,
        _checked_regions(regions), _checked_reset(reset),
    )  # fmt: skip
    try:
        return writes.commit(work)
    except IntegrityError:
        raise GameAlreadyExists(slug) from None


def update_game(*, slug: str, rules_named: Collection[str] = (), **changes) -> Board:
    """Change a game's name, rate limit or session length. InvalidGame, and nothing changed, if the
    request named any of the game's rules (`rules_named`) or the changes hold anything else."""
    refused = sorted({*rules_named, *(field for field in changes if field not in MUTABLE_FIELDS)})
    if refused:
        raise InvalidGame({field: [FIXED] for field in refused})
    if "reset" in changes:
        rule = _checked_reset(changes["reset"])
        changes["reset"] = rule.as_dict() if rule else None
    return writes.commit(UpdateGame(slug, changes))


def game(*, slug: str, lock: bool = False) -> Board:
    # NO KEY UPDATE: a write referencing the board (a score, a period) is not held up by it.
    boards = Board.objects.select_for_update(no_key=True) if lock else Board.objects
    try:
        return boards.get(slug=slug)
    except Board.DoesNotExist:
        raise BoardNotFound(slug) from None


def games() -> list[Board]:
    return list(Board.objects.order_by("slug"))


def boards(slug: str | None = None) -> list[Board]:
    """Every board, or the one named (BoardNotFound if there is none)."""
    return games() if slug is None else [game(slug=slug)]


@dataclass(frozen=True, slots=True)
class ScoringGame:
    """What scoring needs of a game: its id and rules, both fixed once the game exists."""

    id: int
    slug: str
    rules: BoardRules


class ScoringGames:
    """Games by slug as scoring reads them. A game is never deleted and what scoring reads of it
    never changes, so a process looks each one up once."""

    def __init__(self):
        self._games: dict[str, ScoringGame] = {}
        self._lock = threading.Lock()

    def get(self, slug: str) -> ScoringGame:
        """BoardNotFound if there is no such game."""
        found = self._games.get(slug)
        if found is None:
            board = game(slug=slug)
            found = ScoringGame(board.id, board.slug, board.rules)
            with self._lock:
                self._games[slug] = found
        return found

    def clear(self) -> None:
        """Forget every game (a test's database comes and goes under one process)."""
        with self._lock:
            self._games.clear()


scoring_games = ScoringGames()


def _check_range(min_score: int, max_score: int) -> None:
    if max_score < min_score:
        raise InvalidGame({"max_score": ["must not be below min_score"]})
    if max_score - min_score > ENCODABLE_POINTS_MAX:
        problem = f"max_score - min_score must be at most {ENCODABLE_POINTS_MAX:,} (exact encoding)"
        raise InvalidGame({"max_score": [problem]})


def _checked_reset(reset: object) -> ResetRule | None:
    try:
        return ResetRule.parse(reset)
    except InvalidReset as error:
        raise InvalidGame(error.problems) from None


def _checked_regions(regions: object) -> tuple[str, ...]:
    """The regions as a game keeps them (() for none); InvalidGame naming the problem."""
    if regions is None:
        return ()
    if not isinstance(regions, list):
        problem = "must be a list of region slugs"
    elif not REGIONS_MIN <= len(regions) <= REGIONS_MAX:
        problem = f"must name from {REGIONS_MIN} to {REGIONS_MAX} regions"
    elif not all(isinstance(region, str) and REGION_SLUG.fullmatch(region) for region in regions):
        problem = f"each region must be a lowercase slug (a-z, 0-9, '-', '_') of at most {REGION_MAX_LENGTH} characters"
    elif len(set(regions)) != len(regions):
        problem = "must not name a region twice"
    else:
        return tuple(regions)
    raise InvalidGame({"regions": [problem]})
