"""Property tests: for any sequence of submissions, the board in Redis matches a plain in-memory
model of the rules, in its standings, ranks, neighbours and ties, before and after a rebuild."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaderboard import redis_store, selectors, services
from leaderboard.models import Board, BoardEntry, Player, PlaySession, Score

from .factories import make_game, play

pytestmark = pytest.mark.django_db

PLAYERS = ["ana", "bo", "cy", "di", "ed"]
submissions = st.lists(st.tuples(st.sampled_from(PLAYERS), st.integers(min_value=0, max_value=50)), max_size=25)


def model_standings(order: str, operator: str, plays: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The board by hand: (value, when it was reached) per player, sorted by the rules."""
    held: dict[str, tuple[int, int]] = {}
    for when, (player, points) in enumerate(plays):
        if player not in held:
            held[player] = (points, when)
            continue
        value, _ = held[player]
        better = points > value if order == "desc" else points < value
        new = {"best": points if better else value, "latest": points, "increment": value + points}[operator]
        if new != value:
            held[player] = (new, when)
    sign = -1 if order == "desc" else 1
    return [(p, v) for p, (v, when) in sorted(held.items(), key=lambda item: (sign * item[1][0], item[1][1]))]


def reset() -> None:
    Score.objects.all().delete()
    PlaySession.objects.all().delete()
    BoardEntry.objects.all().delete()
    Player.objects.all().delete()
    Board.objects.exclude(slug="default").delete()
    services.scoring_games.clear()  # a game made again under the same slug is another game
    redis_store.client().flushdb()


def board_standings(game: str) -> list[tuple[str, int]]:
    page = selectors.leaderboard_page(game_id=game, top=100, offset=0)
    assert page.total_players == len(page.standings)
    return [(s.player_id, s.score) for s in page.standings]


def assert_reads_match(game: str, expected: list[tuple[str, int]]) -> None:
    assert board_standings(game) == expected
    for rank, (player, value) in enumerate(expected, start=1):
        around = selectors.neighbourhood(game_id=game, player_id=player, context=2)
        assert (around.player.rank, around.player.score) == (rank, value)
        assert [(s.player_id, s.score) for s in around.above] == expected[max(rank - 3, 0) : rank - 1]
        assert [(s.player_id, s.score) for s in around.below] == expected[rank : rank + 2]


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("operator", ["best", "latest", "increment"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plays=submissions)
def test_the_board_matches_the_model_before_and_after_a_rebuild(order, operator, plays):
    reset()
    board = make_game("prop", order=order, operator=operator, max_score=10_000)
    play("prop", *plays)
    expected = model_standings(order, operator, plays)

    assert_reads_match("prop", expected)
    services.rebuild_board(board=board)
    assert_reads_match("prop", expected)
