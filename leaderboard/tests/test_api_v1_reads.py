"""/v1/ reads: the leaderboard page, a player's neighbourhood, friends, matchmaking and profiles,
answered from Redis without SQL; and the v1 error shape of unknown paths and methods."""

from urllib.parse import quote

import pytest

from leaderboard import redis_store, services
from leaderboard.models import Board, Player

from .conftest import seconds_left_in_window, wait_until
from .factories import make_game, play

pytestmark = pytest.mark.django_db

GAME = "chess_blitz"


@pytest.fixture
def ten() -> Board:
    """p1 .. p10 with 1000 .. 100 points: p1 first, p10 last."""
    board = make_game(GAME)
    play(board.slug, *((f"p{n}", 1100 - n * 100) for n in range(1, 11)))
    return board


def entry(n: int) -> dict:
    """The standing of pN on the `ten` board."""
    return {"rank": n, "player_id": f"p{n}", "score": 1100 - n * 100}


def error(code: str, detail) -> dict:
    return {"error": code, "detail": detail}


# --- the leaderboard page --------------------------------------------------------------------


def test_a_leaderboard_page_lists_entries_from_the_offset_and_counts_every_player(api, ten):
    response = api.get("/v1/leaderboard", {"game_id": GAME, "top": 3, "offset": 4})

    assert response.status_code == 200
    assert response.json() == {"game_id": GAME, "entries": [entry(5), entry(6), entry(7)], "total_players": 10}


def test_the_leaderboard_defaults_to_the_top_ten(api, ten):
    response = api.get("/v1/leaderboard", {"game_id": GAME})

    assert response.json() == {"game_id": GAME, "entries": [entry(n) for n in range(1, 11)], "total_players": 10}


def test_a_page_past_the_last_player_is_empty(api, ten):
    response = api.get("/v1/leaderboard", {"game_id": GAME, "offset": 10})

    assert response.status_code == 200
    assert response.json() == {"game_id": GAME, "entries": [], "total_players": 10}


