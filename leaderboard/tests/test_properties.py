"""Property tests: for any sequence of submissions, the board in Redis matches a plain in-memory
model of the rules, in its standings, ranks, neighbours and ties, before and after a rebuild."""

from contextlib import suppress

import pytest
from django.test import TestCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaderboard import redis_store, selectors, services
from leaderboard.exceptions import InvalidRegion, PlayerNotRanked, RegionMismatch
from leaderboard.models import Board, BoardEntry, Player, PlaySession, Score
from leaderboard.selectors import Standing

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
    selectors.known_regions.clear()
    redis_store.client().flushdb()


def board_standings(game: str, region: str | None = None) -> list[tuple[str, int]]:
    page = selectors.leaderboard_page(game_id=game, top=100, offset=0, region=region)
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


# --- a game with regions: its shards merged, against the same model ---------------------------

REGIONS = ("na", "eu", "apac")
# A score names a region or none; a move sends a player to a region.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("score"), st.sampled_from(PLAYERS), st.integers(0, 50), st.sampled_from([*REGIONS, ""])),
        st.tuples(st.just("move"), st.sampled_from(PLAYERS), st.just(0), st.sampled_from(REGIONS)),
    ),
    max_size=30,
)


def model_regional(order: str, steps: list[tuple]) -> tuple[list[tuple[str, int]], dict[str, str]]:
    """The accepted scores, in order (a first score must name a region, a later one none or the
    player's), and each player's region once every move is made."""
    accepted, regions = [], {}
    for action, player, points, region in steps:
        held = regions.get(player)
        if action == "move":
            if held:  # a player without an entry cannot be moved
                regions[player] = region
        elif region in ("", held) if held else region:
            regions[player] = held or region
            accepted.append((player, points))
    return accepted, regions


def play_regional(game: str, steps: list[tuple]) -> None:
    for action, player, points, region in steps:
        with suppress(InvalidRegion, RegionMismatch, PlayerNotRanked), TestCase.captureOnCommitCallbacks(execute=True):
            if action == "move":
                services.move_player(game_id=game, player_id=player, region=region)
            else:
                services.submit_score(username=player, points=points, board_slug=game, region=region)


def assert_global_reads_match(game: str, expected: list[tuple[str, int]], regions: dict[str, str]) -> None:
    named = [(player, value, regions[player]) for player, value in expected]
    for top, offset in [(100, 0), (2, 0), (3, 1), (2, 4)]:
        page = selectors.leaderboard_page(game_id=game, top=top, offset=offset)
        assert page.total_players == len(named)
        assert [(s.rank, s.player_id, s.score, s.region) for s in page.standings] == [
            (rank, *entry) for rank, entry in enumerate(named, start=1)
        ][offset : offset + top]
    for rank, (player, value, region) in enumerate(named, start=1):
        around = selectors.neighbourhood(game_id=game, player_id=player, context=2)
        mine = [p for p, _v, r in named if r == region].index(player) + 1
        assert (around.player, around.regional_rank) == (Standing(rank, player, value, region), mine)
        assert [(s.player_id, s.score) for s in around.above] == expected[max(rank - 3, 0) : rank - 1]
        assert [(s.player_id, s.score) for s in around.below] == expected[rank : rank + 2]
        assert [s.rank for s in around.above + around.below] == [
            r for r in range(rank - 2, rank + 3) if r != rank and 1 <= r <= len(named)
        ]
    for region in REGIONS:
        mine = [(p, v) for p, v, r in named if r == region]
        assert board_standings(game, region) == mine


@pytest.mark.parametrize("order", ["desc", "asc"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_a_game_with_regions_reads_exactly_as_the_model_across_its_shards(order, steps):
    reset()
    board = make_game("prop", order=order, max_score=10_000, regions=list(REGIONS))
    play_regional("prop", steps)
    accepted, regions = model_regional(order, steps)
    expected = model_standings(order, "best", accepted)

    assert_global_reads_match("prop", expected, regions)
    services.rebuild_board(board=board)
    assert_global_reads_match("prop", expected, regions)
