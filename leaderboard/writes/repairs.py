"""The repairs reads ask for: a rebuild from SQL when Redis does not hold a board whole, and a
check once Redis answers again after a read found it away."""

from ..models import Board
from .boundary import process_boundary


def repair_board(slug: str) -> bool:
    """Redis does not hold this game's board whole (it lost it, or the game is unknown): have the
    catch-up rebuild it if SQL has the game; True if it does."""
    if not Board.objects.filter(slug=slug).exists():
        return False
    process_boundary.catch_up.schedule(rebuild=slug)
    return True


def check_redis_when_back() -> None:
    """A read found Redis away: a restart or a failover may have lost acknowledged mirrors, and no
    write may fail to say so. A catch-up round checks once Redis answers again (recovery)."""
    process_boundary.catch_up.schedule()
