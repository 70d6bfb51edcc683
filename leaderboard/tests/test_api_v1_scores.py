"""/v1/sessions and /v1/scores: play sessions, session-bound scores, anti-cheat, server keys, idempotency.

Transactional tests: each request commits, so the after-commit mirror runs before the answer
reads the rank back, as it does in production.
"""

import logging
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from leaderboard import services
from leaderboard.models import Board, BoardEntry, IdempotencyRecord, Player, PlaySession, Score
from leaderboard.services.sessions import TokenClaims

from .boards import rank_and_score
from .conftest import seconds_left_in_window
from .factories import make_game

pytestmark = pytest.mark.django_db(transaction=True)

GAME = "chess_blitz"


@pytest.fixture
def game() -> Board:
    return make_game(GAME, max_session_seconds=600)


@pytest.fixture
def start(api):
    def post(player_id: str = "plr_42", game_id: str = GAME) -> dict:
        response = api.post("/v1/sessions", {"player_id": player_id, "game_id": game_id}, format="json")
        assert response.status_code == 201
        return response.json()

    return post


@pytest.fixture
def submit(api):
    """POST /v1/scores with the session's token and a body matching it, apart from `changes`."""

    def post(session: dict, score: int, token: str | None = None, **changes):
        body = {k: session[k] for k in ("player_id", "game_id", "session_id")} | {"score": score, **changes}
        token = session["token"] if token is None else token
        return api.post("/v1/scores", body, format="json", HTTP_AUTHORIZATION=f"Bearer {token}")

    return post


@pytest.fixture
def server_key() -> str:
    return services.create_api_key(name="game-server", scope="server")


@pytest.fixture
def send(api, server_key):
    """POST /v1/scores as a trusted game server, optionally with an Idempotency-Key."""

    def post(player_id: str, score: int, key: str | None = None, game_id: str = GAME, api_key: str = server_key):
        headers = {"HTTP_X_API_KEY": api_key} | ({"HTTP_IDEMPOTENCY_KEY": key} if key else {})
        return api.post(
            "/v1/scores", {"player_id": player_id, "game_id": game_id, "score": score}, format="json", **headers
        )

    return post


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def error(code: str, detail) -> dict:
    return {"error": code, "detail": detail}


def submission(player_id: str, score: int, rank: int | None) -> dict:
    """The 201 body for the player's latest stored score."""
    stored = Score.objects.filter(player__username=player_id).latest("id")
    body = {"id": str(stored.id), "player_id": player_id, "game_id": stored.board.slug, "score": score}
    return body | {"rank": rank, "submitted_at": iso(stored.achieved_at)}


def tamper(token: str, position: int) -> str:
    """The token with the character at `position` replaced by another one."""
    chars = list(token)
    chars[position] = "A" if chars[position] != "A" else "B"
    return "".join(chars)


def age(session: dict, seconds: int) -> None:
    """Make the session look `seconds` old."""
    PlaySession.objects.filter(id=session["session_id"]).update(started_at=timezone.now() - timedelta(seconds=seconds))


# --- sessions --------------------------------------------------------------------------------


def test_starting_a_session_answers_201_with_a_token_bound_to_session_player_and_game(api, game):
    response = api.post("/v1/sessions", {"player_id": "plr_42", "game_id": GAME}, format="json")

    session = PlaySession.objects.get()
    body = response.json()
    assert response.status_code == 201
    assert body == {
        "session_id": str(session.id),
        "token": body["token"],
        "player_id": "plr_42",
        "game_id": GAME,
        "started_at": iso(session.started_at),
        "expires_at": iso(session.expires_at),
    }
    assert services.read_token(body["token"]) == TokenClaims(str(session.id), "plr_42", GAME)


def test_a_session_expires_max_session_seconds_after_it_starts(start, game):
    session = start()

    started, expires = (datetime.fromisoformat(session[k]) for k in ("started_at", "expires_at"))
    assert expires - started == timedelta(seconds=600)


def test_a_session_on_an_unknown_game_is_404_and_creates_no_player(api):
    response = api.post("/v1/sessions", {"player_id": "plr_42", "game_id": "nope"}, format="json")

    assert response.status_code == 404
    assert response.json() == error("game_not_found", "No board named 'nope'.")
    assert (PlaySession.objects.count(), Player.objects.count()) == (0, 0)


def test_a_session_without_player_or_game_is_400(api, game):
    response = api.post("/v1/sessions", {}, format="json")

    required = ["This field is required."]
    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"player_id": required, "game_id": required})


# --- scores through a session ----------------------------------------------------------------


