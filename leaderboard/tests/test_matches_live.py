"""Match rooms through the server `make run` starts, with real WebSocket clients: the state on
connect, moves broadcast to players and spectators, every illegal action refused to its sender
alone, races, recovery after the pub/sub connection or the live server is lost, and forfeits."""

import json
import time
import urllib.error
import urllib.request

import psutil
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from leaderboard import selectors, services
from leaderboard.models import Match
from leaderboard.services import matches

from .conftest import LiveServer, accepts_websockets, nothing_more, started_live, wait_until
from .factories import make_game

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

# amy connects four in column 0 while bob plays column 1.
AMY_WINS = (("amy", 0), ("bob", 1), ("amy", 0), ("bob", 1), ("amy", 0), ("bob", 1), ("amy", 0))


@pytest.fixture
def arena(default_board):
    make_game("arena", operator="increment")
    return services.create_api_key(name="game-server", scope="server")


@pytest.fixture
def live(arena, redis_url, tmp_path):
    server = started_live(redis_url, tmp_path / "server.log")
    yield server
    assert "Traceback" not in server.stop()


def create_match(server: LiveServer, key: str, players=("amy", "bob")) -> dict:
    body = json.dumps({"game_id": "arena", "players": list(players), "rules": "connect_four"}).encode()
    request = urllib.request.Request(
        f"{server.url}/v1/matches", body, {"Content-Type": "application/json", "X-Api-Key": key}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201
        return json.loads(answer.read())


def rest_state(server: LiveServer, match_id: str) -> dict:
    with urllib.request.urlopen(f"{server.url}/v1/matches/{match_id}", timeout=10) as answer:
        return json.loads(answer.read())


def join(server: LiveServer, match: dict, player: str | None = None):
    """A connection to the match as the player (with their token) or as a spectator."""
    query = f"?token={match['tokens'][player]}" if player else ""
    return connect(f"{server.ws_url}/v1/matches/{match['match_id']}/state{query}")


def receive(socket, timeout: float = 5) -> dict:
    return json.loads(socket.recv(timeout=timeout))


def act(socket, column) -> None:
    socket.send(json.dumps({"type": "ACTION", "payload": {"column": column}}))


def drain(socket, quiet: float = 0.5) -> list[dict]:
    """What the socket is sent until it has been quiet a while."""
    messages = []
    while True:
        try:
            messages.append(json.loads(socket.recv(timeout=quiet)))
        except TimeoutError:
            return messages


def test_everyone_gets_the_state_on_connect_and_each_move_broadcast(live, arena):
    match = create_match(live, arena)
    assert match["state_url"] == f"{live.ws_url}/v1/matches/{match['match_id']}/state"
    with join(live, match, "amy") as amy, join(live, match, "bob") as bob, join(live, match) as watcher:
        first = [receive(amy), receive(bob), receive(watcher)]
        act(amy, 3)
        moved = [receive(amy), receive(bob), receive(watcher)]
        act(bob, 3)
        again = [receive(amy), receive(bob), receive(watcher)]

    assert first[0] == first[1] == first[2]
    assert {key: first[0][key] for key in ("type", "seq", "turn", "status", "winner", "moves")} == {
        "type": "STATE", "seq": 0, "turn": "amy", "status": "playing", "winner": None, "moves": 0,
    }  # fmt: skip
    assert first[0]["board"] == [[None] * 7 for _row in range(6)]
    assert moved[0] == moved[1] == moved[2]
    assert (moved[0]["seq"], moved[0]["turn"], moved[0]["board"][5][3]) == (1, "bob", "amy")
    assert again[0] == again[1] == again[2]
    assert (again[0]["seq"], again[0]["turn"], again[0]["board"][4][3]) == (2, "amy", "bob")
    assert rest_state(live, match["match_id"]) == {**again[0]}


@pytest.mark.parametrize(
    "mover, message, error",
    [
        ("bob", {"type": "ACTION", "payload": {"column": 0}}, "not_your_turn"),
        ("amy", {"type": "ACTION", "payload": {"column": 7}}, "illegal_move"),
        ("amy", {"type": "ACTION", "payload": {"column": -1}}, "illegal_move"),
        ("amy", {"type": "ACTION", "payload": {"column": "3"}}, "invalid_request"),
        ("amy", {"type": "ACTION", "payload": {"column": 2.0}}, "invalid_request"),
        ("amy", {"type": "ACTION"}, "invalid_request"),
        ("amy", {"type": "MOVE", "payload": {"column": 3}}, "invalid_request"),
        ("amy", ["ACTION"], "invalid_request"),
        ("amy", "not json", "invalid_request"),
        (None, {"type": "ACTION", "payload": {"column": 3}}, "forbidden"),
    ],
)
def test_an_illegal_action_gets_an_error_for_its_sender_alone_and_changes_nothing(live, arena, mover, message, error):
    match = create_match(live, arena)
    with join(live, match, "amy") as amy, join(live, match, "bob") as bob, join(live, match) as watcher:
        sockets = {"amy": amy, "bob": bob, None: watcher}
        for socket in sockets.values():
            receive(socket)
        sender = sockets[mover]
        sender.send(message if isinstance(message, str) else json.dumps(message))
        refused = receive(sender)
        others_heard_nothing = all(nothing_more(socket) for who, socket in sockets.items() if who != mover)

    assert (refused["type"], refused["error"]) == ("ERROR", error)
    assert refused["detail"]
    assert others_heard_nothing
    assert rest_state(live, match["match_id"])["seq"] == 0


def test_a_full_column_is_an_illegal_move(live, arena):
    match = create_match(live, arena)
    with join(live, match, "amy") as amy, join(live, match, "bob") as bob:
        receive(amy), receive(bob)
        for _turn in range(3):
            for mover in (amy, bob):
                act(mover, 6)
                receive(amy), receive(bob)
        act(amy, 6)
        refused = receive(amy)
        bob_heard_nothing = nothing_more(bob)

    assert (refused["error"], bob_heard_nothing) == ("illegal_move", True)
    assert "full" in refused["detail"]
    assert rest_state(live, match["match_id"])["seq"] == 6


def test_a_win_is_broadcast_recorded_in_sql_and_counted_on_the_game_and_no_move_follows(live, arena):
    match = create_match(live, arena)
    with join(live, match, "amy") as amy, join(live, match, "bob") as bob, join(live, match) as watcher:
        for socket in (amy, bob, watcher):
            receive(socket)
        for player, column in AMY_WINS:
            act(amy if player == "amy" else bob, column)
            states = [receive(amy), receive(bob), receive(watcher)]
        act(bob, 2)
        over = receive(bob)

    assert states[0] == states[1] == states[2]
    assert (states[0]["seq"], states[0]["status"], states[0]["winner"], states[0]["turn"]) == (7, "won", "amy", None)
    assert (over["type"], over["error"]) == ("ERROR", "match_over")
    # recorded just after the broadcast
    row = wait_until(lambda: Match.objects.exclude(status="playing").filter(id=match["match_id"]).first(), timeout=5)
    assert (row.status, row.winner, row.moves, row.players) == ("won", "amy", [0, 1, 0, 1, 0, 1, 0], ["amy", "bob"])
    assert selectors.standing(game_id="arena", player_id="amy").score == 1


def test_the_time_from_an_action_to_its_broadcast_is_in_the_metrics(arena, redis_url, tmp_path):
    server = started_live(redis_url, tmp_path / "server.log", METRICS_ENABLED="1")
    try:
        match = create_match(server, arena)
        with join(server, match, "amy") as amy:
            receive(amy)
            act(amy, 0)
            receive(amy)
            act(amy, 0)  # not amy's turn: refused, not timed
            receive(amy)
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as answer:
            exposition = answer.read().decode()
    finally:
        server.stop()

    assert "speedrank_match_action_seconds_count 1.0" in exposition


def test_of_actions_raced_from_two_connections_of_one_player_exactly_one_applies(live, arena):
    match = create_match(live, arena)
    with join(live, match, "amy") as phone, join(live, match, "amy") as tablet, join(live, match) as watcher:
        for socket in (phone, tablet, watcher):
            receive(socket)
        act(phone, 2)
        act(tablet, 4)
        heard = {"phone": drain(phone), "tablet": drain(tablet)}
        broadcast = receive(watcher)
        watcher_heard_no_more = nothing_more(watcher)

    refusals = [message for messages in heard.values() for message in messages if message["type"] == "ERROR"]
    states = [message for messages in heard.values() for message in messages if message["type"] == "STATE"]
    assert [refusal["error"] for refusal in refusals] == ["not_your_turn"]
    assert [state["seq"] for state in states] == [1, 1]
    assert (broadcast["seq"], watcher_heard_no_more) == (1, True)
    assert rest_state(live, match["match_id"])["seq"] == 1


def test_a_sync_request_gets_the_full_state_to_its_sender_alone(live, arena):
    match = create_match(live, arena)
    with join(live, match, "amy") as amy, join(live, match, "bob") as bob:
        receive(amy), receive(bob)
        act(amy, 5)
        moved = receive(amy)
        receive(bob)
        bob.send(json.dumps({"type": "SYNC_REQUEST"}))
        synced = receive(bob)
        amy_heard_nothing = nothing_more(amy)

    assert synced == moved
    assert amy_heard_nothing


@pytest.mark.parametrize("token", ["forged", "other_match", "garbage"])
def test_a_token_that_is_forged_or_for_another_match_is_closed_4401(live, arena, token):
    match, other = create_match(live, arena), create_match(live, arena)
    tokens = {
        "forged": match["tokens"]["amy"][:-4] + ("AAAA" if not match["tokens"]["amy"].endswith("AAAA") else "BBBB"),
        "other_match": other["tokens"]["amy"],
        "garbage": "x",
    }
    with connect(f"{live.ws_url}/v1/matches/{match['match_id']}/state?token={tokens[token]}") as socket:
        refused = receive(socket)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)

    assert (refused["type"], refused["error"], closed.value.rcvd.code) == ("ERROR", "invalid_token", 4401)


