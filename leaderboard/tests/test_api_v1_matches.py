"""/v1/matches over REST: creating a match with a server key, its signed tokens, its state, and
the service's moves, atomic in Redis and recorded in SQL when the match ends."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
from django.core import signing
from django.test import override_settings

from leaderboard import redis_store, selectors, services
from leaderboard.exceptions import InvalidToken, MatchOver, NotYourTurn
from leaderboard.models import Match
from leaderboard.services import matches

from .conftest import wait_until
from .factories import make_game

pytestmark = pytest.mark.django_db(transaction=True)

EMPTY_BOARD = [[None] * 7 for _row in range(6)]


@pytest.fixture
def server_key(default_board) -> str:
    return services.create_api_key(name="game-server", scope="server")


@pytest.fixture
def arena(default_board):
    return make_game("arena", operator="increment")


@pytest.fixture
def create(api, server_key, django_capture_on_commit_callbacks):
    def post(payload: dict, key: str | None = server_key):
        headers = {"HTTP_X_API_KEY": key} if key else {}
        with django_capture_on_commit_callbacks(execute=True):
            return api.post("/v1/matches", payload, format="json", **headers)

    return post


def a_match(create) -> dict:
    answer = create({"game_id": "arena", "players": ["amy", "bob"], "rules": "connect_four"})
    assert answer.status_code == 201, answer.json()
    return answer.json()


def forged(token: str, payload: list) -> str:
    """Another payload under the token's signature."""
    _payload, signature = token.rsplit(":", 1)
    return f"{signing.b64_encode(orjson.dumps(payload)).decode()}:{signature}"


def play_all(match_id: str, *moves: tuple[str, int]):
    change = None
    for player_id, column in moves:
        change = matches.play(match_id=match_id, player_id=player_id, column=column)
    return change


def test_a_server_key_creates_a_match_answering_201_with_a_token_per_player_and_the_state_url(create, arena):
    created = a_match(create)

    assert created["match_id"].startswith("mch_")
    assert set(created["tokens"]) == {"amy", "bob"}
    assert created["tokens"]["amy"] != created["tokens"]["bob"]
    assert created["state_url"] == f"ws://testserver:8001/v1/matches/{created['match_id']}/state"
    row = Match.objects.get(id=created["match_id"])
    assert (row.players, row.status, row.moves, row.board.slug) == (["amy", "bob"], "playing", [], "arena")


@override_settings(LIVE_PUBLIC_URL="wss://play.example.com/")
def test_the_state_url_follows_the_public_live_url(create, arena):
    created = a_match(create)

    assert created["state_url"] == f"wss://play.example.com/v1/matches/{created['match_id']}/state"


def test_the_state_over_rest_has_the_fields_of_a_state_message(api, create, arena):
    match_id = a_match(create)["match_id"]
    play_all(match_id, ("amy", 3))

    answer = api.get(f"/v1/matches/{match_id}")

    assert answer.status_code == 200
    board = [row[:] for row in EMPTY_BOARD]
    board[5][3] = "amy"
    assert answer.json() == {
        "type": "STATE", "seq": 1, "match_id": match_id, "board": board, "turn": "bob", "status": "playing",
        "winner": None, "moves": 1, "players": ["amy", "bob"], "reason": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"game_id": "arena", "players": ["amy", "amy"]}, "players"),
        ({"game_id": "arena", "players": ["amy"]}, "players"),
        ({"game_id": "arena", "players": ["amy", "bob", "cy"]}, "players"),
        ({"game_id": "arena", "players": ["amy", "bob"], "rules": "chess"}, "rules"),
        ({"players": ["amy", "bob"]}, "game_id"),
        ({"game_id": "default", "players": ["amy", "bob"]}, "game_id"),  # counts best scores, not wins
    ],
)
def test_a_match_that_cannot_be_made_is_400_naming_the_field(create, arena, payload, field):
    answer = create(payload)

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert field in str(answer.json()["detail"])
    assert not Match.objects.exists()


def test_a_regional_game_cannot_host_matches(create, arena):
    make_game("regional", operator="increment", regions=["na", "eu"])

    answer = create({"game_id": "regional", "players": ["amy", "bob"]})

    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")


def test_an_unknown_game_is_404(create, arena):
    answer = create({"game_id": "nope", "players": ["amy", "bob"]})

    assert (answer.status_code, answer.json()["error"]) == (404, "game_not_found")


def test_creating_a_match_needs_a_server_key(create, arena):
    admin = services.create_api_key(name="studio-admin", scope="admin")

    assert create({"game_id": "arena", "players": ["amy", "bob"]}, key=None).status_code == 401
    assert create({"game_id": "arena", "players": ["amy", "bob"]}, key="sk_nope").status_code == 401
    assert create({"game_id": "arena", "players": ["amy", "bob"]}, key=admin).status_code == 403


def test_an_unknown_match_is_404(api, arena):
    answer = api.get("/v1/matches/mch_0000000000000000")

    assert (answer.status_code, answer.json()["error"]) == (404, "match_not_found")


def test_a_token_names_its_player_for_its_match_alone(create, arena):
    first, second = a_match(create), a_match(create)

    assert matches.player_of_token(first["tokens"]["bob"], match_id=first["match_id"]) == "bob"
    with pytest.raises(InvalidToken):
        matches.player_of_token(first["tokens"]["bob"], match_id=second["match_id"])
    with pytest.raises(InvalidToken):
        matches.player_of_token(forged(first["tokens"]["bob"], [first["match_id"], "amy"]), match_id=first["match_id"])
    with pytest.raises(InvalidToken):
        matches.player_of_token("not-a-token", match_id=first["match_id"])


