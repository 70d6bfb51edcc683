"""The repair a read asks for when Redis does not hold a board whole: a rebuild from SQL."""

from ..models import Board
from .boundary import process_boundary


def repair_board(slug: str) -> bool:
    """Redis does not hold this game's board whole (it lost it, or the game is unknown): have the
    catch-up rebuild it if SQL has the game; True if it does."""
    if not Board.objects.filter(slug=slug).exists():
        return False
    process_boundary.catch_up.schedule(rebuild=slug)
    return True
