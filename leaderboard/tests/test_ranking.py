"""Ranking semantics: higher is better, best kept, ties go to whoever reached the score first."""

import random

import pytest

from leaderboard import selectors, services
from leaderboard.exceptions import PlayerNotRanked

from .boards import standing

pytestmark = pytest.mark.django_db


@pytest.fixture
def score(django_capture_on_commit_callbacks):
    def submit(username, points):
        with django_capture_on_commit_callbacks(execute=True):
            services.submit_score(username=username, points=points)

    return submit


def standings() -> list[tuple[int, str, int]]:
    page = selectors.leaderboard_page(game_id="default", top=100, offset=0)
    return [(s.rank, s.player_id, s.score) for s in page.standings]


def test_higher_points_rank_higher_with_unique_1_based_ranks(score):
    score("low", 10)
    score("high", 30)
    score("mid", 20)

    assert standings() == [(1, "high", 30), (2, "mid", 20), (3, "low", 10)]


def test_a_later_lower_score_never_lowers_the_best(score):
    score("amy", 500)
    score("amy", 100)

    assert standing("amy").score == 500


def test_a_later_higher_score_raises_the_best(score):
    score("amy", 100)
    score("amy", 500)

    assert standing("amy").score == 500


def test_at_equal_points_whoever_reached_them_first_ranks_higher(score):
    score("zed", 1)  # zed exists first: a lower player id and an alphabetically later name
    score("amy", 500)
    score("zed", 500)
    score("bob", 500)

    assert standings() == [(1, "amy", 500), (2, "zed", 500), (3, "bob", 500)]


def test_repeating_a_tied_best_keeps_the_time_it_was_first_reached(score):
    score("amy", 500)
    score("bob", 500)
    score("amy", 500)

    assert [username for _, username, _ in standings()] == ["amy", "bob"]


def test_reaching_a_tie_by_improving_ranks_after_those_already_there(score):
    score("amy", 500)
    score("bob", 100)
    score("bob", 500)

    assert [username for _, username, _ in standings()] == ["amy", "bob"]


def test_my_rank_agrees_with_top_players_for_every_player(score):
    rng = random.Random(7)
    for _ in range(200):
        score(f"p{rng.randrange(40)}", rng.randrange(0, 50))  # many ties

    top = selectors.leaderboard_page(game_id="default", top=40, offset=0).standings
    assert [s.rank for s in top] == list(range(1, len(top) + 1))
    for player in top:
        assert standing(player.player_id) == player


def test_an_unranked_player_is_reported_as_such(score):
    score("amy", 1)

    with pytest.raises(PlayerNotRanked):
        selectors.neighbourhood(game_id="default", player_id="bob", context=0)
