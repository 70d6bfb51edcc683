"""Board rules, order x operator, through the real write path: values, ties, and rebuilds."""

import pytest

from leaderboard import redis_store, services
from leaderboard.exceptions import TotalOutOfRange
from leaderboard.models import Board, BoardEntry, Score

from .boards import top
from .factories import make_game, play

pytestmark = pytest.mark.django_db


def make_board(order: str, operator: str, *, min_score: int = 0, max_score: int = 1000) -> Board:
    return make_game(f"{order}-{operator}", order=order, operator=operator, min_score=min_score, max_score=max_score)


def standings(board: Board) -> list[tuple[str, int]]:
    return top(board.slug, 100)


@pytest.mark.parametrize(
    "order, operator, scores, expected",
    [
        ("desc", "best", [("amy", 10), ("bob", 10), ("amy", 5)], [("amy", 10), ("bob", 10)]),
        ("desc", "best", [("amy", 10), ("bob", 20)], [("bob", 20), ("amy", 10)]),
        ("asc", "best", [("amy", 50), ("bob", 50), ("amy", 60)], [("amy", 50), ("bob", 50)]),
        ("asc", "best", [("amy", 50), ("bob", 40)], [("bob", 40), ("amy", 50)]),
        ("desc", "latest", [("amy", 30), ("bob", 20), ("amy", 10)], [("bob", 20), ("amy", 10)]),
        ("desc", "latest", [("bob", 20), ("amy", 30), ("amy", 20)], [("bob", 20), ("amy", 20)]),
        ("desc", "latest", [("amy", 20), ("bob", 20), ("amy", 20)], [("amy", 20), ("bob", 20)]),
        ("asc", "latest", [("amy", 30), ("bob", 20), ("amy", 40)], [("bob", 20), ("amy", 40)]),
        ("asc", "latest", [("bob", 20), ("amy", 10), ("amy", 20)], [("bob", 20), ("amy", 20)]),
        ("desc", "increment", [("amy", 5), ("bob", 3), ("bob", 2)], [("amy", 5), ("bob", 5)]),
        ("desc", "increment", [("bob", 3), ("amy", 5), ("bob", 2), ("bob", 0)], [("amy", 5), ("bob", 5)]),
        ("desc", "increment", [("amy", 5), ("bob", 3), ("bob", 3)], [("bob", 6), ("amy", 5)]),
        ("asc", "increment", [("amy", 5), ("bob", 5)], [("amy", 5), ("bob", 5)]),
        ("asc", "increment", [("amy", 5), ("bob", 2), ("bob", 1)], [("bob", 3), ("amy", 5)]),
    ],
)
def test_entries_and_ties_follow_the_boards_order_and_operator(order, operator, scores, expected):
    board = make_board(order, operator)

    play(board.slug, *scores)

    assert standings(board) == expected


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize("operator", ["best", "latest", "increment"])
def test_a_rebuild_restores_exactly_what_the_live_board_showed(order, operator):
    board = make_board(order, operator, min_score=-500, max_score=500)
    play(board.slug, *[(f"p{n % 7}", (n * 37) % 90 - 20) for n in range(60)])
    live = redis_store.client().zrevrange(redis_store.board_key(board.slug), 0, -1, withscores=True)
    redis_store.client().flushdb()

    services.rebuild_board(board=board)

    assert redis_store.client().zrevrange(redis_store.board_key(board.slug), 0, -1, withscores=True) == live
    assert services.check_board(board=board).clean


def test_an_increment_past_the_boards_range_is_refused_and_writes_nothing():
    board = make_board("desc", "increment", max_score=10)
    play(board.slug, ("amy", 8))

    with pytest.raises(TotalOutOfRange):
        services.submit_score(username="amy", points=3, board_slug=board.slug)

    assert Score.objects.filter(board=board).count() == 1
    assert BoardEntry.objects.get(board=board).value == 8
    assert standings(board) == [("amy", 8)]


def test_every_submission_is_counted_on_the_entry():
    board = make_board("desc", "best")
    play(board.slug, ("amy", 5), ("amy", 3), ("amy", 9))

    assert BoardEntry.objects.values_list("value", "submissions").get(board=board) == (9, 3)