def test_a_session_score_answers_201_with_the_rank_after_the_write(start, submit, game):
    services.submit_score(username="leader", points=2000, board_slug=game.slug)
    session = start()

    response = submit(session, 1847)

    assert response.status_code == 201
    assert response.json() == submission("plr_42", 1847, rank=2)
    assert rank_and_score("plr_42", GAME) == (2, 1847)


def test_a_second_score_on_one_session_is_409_and_not_stored(start, submit, game):
    session = start()
    submit(session, 100)

    response = submit(session, 900)

    assert response.status_code == 409
    assert response.json() == error("session_already_scored", f"Session {session['session_id']} already has its score.")
    assert list(Score.objects.values_list("points", flat=True)) == [100]
    assert rank_and_score("plr_42", GAME) == (1, 100)


def test_a_score_beyond_what_the_session_allows_is_422_with_the_numbers_and_logged(start, submit, caplog):
    make_game(GAME, max_points_per_second=2)
    session = start()
    age(session, 30)

    with caplog.at_level(logging.WARNING, logger="leaderboard.services.submissions"):
        response = submit(session, 99999)

    numbers = "session_duration=30s max_rate=2pts/s max_possible=60 submitted=99999"
    assert response.status_code == 422
    assert response.json() == error("score_exceeds_session_maximum", numbers)
    assert rank_and_score("plr_42", GAME) is None
    assert Score.objects.count() == 0
    [record] = [r for r in caplog.records if r.name == "leaderboard.services.submissions"]
    assert numbers in record.getMessage()
    assert f"player=plr_42 session={session['session_id']}" in record.getMessage()
    fields = ("event", "game_id", "player_id", "session_id", "max_rate", "max_possible", "submitted")
    assert {field: getattr(record, field) for field in fields} == {
        "event": "score_rejected", "game_id": GAME, "player_id": "plr_42", "session_id": session["session_id"],
        "max_rate": 2, "max_possible": 60, "submitted": 99999,
    }  # fmt: skip
    assert 30 <= record.session_seconds < 31


def test_a_score_of_exactly_the_session_maximum_is_accepted(start, submit):
    make_game(GAME, max_points_per_second=2)
    session = start()
    age(session, 30)

    response = submit(session, 60)

    assert response.status_code == 201
    assert response.json() == submission("plr_42", 60, rank=1)


def test_a_rejected_score_leaves_the_session_open_for_an_honest_one(start, submit):
    make_game(GAME, max_points_per_second=2)
    session = start()
    age(session, 30)
    submit(session, 61)

    response = submit(session, 50)

    assert response.status_code == 201
    assert response.json() == submission("plr_42", 50, rank=1)


def test_a_score_without_an_authorization_header_is_401(api, start, game):
    session = start()
    body = {k: session[k] for k in ("player_id", "game_id", "session_id")} | {"score": 5}

    response = api.post("/v1/scores", body, format="json")

    assert response.status_code == 401
    assert response.json() == error("invalid_token", "An Authorization: Bearer <token> header is required.")


def test_a_token_sent_without_the_bearer_scheme_is_401(api, start, game):
    session = start()
    body = {k: session[k] for k in ("player_id", "game_id", "session_id")} | {"score": 5}

    response = api.post("/v1/scores", body, format="json", HTTP_AUTHORIZATION=f"Token {session['token']}")

    assert response.status_code == 401
    assert response.json() == error("invalid_token", "An Authorization: Bearer <token> header is required.")


@pytest.mark.parametrize("position", [1, 10, -10, -1])
def test_a_token_with_one_character_changed_is_401_and_stores_nothing(start, submit, game, position):
    session = start()

    response = submit(session, 5, token=tamper(session["token"], position))

    assert response.status_code == 401
    assert response.json() == error("invalid_token", "The session token is not valid.")
    assert Score.objects.count() == 0


def test_a_token_of_an_expired_session_is_401(start, submit, game):
    session = start()
    PlaySession.objects.filter(id=session["session_id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = submit(session, 5)

    assert response.status_code == 401
    assert response.json() == error("invalid_token", "The session has expired.")
    assert Score.objects.count() == 0


@pytest.mark.parametrize("field", ["player_id", "game_id", "session_id"])
def test_a_body_that_disagrees_with_its_token_is_403_token_mismatch(start, submit, game, field):
    make_game("other_game")
    session = start()
    other = start(player_id="plr_7", game_id="other_game")

    response = submit(session, 5, **{field: other[field]})

    assert response.status_code == 403
    assert response.json() == error(
        "token_mismatch", "The body's player_id, game_id and session_id must match the token's."
    )
    assert Score.objects.count() == 0


@pytest.mark.parametrize("score", [-1, 1001])
def test_a_session_score_outside_the_games_range_is_400(start, submit, score):
    make_game(GAME, max_score=1000)
    session = start()

    response = submit(session, score)

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"score": [f"Points must be between 0 and 1000; got {score}."]})
    assert Score.objects.count() == 0