def test_reading_the_leaderboard_issues_no_sql(api, ten, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api.get("/v1/leaderboard", {"game_id": GAME, "top": 1})

    assert response.json() == {"game_id": GAME, "entries": [entry(1)], "total_players": 10}


@pytest.mark.parametrize(
    "query, detail",
    [
        ({"top": 0}, {"top": ["Ensure this value is greater than or equal to 1."]}),
        ({"top": 101}, {"top": ["Ensure this value is less than or equal to 100."]}),
        ({"top": "abc"}, {"top": ["A valid integer is required."]}),
        ({"offset": -1}, {"offset": ["Ensure this value is greater than or equal to 0."]}),
        ({"offset": "1.5"}, {"offset": ["A valid integer is required."]}),
        ({"game_id": None}, {"game_id": ["This field is required."]}),
    ],
)
def test_leaderboard_queries_out_of_bounds_are_400(api, ten, query, detail):
    params = {key: value for key, value in ({"game_id": GAME} | query).items() if value is not None}

    response = api.get("/v1/leaderboard", params)

    assert response.status_code == 400
    assert response.json() == error("invalid_request", detail)


@pytest.mark.parametrize(
    "path, query",
    [
        ("/v1/leaderboard", {}),
        ("/v1/leaderboard/rank", {"player_id": "p1"}),
        ("/v1/leaderboard/players", {"player_ids": "p1"}),
        ("/v1/matchmaking", {"player_id": "p1"}),
    ],
)
def test_every_read_of_an_unknown_game_is_404_game_not_found(api, path, query):
    response = api.get(path, {"game_id": "nope", **query})

    assert response.status_code == 404
    assert response.json() == error("game_not_found", "No board named 'nope'.")


def test_an_asc_board_shows_the_lowest_score_first_with_real_scores(api):
    board = make_game("speedrun", order="asc")
    play(board.slug, ("amy", 5000), ("bob", 3000), ("cat", 7000), ("amy", 4000))

    response = api.get("/v1/leaderboard", {"game_id": "speedrun"})

    entries = [
        {"rank": 1, "player_id": "bob", "score": 3000},
        {"rank": 2, "player_id": "amy", "score": 4000},
        {"rank": 3, "player_id": "cat", "score": 7000},
    ]
    assert response.json() == {"game_id": "speedrun", "entries": entries, "total_players": 3}


def test_a_board_with_negative_scores_reads_them_back(api):
    board = make_game("golf", min_score=-500)
    play(board.slug, ("amy", -120), ("bob", 40))

    response = api.get("/v1/leaderboard", {"game_id": "golf"})

    entries = [{"rank": 1, "player_id": "bob", "score": 40}, {"rank": 2, "player_id": "amy", "score": -120}]
    assert response.json() == {"game_id": "golf", "entries": entries, "total_players": 2}


def test_after_redis_lost_its_data_reads_wait_for_the_rebuild_instead_of_showing_a_partial_board(api):
    board = make_game(GAME)
    play(board.slug, ("amy", 300))
    redis_store.client().flushdb()  # a Redis restart without persistence
    play(board.slug, ("bob", 500))  # mirrored into the emptied board

    partial = api.get("/v1/leaderboard", {"game_id": GAME})
    services.rebuild_all_boards()  # what the catch-up round that the read scheduled does
    whole = api.get("/v1/leaderboard", {"game_id": GAME})

    assert (partial.status_code, partial.json()["error"]) == (503, "service_unavailable")
    assert whole.status_code == 200
    assert whole.json() == {
        "game_id": GAME,
        "entries": [{"rank": 1, "player_id": "bob", "score": 500}, {"rank": 2, "player_id": "amy", "score": 300}],
        "total_players": 2,
    }


# --- a player's rank with context ------------------------------------------------------------


def test_rank_shows_the_player_with_context_on_each_side(api, ten):
    response = api.get("/v1/leaderboard/rank", {"game_id": GAME, "player_id": "p5", "context": 2})

    assert response.status_code == 200
    assert response.json() == {
        "player": entry(5) | {"percentile": 60.0},
        "above": [entry(3), entry(4)],
        "below": [entry(6), entry(7)],
    }


def test_the_leader_has_no_one_above_and_the_100th_percentile(api, ten):
    response = api.get("/v1/leaderboard/rank", {"game_id": GAME, "player_id": "p1", "context": 3})

    assert response.json() == {
        "player": entry(1) | {"percentile": 100.0},
        "above": [],
        "below": [entry(2), entry(3), entry(4)],
    }


def test_near_the_bottom_fewer_entries_show_below(api, ten):
    response = api.get("/v1/leaderboard/rank", {"game_id": GAME, "player_id": "p9"})

    assert response.json() == {
        "player": entry(9) | {"percentile": 20.0},
        "above": [entry(n) for n in range(4, 9)],
        "below": [entry(10)],
    }


def test_percentiles_are_rounded_to_two_places(api):
    board = make_game(GAME)
    play(board.slug, ("a", 3), ("b", 2), ("c", 1))

    response = api.get("/v1/leaderboard/rank", {"game_id": GAME, "player_id": "b", "context": 0})

    assert response.json() == {
        "player": {"rank": 2, "player_id": "b", "score": 2, "percentile": 66.67},
        "above": [],
        "below": [],
    }


def test_reading_a_rank_issues_no_sql(api, ten, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api.get("/v1/leaderboard/rank", {"game_id": GAME, "player_id": "p10", "context": 1})

    assert response.json() == {"player": entry(10) | {"percentile": 10.0}, "above": [entry(9)], "below": []}


@pytest.mark.parametrize(
    "context, message",
    [(51, "Ensure this value is less than or equal to 50."), (-1, "Ensure this value is greater than or equal to 0.")],
)
def test_a_context_outside_0_to_50_is_400(api, ten, context, message):
    response = api.get("/v1/leaderboard/rank", {"game_id": GAME, "player_id": "p1", "context": context})

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"context": [message]})


def test_the_rank_of_a_player_without_a_score_is_404_player_not_ranked(api, ten):
    response = api.get("/v1/leaderboard/rank", {"game_id": GAME, "player_id": "ghost"})

    assert response.status_code == 404
    assert response.json() == error("player_not_ranked", "'ghost' has no score on this board.")


def test_an_asc_board_ranks_and_decodes_the_fastest_time_first(api):
    board = make_game("speedrun", order="asc")
    play(board.slug, ("amy", 5000), ("bob", 3000), ("cat", 7000))

    response = api.get("/v1/leaderboard/rank", {"game_id": "speedrun", "player_id": "amy", "context": 1})

    assert response.json() == {
        "player": {"rank": 2, "player_id": "amy", "score": 5000, "percentile": 66.67},
        "above": [{"rank": 1, "player_id": "bob", "score": 3000}],
        "below": [{"rank": 3, "player_id": "cat", "score": 7000}],
    }


# --- friends view ----------------------------------------------------------------------------


def test_the_players_view_lists_those_players_best_first_leaving_out_unknown_ids(api, ten):
    response = api.get("/v1/leaderboard/players", {"game_id": GAME, "player_ids": "p7,ghost,p2, p9"})

    assert response.status_code == 200
    assert response.json() == {"game_id": GAME, "entries": [entry(2), entry(7), entry(9)]}


