"""The live server, through the server `make run` starts, with a real WebSocket client: a board's top
pushed as scores land over REST, coalesced, and bad input refused with an ERROR and a close code."""

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from leaderboard import services

from .conftest import accepts_websockets, nothing_more, post_score, started_live, wait_until

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


def receive(socket) -> dict:
    return json.loads(socket.recv(timeout=5))


def top_of(message: dict) -> list[tuple[str, int]]:
    return [(entry["player_id"], entry["score"]) for entry in message["entries"]]


def test_a_client_gets_the_top_on_connect_then_each_new_top_as_scores_land(live):
    post_score(live, "amy", 10)
    with connect(f"{live.ws_url}/v1/ws/leaderboard?game_id=default&top=2") as socket:
        first = receive(socket)
        assert (first["type"], first["seq"], first["game_id"], top_of(first)) == ("TOP", 1, "default", [("amy", 10)])
        assert first["total_players"] == 1

        post_score(live, "bob", 30)
        second = receive(socket)
        post_score(live, "cy", 20)
        third = receive(socket)

    assert (second["seq"], top_of(second), second["total_players"]) == (2, [("bob", 30), ("amy", 10)], 2)
    assert (third["seq"], top_of(third), third["total_players"]) == (3, [("bob", 30), ("cy", 20)], 3)


def test_a_burst_of_scores_is_coalesced_and_the_last_top_is_the_board(live):
    with connect(f"{live.ws_url}/v1/ws/leaderboard?game_id=default&top=5") as socket:
        receive(socket)
        started = time.monotonic()
        for n in range(100):
            post_score(live, f"p{n % 20}", n)
        seconds = time.monotonic() - started
        messages = []
        while not messages or top_of(messages[-1])[0] != ("p19", 99):
            messages.append(receive(socket))

    assert [message["seq"] for message in messages] == list(range(2, len(messages) + 2))
    assert top_of(messages[-1]) == [("p19", 99), ("p18", 98), ("p17", 97), ("p16", 96), ("p15", 95)]
    assert len(messages) <= seconds / 0.1 + 3  # at most one per coalescing interval, and the last


@pytest.mark.parametrize(
    "query, error, code",
    [
        ("game_id=nope", "game_not_found", 4404),
        ("game_id=default&top=0", "invalid_request", 4400),
        ("game_id=default&top=101", "invalid_request", 4400),
        ("game_id=default&top=ten", "invalid_request", 4400),
        ("top=5", "invalid_request", 4400),
        ("game_id=bad%20id", "invalid_request", 4400),
        ("game_id=default&region=eu", "invalid_request", 4400),  # the default board has no regions
    ],
)
def test_bad_input_gets_an_error_then_the_close_code_that_names_it(live, query, error, code):
    with connect(f"{live.ws_url}/v1/ws/leaderboard?{query}") as socket:
        message = receive(socket)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)

    assert (message["type"], message["error"]) == ("ERROR", error)
    assert message["detail"]
    assert closed.value.rcvd.code == code


def test_a_path_that_is_no_stream_is_closed_4404(live):
    with connect(f"{live.ws_url}/v1/ws/nothing") as socket, pytest.raises(ConnectionClosed) as closed:
        error = receive(socket)
        socket.recv(timeout=5)

    assert (error["type"], error["error"], closed.value.rcvd.code) == ("ERROR", "not_found", 4404)


def test_the_live_server_is_started_again_if_it_dies(live):
    (process,) = [child for child, command in live.children() if command[-3:-2] == ["live"]]
    process.kill()

    wait_until(lambda: accepts_websockets(live), timeout=20)