def test_a_session_score_without_its_fields_is_400_naming_each(api, start, game):
    session = start()

    response = api.post("/v1/scores", {}, format="json", HTTP_AUTHORIZATION=f"Bearer {session['token']}")

    required = ["This field is required."]
    assert response.status_code == 400
    assert response.json() == error(
        "invalid_request", {"player_id": required, "game_id": required, "score": required, "session_id": required}
    )


@pytest.mark.parametrize("score", ["12", 12.0, True, None])
def test_a_session_score_that_is_not_a_json_integer_is_400(start, submit, game, score):
    session = start()

    response = submit(session, score)

    message = "This field may not be null." if score is None else "A JSON integer is required."
    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"score": [message]})


# --- scores from a trusted server ------------------------------------------------------------


def test_a_server_key_submits_without_a_session(send, game):
    send("amy", 500)

    response = send("bob", 400)

    assert response.status_code == 201
    assert response.json() == submission("bob", 400, rank=2)
    assert Score.objects.get(player__username="bob").session is None


@pytest.mark.parametrize("score", [-1, 1001])
def test_a_server_score_outside_the_games_range_is_400(send, score):
    make_game(GAME, max_score=1000)

    response = send("amy", score)

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"score": [f"Points must be between 0 and 1000; got {score}."]})
    assert Score.objects.count() == 0


def test_a_server_score_on_an_unknown_game_is_404(send):
    response = send("amy", 5, game_id="nope")

    assert response.status_code == 404
    assert response.json() == error("game_not_found", "No board named 'nope'.")


def test_a_server_score_with_an_unknown_key_is_401(send, game):
    response = send("amy", 5, api_key="srk_made-up")

    assert response.status_code == 401
    assert response.json() == error("invalid_api_key", "The API key is not valid.")
    assert Score.objects.count() == 0


def test_a_server_score_with_an_admin_key_is_403(send, game):
    response = send("amy", 5, api_key=services.create_api_key(name="admin", scope="admin"))

    assert (response.status_code, response.json()["error"]) == (403, "forbidden")
    assert Score.objects.count() == 0


def test_a_replay_with_the_same_idempotency_key_answers_the_same_without_a_second_write(send, game):
    first = send("amy", 500, key="order-1")

    replay = send("amy", 500, key="order-1")

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json() == submission("amy", 500, rank=1)
    assert Score.objects.count() == 1
    assert BoardEntry.objects.get().submissions == 1


def test_a_replay_answers_with_the_first_answers_rank_after_the_board_has_moved(send, game):
    first = send("amy", 500, key="order-1")
    send("bob", 900)  # amy is second now

    replay = send("amy", 500, key="order-1")

    assert replay.json() == first.json() == submission("amy", 500, rank=1)
    assert IdempotencyRecord.objects.get().response == first.json()


def test_an_idempotency_key_reused_for_a_different_body_is_422(send, game):
    send("amy", 500, key="order-1")

    response = send("amy", 501, key="order-1")

    assert response.status_code == 422
    assert response.json() == error(
        "idempotency_key_reused", "Idempotency-Key 'order-1' was already used for a different request."
    )
    assert list(Score.objects.values_list("points", flat=True)) == [500]


def test_an_idempotency_key_belongs_to_the_server_key_that_used_it(send, game):
    send("amy", 500, key="order-1")
    other_server = services.create_api_key(name="other-server", scope="server")

    response = send("amy", 700, key="order-1", api_key=other_server)

    assert response.status_code == 201
    assert response.json() == submission("amy", 700, rank=1)


def test_replays_count_once_on_an_increment_board(send, api):
    make_game(GAME, operator="increment")
    send("amy", 5, key="kill-1")
    send("amy", 5, key="kill-1")
    send("amy", 3, key="kill-2")

    response = send("amy", 3, key="kill-2")

    assert response.json() == submission("amy", 8, rank=1) | {"score": 3}
    assert BoardEntry.objects.get().value == 8
    board = api.get("/v1/leaderboard", {"game_id": GAME}).json()
    assert board == {"game_id": GAME, "entries": [{"rank": 1, "player_id": "amy", "score": 8}], "total_players": 1}