def test_the_players_view_issues_no_sql(api, ten, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api.get("/v1/leaderboard/players", {"game_id": GAME, "player_ids": "p3,p1"})

    assert response.json() == {"game_id": GAME, "entries": [entry(1), entry(3)]}


def test_the_players_view_accepts_200_ids_in_a_post_body(api, ten):
    ids = ["p4", *(f"friend-with-a-long-name-{n}" for n in range(199))]

    response = api.post("/v1/leaderboard/players", {"game_id": GAME, "player_ids": ids}, format="json")

    assert response.status_code == 200
    assert response.json() == {"game_id": GAME, "entries": [entry(4)]}


def test_more_than_200_ids_is_400(api, ten):
    ids = [f"friend{n}" for n in range(201)]

    response = api.post("/v1/leaderboard/players", {"game_id": GAME, "player_ids": ids}, format="json")

    assert response.status_code == 400
    assert response.json() == error(
        "invalid_request", {"player_ids": ["Ensure this field has no more than 200 elements."]}
    )


def test_a_query_string_of_ids_over_600_characters_is_400(api, ten):
    ids = ",".join(f"friend{n:04d}" for n in range(60))

    response = api.get("/v1/leaderboard/players", {"game_id": GAME, "player_ids": ids})

    assert response.status_code == 400
    assert response.json() == error(
        "invalid_request", {"player_ids": ["Ensure this field has no more than 600 characters."]}
    )


def test_unknown_query_parameters_are_400_naming_them(api, ten):
    response = api.get("/v1/leaderboard", {"game_id": GAME, "limit": 5})

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"limit": ["unknown query parameter"]})


def test_the_players_view_decodes_an_asc_board(api):
    board = make_game("speedrun", order="asc")
    play(board.slug, ("amy", 5000), ("bob", 3000))

    response = api.get("/v1/leaderboard/players", {"game_id": "speedrun", "player_ids": "amy,bob"})

    entries = [{"rank": 1, "player_id": "bob", "score": 3000}, {"rank": 2, "player_id": "amy", "score": 5000}]
    assert response.json() == {"game_id": "speedrun", "entries": entries}


# --- matchmaking -----------------------------------------------------------------------------


def test_matchmaking_lists_the_nearest_players_in_rank_best_first_without_the_player(api, ten):
    response = api.get("/v1/matchmaking", {"game_id": GAME, "player_id": "p5", "size": 3})

    assert response.status_code == 200
    assert response.json() == {"game_id": GAME, "player_id": "p5", "players": [entry(3), entry(4), entry(6)]}


def test_matchmaking_for_the_leader_looks_only_below(api, ten):
    response = api.get("/v1/matchmaking", {"game_id": GAME, "player_id": "p1", "size": 2})

    assert response.json() == {"game_id": GAME, "player_id": "p1", "players": [entry(2), entry(3)]}


def test_matchmaking_issues_no_sql(api, ten, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api.get("/v1/matchmaking", {"game_id": GAME, "player_id": "p10", "size": 1})

    assert response.json() == {"game_id": GAME, "player_id": "p10", "players": [entry(9)]}


def test_matchmaking_for_a_player_without_a_score_is_404(api, ten):
    response = api.get("/v1/matchmaking", {"game_id": GAME, "player_id": "ghost"})

    assert response.status_code == 404
    assert response.json() == error("player_not_ranked", "'ghost' has no score on this board.")


@pytest.mark.parametrize("size", [0, 51])
def test_a_matchmaking_size_outside_1_to_50_is_400(api, ten, size):
    response = api.get("/v1/matchmaking", {"game_id": GAME, "player_id": "p1", "size": size})

    bound = "greater than or equal to 1" if size == 0 else "less than or equal to 50"
    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"size": [f"Ensure this value is {bound}."]})


# --- profiles --------------------------------------------------------------------------------


def created_at(player_id: str) -> str:
    return Player.objects.get(username=player_id).created_at.isoformat().replace("+00:00", "Z")


@pytest.fixture
def two_games() -> tuple[Board, Board]:
    chess, speedrun = make_game(GAME), make_game("speedrun", order="asc")
    play(chess.slug, ("amy", 300), ("bob", 500), ("amy", 200))
    play(speedrun.slug, ("amy", 4000))
    return chess, speedrun


def test_a_profile_shows_each_games_score_rank_and_submissions(api, two_games):
    response = api.get("/v1/players/amy")

    assert response.status_code == 200
    assert response.json() == {
        "player_id": "amy",
        "created_at": created_at("amy"),
        "games": [
            {"game_id": GAME, "score": 300, "rank": 2, "submissions": 2},
            {"game_id": "speedrun", "score": 4000, "rank": 1, "submissions": 1},
        ],
        "avatar": {"status": "none", "urls": None, "error": None},
    }