def test_an_unknown_match_is_closed_4404(live):
    with connect(f"{live.ws_url}/v1/matches/mch_0000000000000000/state") as socket:
        refused = receive(socket)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)

    assert (refused["error"], closed.value.rcvd.code) == ("match_not_found", 4404)


def test_a_move_applied_by_another_process_reaches_the_room_through_redis(live, arena):
    match = create_match(live, arena)
    with join(live, match, "bob") as bob:
        receive(bob)
        matches.play(match_id=match["match_id"], player_id="amy", column=1)  # here, not in the live server
        moved = receive(bob)

    assert (moved["seq"], moved["turn"], moved["board"][5][1]) == (1, "bob", "amy")


def test_states_published_while_the_subscription_was_down_arrive_as_the_full_state(live, arena, redis_url):
    match = create_match(live, arena)
    with join(live, match, "bob") as bob, join(live, match) as watcher:
        receive(bob), receive(watcher)
        killed = redis.Redis.from_url(redis_url).client_kill_filter(_type="pubsub")
        matches.play(match_id=match["match_id"], player_id="amy", column=4)  # published to nobody
        recovered = [receive(bob), receive(watcher)]
        act(bob, 4)  # and the room goes on
        after = [receive(bob), receive(watcher)]

    assert killed >= 1
    assert recovered[0] == recovered[1]
    assert (recovered[0]["seq"], recovered[0]["board"][5][4]) == (1, "amy")
    assert [state["seq"] for state in after] == [2, 2]