def test_a_followed_player_gets_their_rank_and_is_told_who_overtook_them(live):
    post_score(live, "amy", 50)
    post_score(live, "bob", 10)
    with connect(f"{live.ws_url}/v1/ws/leaderboard?game_id=default&top=1&player_id=bob") as socket:
        top, rank = receive(socket), receive(socket)
        assert (top["type"], top["seq"], rank["seq"]) == ("TOP", 1, 2)
        assert rank == {"type": "RANK", "seq": 2, "player_id": "bob", "rank": 2, "score": 10, "percentile": 50.0}

        post_score(live, "cy", 20)  # passes bob; the top-1 stays amy's, of 3 players now
        moved = [receive(socket), receive(socket), receive(socket)]

    # The new top and bob's new rank may be read in one coalescing interval or in two, so the TOP
    # may come before or after the RANK and OVERTAKEN it goes with; those two come in that order.
    assert [message["seq"] for message in moved] == [3, 4, 5]
    by_type = {message.pop("type"): message for message in moved}
    assert (top_of(by_type["TOP"]), by_type["TOP"]["total_players"]) == ([("amy", 50)], 3)
    rank, overtaken = by_type["RANK"], by_type["OVERTAKEN"]
    assert rank["seq"] < overtaken["seq"]
    assert {key: rank[key] for key in ("player_id", "rank", "score", "percentile")} == {
        "player_id": "bob", "rank": 3, "score": 10, "percentile": 33.33,
    }  # fmt: skip
    assert {key: overtaken[key] for key in ("player_id", "by", "rank", "by_score")} == {
        "player_id": "bob", "by": "cy", "rank": 3, "by_score": 20,
    }  # fmt: skip


def test_a_followed_player_without_a_score_gets_their_rank_once_they_score(live):
    with connect(f"{live.ws_url}/v1/ws/leaderboard?game_id=default&top=3&player_id=dee") as socket:
        assert receive(socket)["type"] == "TOP"
        post_score(live, "dee", 5)
        messages = [receive(socket), receive(socket)]

    assert [message["type"] for message in messages] == ["TOP", "RANK"]
    assert (messages[1]["rank"], messages[1]["score"]) == (1, 5)


def test_connections_over_the_per_address_cap_are_closed_4429(default_board, redis_url, tmp_path):
    server = started_live(redis_url, tmp_path / "server.log", LIVE_CONNECTIONS_PER_IP="2")
    try:
        url = f"{server.ws_url}/v1/ws/leaderboard?game_id=default"
        with connect(url) as first, connect(url) as second:
            assert receive(first)["type"] == receive(second)["type"] == "TOP"
            with connect(url) as third:
                refused = receive(third)
                with pytest.raises(ConnectionClosed) as closed:
                    third.recv(timeout=5)
        with connect(url) as again:  # the two closed: room again
            assert receive(again)["type"] == "TOP"
    finally:
        server.stop()

    assert (refused["type"], refused["error"], closed.value.rcvd.code) == ("ERROR", "too_many_connections", 4429)


def test_a_message_over_the_size_cap_closes_the_connection_1009(live):
    with connect(f"{live.ws_url}/v1/ws/leaderboard?game_id=default", max_size=None) as socket:
        receive(socket)
        socket.send("x" * 4097)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)

    assert closed.value.rcvd.code == 1009


def test_a_hundred_writes_within_a_coalescing_interval_give_few_tops_and_the_last_is_the_board(live):
    with connect(f"{live.ws_url}/v1/ws/leaderboard?game_id=default&top=3") as socket:
        receive(socket)
        started = time.monotonic()
        for n in range(100):  # committed here, as fast as a process can: announced through Redis
            services.submit_score(username=f"p{n % 10}", points=n, board_slug="default")
        seconds = time.monotonic() - started
        messages = []
        while not messages or top_of(messages[-1])[0] != ("p9", 99):
            messages.append(receive(socket))
        quiet = nothing_more(socket)

    assert top_of(messages[-1]) == [("p9", 99), ("p8", 98), ("p7", 97)]
    assert len(messages) <= 2 + seconds / 0.1, f"{len(messages)} tops for 100 writes in {seconds:.3f} s"
    assert quiet
