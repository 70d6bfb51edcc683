"""Reads come from Redis alone: these tests have no database access, so any SQL query would fail them."""

from leaderboard import redis_store, selectors
from leaderboard.selectors import RankedPlayer


def put(username, points, sequence):
    redis_store.set_entry("default", username, redis_store.encode(points, sequence))


def test_top_players_reads_the_board_without_the_database():
    put("amy", 300, 1)
    put("bob", 200, 2)

    assert selectors.top_players() == [RankedPlayer(1, "amy", 300), RankedPlayer(2, "bob", 200)]


def test_rank_for_reads_the_board_without_the_database():
    put("amy", 300, 1)
    put("bob", 300, 2)

    assert selectors.rank_for(username="bob") == RankedPlayer(2, "bob", 300)


def test_top_players_stops_at_the_count_asked_for():
    for n in range(15):
        put(f"p{n}", n, n + 1)

    assert [p.points for p in selectors.top_players(count=3)] == [14, 13, 12]
