"""What the tests read back from the boards: through the selectors, as both APIs read them."""

from leaderboard import selectors
from leaderboard.exceptions import PlayerNotRanked
from leaderboard.limits import DEFAULT_BOARD_SLUG


def top(game: str = DEFAULT_BOARD_SLUG, count: int = 10) -> list[tuple[str, int]]:
    """(player, score) of the best `count`, best first."""
    page = selectors.leaderboard_page(game_id=game, top=count, offset=0)
    return [(standing.player_id, standing.score) for standing in page.standings]


def standing(player: str, game: str = DEFAULT_BOARD_SLUG) -> selectors.Standing | None:
    """The player's standing, or None if they have none."""
    try:
        return selectors.neighbourhood(game_id=game, player_id=player, context=0).player
    except PlayerNotRanked:
        return None


def rank_and_score(player: str, game: str = DEFAULT_BOARD_SLUG) -> tuple[int, int] | None:
    found = standing(player, game)
    return None if found is None else (found.rank, found.score)