def test_of_concurrent_moves_from_one_state_exactly_one_applies(create, arena):
    match_id = a_match(create)["match_id"]
    start = threading.Barrier(16)

    def move(column: int):
        start.wait()
        try:
            return matches.play(match_id=match_id, player_id="amy", column=column % 7)
        except NotYourTurn:
            return None

    with ThreadPoolExecutor(max_workers=16) as pool:
        applied = [change for change in pool.map(move, range(16)) if change is not None]

    assert len(applied) == 1
    state, version = matches.match_state(match_id=match_id)
    assert (state.seq, version, state.turn, state.moves) == (1, 1, "bob", applied[0].state.moves)


def test_a_won_match_is_recorded_in_sql_and_its_win_counted_once_on_the_game(create, arena):
    match_id = a_match(create)["match_id"]

    change = play_all(match_id, ("amy", 0), ("bob", 1), ("amy", 0), ("bob", 1), ("amy", 0), ("bob", 1), ("amy", 0))
    matches.match_state(match_id=match_id)  # a read of a finished match records it, if it is not yet

    assert (change.state.status, change.state.winner, change.version) == ("won", "amy", 7)
    row = Match.objects.get(id=match_id)
    assert (row.status, row.winner, row.moves, row.reason) == ("won", "amy", [0, 1, 0, 1, 0, 1, 0], "")
    assert row.finished_at is not None
    assert selectors.standing(game_id="arena", player_id="amy").score == 1

    second = a_match(create)["match_id"]
    play_all(second, ("amy", 0), ("bob", 1), ("amy", 0), ("bob", 1), ("amy", 0), ("bob", 1), ("amy", 0))
    assert selectors.standing(game_id="arena", player_id="amy").score == 2


@override_settings(MATCH_IDLE_SECONDS=1)
def test_a_match_left_idle_expires_with_its_moves_and_is_recorded_abandoned(api, create, arena):
    match_id = a_match(create)["match_id"]
    play_all(match_id, ("amy", 3))

    time.sleep(1.2)
    answer = api.get(f"/v1/matches/{match_id}")

    assert answer.status_code == 200
    state = answer.json()
    assert (state["status"], state["reason"], state["winner"], state["seq"], state["moves"]) == (
        "abandoned", "expired", None, 2, 1,
    )  # fmt: skip
    row = Match.objects.get(id=match_id)
    assert (row.status, row.reason, row.moves) == ("abandoned", "expired", [3])


@override_settings(MATCH_IDLE_SECONDS=1)
def test_a_move_on_a_match_idle_past_its_time_ends_it_instead(create, arena):
    match_id = a_match(create)["match_id"]
    play_all(match_id, ("amy", 3))

    time.sleep(1.2)
    with pytest.raises(MatchOver):
        matches.play(match_id=match_id, player_id="bob", column=3)

    state, version = matches.match_state(match_id=match_id)
    assert (state.status, state.reason, state.moves, version) == ("abandoned", "expired", (3,), 2)


@override_settings(MATCH_IDLE_SECONDS=1)
def test_a_match_redis_no_longer_keeps_ends_from_sql(api, create, arena):
    match_id = a_match(create)["match_id"]
    play_all(match_id, ("amy", 3))

    wait_until(lambda: redis_store.matches.match_record(match_id) is None, timeout=5)
    answer = api.get(f"/v1/matches/{match_id}")

    assert (answer.json()["status"], answer.json()["reason"]) == ("abandoned", "expired")
    assert Match.objects.get(id=match_id).status == "abandoned"


def on_loop(**move) -> matches.Change:
    """A move as the live server makes it: on an event loop, from the change it last made, if any."""
    return asyncio.run(matches.play_on_loop(**move))


def test_a_move_on_the_loop_from_the_change_made_here_applies_in_one_step_and_is_recorded_after(create, arena):
    match_id = a_match(create)["match_id"]
    change = None
    for player_id, column in (("amy", 0), ("bob", 1), ("amy", 0), ("bob", 1), ("amy", 0), ("bob", 1), ("amy", 0)):
        change = on_loop(match_id=match_id, player_id=player_id, column=column, known=change)

    assert (change.version, change.state.status, change.state.winner) == (7, "won", "amy")
    assert Match.objects.get(id=match_id).status == "playing"  # the caller records it, after its broadcast
    matches.record_if_finished(change)
    assert (Match.objects.get(id=match_id).status, selectors.standing(game_id="arena", player_id="amy").score) == (
        "won", 1,
    )  # fmt: skip


def test_a_move_refused_on_a_change_the_match_has_moved_past_is_judged_again_as_read(create, arena):
    match_id = a_match(create)["match_id"]
    made_here = on_loop(match_id=match_id, player_id="amy", column=0)
    matches.play(match_id=match_id, player_id="bob", column=6)  # elsewhere: amy's turn again

    change = on_loop(match_id=match_id, player_id="amy", column=2, known=made_here)

    assert (change.version, change.state.moves, change.state.turn) == (3, (0, 6, 2), "bob")


def test_a_move_legal_only_on_a_change_the_match_has_moved_past_is_refused(create, arena):
    match_id = a_match(create)["match_id"]
    made_here = on_loop(match_id=match_id, player_id="amy", column=0)
    matches.play(match_id=match_id, player_id="bob", column=6)  # elsewhere: bob has played

    with pytest.raises(NotYourTurn):
        on_loop(match_id=match_id, player_id="bob", column=5, known=made_here)  # bob's turn only as made here

    state, version = matches.match_state(match_id=match_id)
    assert (state.moves, version) == ((0, 6), 2)