def test_server_scores_without_an_idempotency_key_all_count(send):
    make_game(GAME, operator="increment")
    send("amy", 5)

    send("amy", 5)

    assert BoardEntry.objects.get().value == 10


def test_an_increment_that_would_leave_the_games_range_is_422_and_keeps_the_total(send):
    make_game(GAME, operator="increment", max_score=10)
    send("amy", 6)

    response = send("amy", 6)

    assert response.status_code == 422
    assert response.json() == error("total_out_of_range", "This score would make the total 12, outside 0..10.")
    assert BoardEntry.objects.get().value == 6
    assert rank_and_score("amy", GAME) == (1, 6)


# --- rate limits -----------------------------------------------------------------------------


def test_writes_past_the_per_player_limit_are_429_with_retry_after(send, game, settings):
    settings.RATE_LIMIT_WRITES_PER_PLAYER, settings.RATE_LIMIT_WINDOW = 2, 3600  # a window the test stays inside
    send("amy", 1)
    send("amy", 2)

    response = send("amy", 3)

    wait = response["Retry-After"]
    assert response.status_code == 429
    assert response.json() == error("rate_limited", f"Request was throttled. Expected available in {wait} seconds.")
    assert wait in seconds_left_in_window(3600)
    limits = [response[h] for h in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")]
    assert limits == ["2", "0", wait]
    assert Score.objects.count() == 2
    assert send("bob", 3).status_code == 201


# --- malformed requests ----------------------------------------------------------------------


def test_malformed_json_is_400_invalid_request(api, server_key, game):
    raw = b'{"player_id": "amy", "score": '

    response = api.generic("POST", "/v1/scores", raw, content_type="application/json", HTTP_X_API_KEY=server_key)

    body = response.json()
    assert response.status_code == 400
    assert body == error("invalid_request", body["detail"])
    assert body["detail"].startswith("JSON parse error - ")


def test_a_body_that_is_not_an_object_is_400(api, server_key, game):
    response = api.generic("POST", "/v1/scores", b"[1, 2]", content_type="application/json", HTTP_X_API_KEY=server_key)

    assert response.status_code == 400
    assert response.json() == error(
        "invalid_request", {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}
    )


def test_a_body_over_64_kib_is_413_and_writes_nothing(api, server_key, game):
    raw = b'{"player_id": "amy", "game_id": "chess_blitz", "score": 1, "pad": "' + b"x" * 65536 + b'"}'

    response = api.generic("POST", "/v1/scores", raw, content_type="application/json", HTTP_X_API_KEY=server_key)

    assert response.status_code == 413
    assert response.json() == error("request_too_large", "Request body is larger than 65536 bytes.")
    assert Score.objects.count() == 0


def test_a_form_encoded_body_is_415(api, server_key, game):
    response = api.generic(
        "POST",
        "/v1/scores",
        b"player_id=amy",
        content_type="application/x-www-form-urlencoded",
        HTTP_X_API_KEY=server_key,
    )

    assert response.status_code == 415
    assert response.json() == error(
        "unsupported_media_type", 'Unsupported media type "application/x-www-form-urlencoded" in request.'
    )


def test_an_idempotency_key_longer_than_255_characters_is_400(send, game):
    response = send("amy", 5, key="k" * 256)

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"key": ["Ensure this field has no more than 255 characters."]})
    assert Score.objects.count() == 0


def test_the_bearer_scheme_is_case_insensitive(api, start, game):
    session = start()
    body = {k: session[k] for k in ("player_id", "game_id", "session_id")} | {"score": 5}

    response = api.post("/v1/scores", body, format="json", HTTP_AUTHORIZATION=f"bearer {session['token']}")

    assert response.status_code == 201


def test_requests_without_credentials_cannot_spend_a_players_write_allowance(api, send, game, settings):
    settings.RATE_LIMIT_WRITES_PER_PLAYER = 2
    body = {"player_id": "victim", "game_id": GAME, "score": 1, "session_id": "x"}
    refused = [api.post("/v1/scores", body, format="json").status_code for _ in range(5)]

    assert refused == [401] * 5
    assert [send("victim", 1).status_code for _ in range(3)] == [201, 201, 429]


def test_sessions_can_be_reserved_to_the_studios_backend(api, game, server_key, settings):
    settings.SESSION_START_REQUIRES_KEY = True
    body = {"player_id": "plr_42", "game_id": GAME}

    anonymous = api.post("/v1/sessions", body, format="json")
    backend = api.post("/v1/sessions", body, format="json", HTTP_X_API_KEY=server_key)

    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "invalid_api_key")
    assert backend.status_code == 201
    assert PlaySession.objects.count() == 1
