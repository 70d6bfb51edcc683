"""Every write refuses what it should: missing or wrong credentials, forged or replayed tokens,
other players' sessions, and fields a client has no say over."""

import pytest
from django.core import signing
from django.test import override_settings

from leaderboard import redis_store, services
from leaderboard.models import ApiKey, Board, PlaySession, Score
from leaderboard.services.sessions import TOKEN_SALT

from .conftest import OwnRedis, single_redis

pytestmark = pytest.mark.django_db(transaction=True)

GAME = "arena"


@pytest.fixture
def game(default_board) -> Board:
    return services.create_game(
        slug=GAME, name="Arena", order="desc", operator="best", min_score=0, max_score=1000,
        max_points_per_second=None, max_session_seconds=600,
    )  # fmt: skip


def session_for(api, player: str) -> dict:
    response = api.post("/v1/sessions", {"player_id": player, "game_id": GAME}, format="json")
    assert response.status_code == 201
    return response.json()


def score_body(session: dict, **changes) -> dict:
    return {k: session[k] for k in ("player_id", "game_id", "session_id")} | {"score": 10, **changes}


def post_score(api, session: dict, token: str, **changes):
    return api.post("/v1/scores", score_body(session, **changes), format="json", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_player_cannot_submit_into_another_players_session(api, game):
    amy, bob = session_for(api, "amy"), session_for(api, "bob")

    with_bobs_token = post_score(api, amy, bob["token"])
    as_amy_in_bobs_session = post_score(api, bob, bob["token"], player_id="amy")

    assert (with_bobs_token.status_code, with_bobs_token.json()["error"]) == (403, "token_mismatch")
    assert (as_amy_in_bobs_session.status_code, as_amy_in_bobs_session.json()["error"]) == (403, "token_mismatch")
    assert Score.objects.count() == 0


def test_a_token_signed_with_another_key_is_refused(api, game):
    session = session_for(api, "amy")
    claims = {"s": session["session_id"], "p": "amy", "g": GAME}
    forged = signing.dumps(claims, key="not-the-servers-secret", salt=TOKEN_SALT, compress=True)

    response = post_score(api, session, forged)

    assert (response.status_code, response.json()["error"]) == (401, "invalid_token")


def test_a_replayed_token_scores_once(api, game):
    session = session_for(api, "amy")

    first, replay = post_score(api, session, session["token"]), post_score(api, session, session["token"], score=20)

    assert first.status_code == 201
    assert (replay.status_code, replay.json()["error"]) == (409, "session_already_scored")
    assert list(Score.objects.values_list("points", flat=True)) == [10]


def test_an_expired_session_cannot_score(api, game):
    session = session_for(api, "amy")
    PlaySession.objects.filter(id=session["session_id"]).update(expires_at=PlaySession.objects.get().started_at)

    response = post_score(api, session, session["token"])

    assert (response.status_code, response.json()["error"]) == (401, "invalid_token")


@pytest.mark.parametrize(
    "method, path, body",
    [
        (
            "post",
            "/v1/games",
            {"game_id": "x", "name": "X", "order": "desc", "operator": "best", "min_score": 0, "max_score": 9},
        ),
        ("patch", f"/v1/games/{GAME}", {"name": "Renamed"}),
    ],
)
def test_admin_endpoints_refuse_no_key_a_wrong_key_and_a_server_key(api, game, method, path, body):
    server_key = services.create_api_key(name="server", scope=ApiKey.Scope.SERVER)

    answers = [
        getattr(api, method)(path, body, format="json", **headers).status_code
        for headers in ({}, {"HTTP_X_API_KEY": "srk_guess"}, {"HTTP_X_API_KEY": server_key})
    ]

    assert answers == [401, 401, 403]
    assert Board.objects.get(slug=GAME).name == "Arena"


def test_fields_a_client_has_no_say_over_are_ignored(api, game):
    session = session_for(api, "amy")

    response = post_score(api, session, session["token"], rank=1, verified=True, id="999", submitted_at="2000-01-01")

    body = response.json()
    assert response.status_code == 201
    assert (body["id"], body["rank"], body["score"]) == (str(Score.objects.get().id), 1, 10)
    assert body["submitted_at"] != "2000-01-01"


def test_a_game_created_with_extra_fields_takes_none_of_them(api, game):
    admin = services.create_api_key(name="admin", scope=ApiKey.Scope.ADMIN)
    body = {
        "game_id": "chess", "name": "Chess", "order": "desc", "operator": "best", "min_score": 0, "max_score": 9,
        "created_at": "2000-01-01T00:00:00Z", "id": 1, "slug": "other",
    }  # fmt: skip

    response = api.post("/v1/games", body, format="json", HTTP_X_API_KEY=admin)

    assert response.status_code == 201
    assert response.json()["game_id"] == "chess"
    assert not response.json()["created_at"].startswith("2000")
    assert not Board.objects.filter(slug="other").exists()


def test_the_seed_submit_can_be_made_to_require_a_server_key(api, default_board):
    server_key = services.create_api_key(name="server", scope=ApiKey.Scope.SERVER)
    body = {"username": "amy", "points": 5}

    with override_settings(SEED_SUBMIT_REQUIRES_KEY=True):
        without = api.post("/api/score/", body, format="json")
        with_key = api.post("/api/score/", body, format="json", HTTP_X_API_KEY=server_key)
    by_default = api.post("/api/score/", body, format="json")

    assert (without.status_code, without.json()) == (401, {"detail": "An X-API-Key header is required."})
    assert (with_key.status_code, by_default.status_code) == (201, 201)


@pytest.mark.server
def test_redis_with_a_password_is_reached_through_redis_url(api, tmp_path):
    server = OwnRedis(tmp_path / "redis", password="s3cret-pass")
    try:
        with single_redis(f"redis://:wrong@127.0.0.1:{server.port}/0"):
            refused = api.get("/health/").json()["redis"]
        with single_redis(f"redis://:s3cret-pass@127.0.0.1:{server.port}/0"):
            allowed = api.get("/health/").json()["redis"]
            redis_store.client().set("probe", "1")
    finally:
        server.stop()

    assert refused.startswith("error: ")
    assert allowed == "ok"


def test_a_patch_ignores_unknown_fields_and_refuses_the_rules(api, game):
    admin = services.create_api_key(name="admin", scope=ApiKey.Scope.ADMIN)

    ignored = api.patch(f"/v1/games/{GAME}", {"name": "New", "verified": True}, format="json", HTTP_X_API_KEY=admin)
    refused = api.patch(f"/v1/games/{GAME}", {"order": "asc"}, format="json", HTTP_X_API_KEY=admin)

    assert (ignored.status_code, ignored.json()["name"]) == (200, "New")
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_request",
        "detail": {"order": ["cannot be changed once the game exists"]},
    }


def test_identifiers_must_be_json_strings(api, game):
    response = api.post("/v1/sessions", {"player_id": "amy", "game_id": 0}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "detail": {"game_id": ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.']},
    }