def test_the_profile_of_an_unknown_player_is_404(api):
    response = api.get("/v1/players/ghost")

    assert response.status_code == 404
    assert response.json() == error("player_not_found", "No player 'ghost'.")


def test_a_second_read_of_a_profile_is_served_from_redis_without_sql(api, two_games, django_assert_num_queries):
    first = api.get("/v1/players/amy").json()

    with django_assert_num_queries(0):
        second = api.get("/v1/players/amy")

    assert second.json() == first


def test_a_profile_shows_the_new_score_once_the_player_scores_again(api, two_games):
    chess, _speedrun = two_games
    api.get("/v1/players/amy")

    play(chess.slug, ("amy", 900))

    assert api.get("/v1/players/amy").json()["games"][0] == {"game_id": GAME, "score": 900, "rank": 1, "submissions": 3}


# --- rate limits on reads --------------------------------------------------------------------


def test_reads_past_the_per_ip_limit_are_429_with_retry_after(api, ten, settings):
    settings.RATE_LIMIT_READS_PER_IP, settings.RATE_LIMIT_WINDOW = 2, 3600  # a window the test stays inside
    api.get("/v1/leaderboard", {"game_id": GAME})
    api.get("/v1/leaderboard", {"game_id": GAME})

    response = api.get("/v1/matchmaking", {"game_id": GAME, "player_id": "p1"})

    wait = response["Retry-After"]
    assert response.status_code == 429
    assert response.json() == error("rate_limited", f"Request was throttled. Expected available in {wait} seconds.")
    assert wait in seconds_left_in_window(3600)
    assert (response["RateLimit-Limit"], response["RateLimit-Remaining"], response["RateLimit-Reset"]) == (
        "2",
        "0",
        wait,
    )


def test_a_read_within_the_limit_carries_ratelimit_headers(api, ten, settings):
    settings.RATE_LIMIT_READS_PER_IP, settings.RATE_LIMIT_WINDOW = 5, 3600

    response = api.get("/v1/leaderboard", {"game_id": GAME})

    assert (response["RateLimit-Limit"], response["RateLimit-Remaining"]) == ("5", "4")
    assert response["RateLimit-Reset"] in seconds_left_in_window(3600)


# --- the error shape of paths and methods ----------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/nothing-here", "/v1/players/", "/v1/games/not a slug"])
def test_an_unknown_v1_path_is_a_json_404(api, path):
    response = api.get(path)

    assert response.status_code == 404
    assert response.json() == error("not_found", "Not found.")


@pytest.mark.parametrize(
    "method, path",
    [("delete", "/v1/games"), ("put", "/v1/games/chess_blitz"), ("post", "/v1/leaderboard"), ("get", "/v1/scores")],
)
def test_a_wrong_method_is_405_method_not_allowed(api, method, path):
    response = getattr(api, method)(path)

    assert response.status_code == 405
    assert response.json() == error("method_not_allowed", f'Method "{method.upper()}" not allowed.')


@pytest.mark.django_db(transaction=True)  # the rebuild the read asks for runs in a thread of its own
def test_a_read_of_a_board_without_its_header_is_503_until_the_board_is_rebuilt(api, ten):
    redis_store.client().zrem(redis_store.board_key(ten.slug), redis_store.header(ten.rules))

    lost = api.get("/v1/leaderboard", {"game_id": ten.slug, "top": 1})
    again = wait_until(
        lambda: (answer := api.get("/v1/leaderboard", {"game_id": ten.slug, "top": 1})).status_code == 200 and answer,
        timeout=10,
    )

    assert (lost.status_code, lost["Retry-After"], lost.json()["error"]) == (503, "1", "service_unavailable")
    assert again.json()["entries"] == [entry(1)]


@pytest.mark.parametrize("player_id", ["nul\x00byte", "x" * 151])
def test_a_profile_path_that_is_no_valid_player_id_is_400(api, player_id):
    response = api.get(f"/v1/players/{quote(player_id)}")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_an_empty_integer_parameter_is_400_not_the_default(api, ten):
    response = api.get("/v1/leaderboard", {"game_id": GAME, "top": ""})

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"top": ["A valid integer is required."]})


def test_invalid_ids_in_a_post_body_are_400_naming_each_by_position(api, ten):
    response = api.post("/v1/leaderboard/players", {"game_id": GAME, "player_ids": ["p1", 0, ""]}, format="json")

    assert response.status_code == 400
    assert response.json() == error(
        "invalid_request",
        {"player_ids": {"1": ["A string is required."], "2": ["This field may not be blank."]}},
    )
