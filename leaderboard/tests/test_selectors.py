"""Reads come from Redis alone: these tests have no database access, so any SQL query would fail them."""

import pytest

from leaderboard import redis_store, selectors
from leaderboard.exceptions import BoardNotBuilt, PlayerNotRanked
from leaderboard.rules import BoardRules
from leaderboard.selectors import Neighbourhood, Page, Standing


def put(username, points, sequence, game="default"):
    redis_store.set_entry(game, username, redis_store.encode(points, sequence))


def test_a_page_reads_the_board_without_the_database():
    put("amy", 300, 1)
    put("bob", 200, 2)

    assert selectors.leaderboard_page(game_id="default", top=10, offset=0) == Page(
        [Standing(1, "amy", 300), Standing(2, "bob", 200)], 2
    )


def test_a_neighbourhood_reads_the_board_without_the_database():
    put("amy", 300, 1)
    put("bob", 300, 2)
    put("cat", 100, 3)

    assert selectors.neighbourhood(game_id="default", player_id="bob", context=1) == Neighbourhood(
        Standing(2, "bob", 300), 66.67, [Standing(1, "amy", 300)], [Standing(3, "cat", 100)]
    )


def test_neighbourhoods_read_together_are_each_players_neighbourhood_and_none_for_the_unranked():
    for n, name in enumerate(["amy", "bob", "cat", "dan", "eve"]):
        put(name, 100 - n, n + 1)

    together = selectors.neighbourhoods(game_id="default", player_ids=["amy", "dan", "zed", "eve"], context=1)

    assert together == {
        "amy": selectors.neighbourhood(game_id="default", player_id="amy", context=1),
        "dan": selectors.neighbourhood(game_id="default", player_id="dan", context=1),
        "zed": None,
        "eve": selectors.neighbourhood(game_id="default", player_id="eve", context=1),
    }
    assert together["dan"] == Neighbourhood(
        Standing(4, "dan", 97), 40.0, [Standing(3, "cat", 98)], [Standing(5, "eve", 96)]
    )


def test_a_page_stops_at_the_count_asked_for():
    for n in range(15):
        put(f"p{n}", n, n + 1)

    page = selectors.leaderboard_page(game_id="default", top=3, offset=0)

    assert [s.score for s in page.standings] == [14, 13, 12]
    assert page.total_players == 15


def test_entries_are_decoded_with_the_rules_redis_keeps_beside_the_board():
    redis_store.publish_board("speedrun", BoardRules("asc", "best", 100, 10_000))
    put("amy", 10_000 - 2_500, 1, game="speedrun")  # rank value: max_score - value

    assert selectors.standings_of(game_id="speedrun", player_ids=["amy", "nobody"]) == [Standing(1, "amy", 2_500)]


def test_a_player_without_an_entry_is_not_ranked():
    with pytest.raises(PlayerNotRanked):
        selectors.neighbourhood(game_id="default", player_id="nobody", context=5)


def test_a_standing_alone_is_the_neighbourhoods_player_read_with_the_boards_rules():
    redis_store.publish_board("speedrun", BoardRules("asc", "best", 100, 10_000))
    put("amy", 10_000 - 2_500, 1, game="speedrun")
    put("bob", 10_000 - 3_000, 2, game="speedrun")

    alone = selectors.standing(game_id="speedrun", player_id="bob")

    assert alone == Standing(2, "bob", 3_000)
    assert alone == selectors.neighbourhood(game_id="speedrun", player_id="bob", context=0).player
    with pytest.raises(PlayerNotRanked):
        selectors.standing(game_id="speedrun", player_id="nobody")


def test_a_standing_alone_is_not_read_from_a_board_without_its_header():
    put("amy", 300, 1, game="lost")  # entries, but no header: Redis does not hold the whole board

    with pytest.raises(BoardNotBuilt):
        redis_store.around("lost", "amy", 0)
