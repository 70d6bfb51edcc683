"""The one factory per thing the tests make, with defaults a test overrides only where it matters."""

from django.test import TestCase

from leaderboard import services
from leaderboard.models import Board

GAME_DEFAULTS = {
    "order": "desc",
    "operator": "best",
    "min_score": 0,
    "max_score": 1_000_000,
    "max_points_per_second": None,
    "max_session_seconds": 3600,
}


def make_game(slug: str = "chess", **overrides) -> Board:
    """A game, made as POST /v1/games makes it, its rules published to Redis once it commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return services.create_game(slug=slug, **{"name": slug.title(), **GAME_DEFAULTS, **overrides})


def play(game: str, *scores: tuple[str, int]) -> None:
    """Each (player, points) recorded on the game in turn, mirrored to Redis as a request would."""
    for username, points in scores:
        with TestCase.captureOnCommitCallbacks(execute=True):
            services.submit_score(username=username, points=points, board_slug=game)