def test_a_board_watched_while_the_subscription_was_down_gets_its_new_top(live, redis_url):
    with connect(f"{live.ws_url}/v1/ws/leaderboard?game_id=default&top=3") as socket:
        assert receive(socket)["entries"] == []
        redis.Redis.from_url(redis_url).client_kill_filter(_type="pubsub")
        body = json.dumps({"username": "amy", "points": 7}).encode()
        request = urllib.request.Request(f"{live.url}/api/score/", body, {"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=5).close()
        top = receive(socket)

    assert [(entry["player_id"], entry["score"]) for entry in top["entries"]] == [("amy", 7)]


def test_a_live_server_restarted_mid_match_loses_nothing(live, arena):
    match = create_match(live, arena)
    with join(live, match, "amy") as amy, join(live, match, "bob") as bob:
        receive(amy), receive(bob)
        for mover, column in ((amy, 3), (bob, 3), (amy, 2)):
            act(mover, column)
            receive(amy), receive(bob)
        (process,) = [child for child, command in live.children() if command[-3:-2] == ["live"]]
        workers = process.children(recursive=True)
        process.kill()
        with pytest.raises(ConnectionClosed):
            while True:
                amy.recv(timeout=10)

    # The killed server's workers stop once they see it gone: until then they may take a connection.
    _gone, alive = psutil.wait_procs(workers, timeout=20)
    assert alive == []
    wait_until(lambda: accepts_websockets(live), timeout=20)
    with join(live, match, "amy") as amy, join(live, match, "bob") as bob:
        rejoined = [receive(amy), receive(bob)]
        act(bob, 2)
        moved = [receive(amy), receive(bob)]

    assert [state["seq"] for state in rejoined] == [3, 3]
    assert (rejoined[0]["turn"], rejoined[0]["board"][5][2], rejoined[0]["board"][4][3]) == ("bob", "amy", "bob")
    assert [state["seq"] for state in moved] == [4, 4]


def test_a_player_away_past_the_forfeit_timeout_loses_to_the_one_connected(arena, redis_url, tmp_path):
    server = started_live(redis_url, tmp_path / "server.log", MATCH_FORFEIT_SECONDS="1")
    try:
        match = create_match(server, arena)
        with join(server, match, "amy") as amy:
            receive(amy)
            started = time.monotonic()
            ended = receive(amy, timeout=10)
            waited = time.monotonic() - started
    finally:
        server.stop()

    assert (ended["status"], ended["winner"], ended["reason"], ended["seq"]) == ("won", "amy", "forfeit", 1)
    assert 0.5 <= waited <= 5
    row = Match.objects.get(id=match["match_id"])
    assert (row.status, row.winner, row.reason) == ("won", "amy", "forfeit")
    assert selectors.standing(game_id="arena", player_id="amy").score == 1


def test_a_room_idle_past_its_time_is_told_the_match_expired(arena, redis_url, tmp_path):
    server = started_live(redis_url, tmp_path / "server.log", MATCH_IDLE_SECONDS="5")
    try:
        match = create_match(server, arena)
        with join(server, match, "amy") as amy, join(server, match, "bob") as bob, join(server, match) as watcher:
            for socket in (amy, bob, watcher):
                receive(socket)
            act(amy, 3)
            for socket in (amy, bob, watcher):
                receive(socket)
            ended = [receive(amy, timeout=10), receive(bob, timeout=10), receive(watcher, timeout=10)]
    finally:
        server.stop()

    assert ended[0] == ended[1] == ended[2]
    assert (ended[0]["status"], ended[0]["reason"], ended[0]["winner"], ended[0]["seq"], ended[0]["moves"]) == (
        "abandoned", "expired", None, 2, 1,
    )  # fmt: skip
    row = Match.objects.get(id=match["match_id"])
    assert (row.status, row.reason, row.moves) == ("abandoned", "expired", [3])
