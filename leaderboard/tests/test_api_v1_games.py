"""/v1/games: creating, listing, reading and changing games, and the API keys that guard them."""

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leaderboard import services
from leaderboard.exceptions import ApiKeyScopeDenied, InvalidApiKey
from leaderboard.models import ApiKey, Board

from .conftest import wait_until

pytestmark = pytest.mark.django_db

CHESS = {
    "game_id": "chess_blitz",
    "name": "Chess Blitz",
    "order": "desc",
    "operator": "best",
    "min_score": 0,
    "max_score": 1_000_000,
    "max_points_per_second": 100.0,
    "max_session_seconds": 600,
}
SPEEDRUN = {**CHESS, "game_id": "a_speedrun", "name": "Speedrun", "order": "asc", "max_points_per_second": None}


@pytest.fixture
def admin_key() -> str:
    return services.create_api_key(name="studio-admin", scope="admin")


@pytest.fixture
def server_key() -> str:
    return services.create_api_key(name="game-server", scope="server")


@pytest.fixture
def create(api, admin_key, django_capture_on_commit_callbacks):
    """POST /v1/games with the admin key, publishing the game's rules after commit as a request would."""

    def post(payload: dict, key: str | None = admin_key):
        headers = {"HTTP_X_API_KEY": key} if key else {}
        with django_capture_on_commit_callbacks(execute=True):
            return api.post("/v1/games", payload, format="json", **headers)

    return post


@pytest.fixture
def patch(api, admin_key):
    def send(game_id: str, changes: dict, key: str | None = admin_key):
        headers = {"HTTP_X_API_KEY": key} if key else {}
        return api.patch(f"/v1/games/{game_id}", changes, format="json", **headers)

    return send


def as_created(payload: dict) -> dict:
    """The game as the API shows it: the payload plus its created_at and open period, read from SQL."""
    board = Board.objects.get(slug=payload["game_id"])
    return {"regions": None, "reset": None, **payload, **timeline(board)}


def timeline(board: Board) -> dict:
    """What the API shows of a game's periods and creation, as SQL holds them."""
    current = board.periods.get(status="open")
    ends_at = iso(current.ends_at) if current.ends_at else None
    return {
        "current_period": {"id": current.id, "starts_at": iso(current.starts_at), "ends_at": ends_at},
        "next_reset_at": ends_at,
        "created_at": iso(board.created_at),
    }


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def error(code: str, detail) -> dict:
    return {"error": code, "detail": detail}


# --- create ----------------------------------------------------------------------------------


def test_an_admin_key_creates_a_game_answering_201_with_the_whole_game(create):
    response = create(CHESS)

    assert response.status_code == 201
    assert response.json() == as_created(CHESS)


def test_a_created_game_has_an_empty_board_ready_to_read(create, api):
    create(CHESS)

    response = api.get("/v1/leaderboard", {"game_id": "chess_blitz"})

    assert response.status_code == 200
    assert response.json() == {"game_id": "chess_blitz", "entries": [], "total_players": 0}


def test_a_game_without_rate_or_session_length_has_no_time_check_and_hour_long_sessions(create):
    payload = {key: CHESS[key] for key in ("game_id", "name", "order", "operator", "min_score", "max_score")}

    response = create(payload)

    assert response.status_code == 201
    assert response.json() == as_created({**payload, "max_points_per_second": None, "max_session_seconds": 3600})


def test_a_range_of_exactly_1_048_575_fits_the_encoding_and_is_accepted(create):
    payload = {**CHESS, "min_score": -1_048_575, "max_score": 0}

    response = create(payload)

    assert response.status_code == 201
    assert response.json() == as_created(payload)


def test_creating_a_game_without_a_key_is_401_and_creates_nothing(create):
    response = create(CHESS, key=None)

    assert response.status_code == 401
    assert response.json() == error("invalid_api_key", "An X-API-Key header is required.")
    assert not Board.objects.filter(slug="chess_blitz").exists()


def test_creating_a_game_with_an_unknown_key_is_401(create):
    response = create(CHESS, key="srk_made-up")

    assert response.status_code == 401
    assert response.json() == error("invalid_api_key", "The API key is not valid.")


def test_creating_a_game_with_a_server_key_is_403_forbidden_and_creates_nothing(create, server_key):
    response = create(CHESS, key=server_key)

    assert (response.status_code, response.json()["error"]) == (403, "forbidden")
    assert not Board.objects.filter(slug="chess_blitz").exists()


def test_the_403_for_a_key_of_the_wrong_scope_names_the_scope_needed(create, server_key):
    response = create(CHESS, key=server_key)

    assert response.status_code == 403
    assert response.json() == error("forbidden", "This call needs an API key with the 'admin' scope.")


def test_creating_a_game_twice_is_409_and_keeps_the_first(create):
    create(CHESS)

    response = create({**CHESS, "name": "Impostor"})

    assert response.status_code == 409
    assert response.json() == error("game_exists", "A game with game_id 'chess_blitz' already exists.")
    assert Board.objects.get(slug="chess_blitz").name == "Chess Blitz"


WIDER_THAN_ENCODING = "max_score - min_score must be at most 1,048,575 (exact encoding)"


@pytest.mark.parametrize(
    "changes, detail",
    [
        ({"min_score": 10, "max_score": 5}, {"max_score": ["must not be below min_score"]}),
        ({"min_score": 0, "max_score": 1_048_576}, {"max_score": [WIDER_THAN_ENCODING]}),
        ({"min_score": -(2**52), "max_score": 2**52}, {"max_score": [WIDER_THAN_ENCODING]}),
        ({"order": "sideways"}, {"order": ['"sideways" is not a valid choice.']}),
        ({"operator": "sum"}, {"operator": ['"sum" is not a valid choice.']}),
        ({"min_score": "0"}, {"min_score": ["A JSON integer is required."]}),
        ({"min_score": 1.5}, {"min_score": ["A JSON integer is required."]}),
        ({"max_score": True}, {"max_score": ["A JSON integer is required."]}),
        (
            {"max_points_per_second": 0},
            {"max_points_per_second": ["Ensure this value is greater than or equal to 0.001."]},
        ),
        ({"max_session_seconds": 0}, {"max_session_seconds": ["Ensure this value is greater than or equal to 1."]}),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
    ],
)
def test_an_invalid_game_is_400_naming_the_field_and_creates_nothing(create, changes, detail):
    response = create({**CHESS, **changes})

    assert response.status_code == 400
    assert response.json() == error("invalid_request", detail)
    assert not Board.objects.filter(slug="chess_blitz").exists()


def test_a_rate_that_is_not_a_number_is_400_and_creates_nothing(create):
    response = create({**CHESS, "max_points_per_second": "NaN"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert not Board.objects.filter(slug="chess_blitz").exists()


def test_patching_the_rate_to_not_a_number_is_400_and_keeps_the_time_check(create, patch):
    create(CHESS)

    response = patch("chess_blitz", {"max_points_per_second": "NaN"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert Board.objects.get(slug="chess_blitz").max_points_per_second == 100.0


def test_a_game_id_that_is_not_a_slug_is_400(create):
    response = create({**CHESS, "game_id": "chess blitz!"})

    assert response.status_code == 400
    assert response.json() == error(
        "invalid_request",
        {"game_id": ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.']},
    )


def test_a_game_without_its_required_fields_is_400_listing_each(create):
    response = create({})

    required = ["This field is required."]
    assert response.status_code == 400
    assert response.json() == error(
        "invalid_request",
        {f: required for f in ("name", "game_id", "order", "operator", "min_score", "max_score")},
    )


# --- list and get ----------------------------------------------------------------------------


def test_the_game_list_shows_every_game_by_game_id(create, api):
    create(CHESS)
    create(SPEEDRUN)

    response = api.get("/v1/games")

    default_game = {
        "game_id": "default",
        "name": "Default leaderboard",
        "order": "desc",
        "operator": "best",
        "min_score": 0,
        "max_score": 1_000_000,
        "max_points_per_second": None,
        "max_session_seconds": 3600,
        "regions": None,
        "reset": None,
        **timeline(Board.objects.get(slug="default")),
    }
    assert response.status_code == 200
    assert response.json() == {"games": [as_created(SPEEDRUN), as_created(CHESS), default_game]}


def test_getting_a_game_answers_the_whole_game(create, api):
    create(CHESS)

    response = api.get("/v1/games/chess_blitz")

    assert response.status_code == 200
    assert response.json() == as_created(CHESS)


def test_getting_an_unknown_game_is_404_game_not_found(api):
    response = api.get("/v1/games/nope")

    assert response.status_code == 404
    assert response.json() == error("game_not_found", "No board named 'nope'.")


# --- patch -----------------------------------------------------------------------------------


def test_patching_a_games_name_answers_the_changed_game(create, patch, api):
    create(CHESS)

    response = patch("chess_blitz", {"name": "Chess Bullet"})

    assert response.status_code == 200
    assert response.json() == as_created({**CHESS, "name": "Chess Bullet"})
    assert api.get("/v1/games/chess_blitz").json()["name"] == "Chess Bullet"


def test_patching_the_rate_and_session_length_changes_only_those(create, patch):
    create(CHESS)

    response = patch("chess_blitz", {"max_points_per_second": None, "max_session_seconds": 120})

    assert response.status_code == 200
    assert response.json() == as_created({**CHESS, "max_points_per_second": None, "max_session_seconds": 120})


@pytest.mark.parametrize(
    "field, value",
    [("order", "asc"), ("operator", "latest"), ("min_score", -5), ("game_id", "x"), ("regions", ["na", "eu"])],
)
def test_patching_a_rule_fixed_at_creation_is_400_and_changes_nothing(create, patch, field, value):
    create(CHESS)

    response = patch("chess_blitz", {"name": "Renamed", field: value})

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {field: ["cannot be changed once the game exists"]})
    assert Board.objects.get(slug="chess_blitz").name == "Chess Blitz"


def test_patching_with_an_invalid_value_is_400(create, patch):
    create(CHESS)

    response = patch("chess_blitz", {"max_session_seconds": 0})

    assert response.status_code == 400
    assert response.json() == error(
        "invalid_request", {"max_session_seconds": ["Ensure this value is greater than or equal to 1."]}
    )


def test_patching_needs_an_admin_key(create, patch, server_key):
    create(CHESS)

    without = patch("chess_blitz", {"name": "x"}, key=None)
    server = patch("chess_blitz", {"name": "x"}, key=server_key)

    assert (without.status_code, without.json()) == (401, error("invalid_api_key", "An X-API-Key header is required."))
    assert (server.status_code, server.json()["error"]) == (403, "forbidden")
    assert Board.objects.get(slug="chess_blitz").name == "Chess Blitz"


def test_patching_an_unknown_game_is_404(patch):
    response = patch("nope", {"name": "x"})

    assert response.status_code == 404
    assert response.json() == error("game_not_found", "No board named 'nope'.")


# --- API keys through the management commands ------------------------------------------------


def command(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_api_key_prints_a_key_once_and_stores_only_its_hash(create):
    key = command("create_api_key", "--name", "ops", "--scope", "admin").strip()

    stored = ApiKey.objects.get(name="ops")
    assert (stored.scope, stored.key_hash) == ("admin", hashlib.sha256(key.encode()).hexdigest())
    assert create(CHESS, key=key).status_code == 201


def test_a_revoked_key_is_401(create):
    key = command("create_api_key", "--name", "ops", "--scope", "admin").strip()

    assert command("revoke_api_key", "--name", "ops") == "revoked ops\n"
    response = create(CHESS, key=key)

    assert response.status_code == 401
    assert response.json() == error("invalid_api_key", "The API key is not valid.")
    assert not Board.objects.filter(slug="chess_blitz").exists()


def test_a_key_in_use_is_401_as_soon_as_it_is_revoked_here(create):
    key = command("create_api_key", "--name", "ops", "--scope", "admin").strip()
    assert create(CHESS, key=key).status_code == 201

    command("revoke_api_key", "--name", "ops")

    assert create(SPEEDRUN, key=key).status_code == 401


@override_settings(API_KEY_CACHE_SECONDS=2)  # long enough for the check in between on a busy machine
def test_a_key_revoked_by_another_process_stops_working_within_the_key_cache_seconds(server_key):
    assert services.authenticate_api_key(key=server_key, scope="server").name == "game-server"
    ApiKey.objects.update(revoked_at=timezone.now())  # as another process's revoke_api_key does

    with CaptureQueriesContext(connection) as queries:
        services.authenticate_api_key(key=server_key, scope="server")  # trusted until its cache time is over
    assert len(queries) == 0

    def refused() -> bool:
        try:
            services.authenticate_api_key(key=server_key, scope="server")
        except InvalidApiKey:
            return True
        return False

    wait_until(refused, timeout=10)


@override_settings(API_KEY_CACHE_SECONDS=0)
def test_with_the_key_cache_off_every_call_reads_the_key_table(server_key):
    services.authenticate_api_key(key=server_key, scope="server")
    ApiKey.objects.update(revoked_at=timezone.now())

    with pytest.raises(InvalidApiKey):
        services.authenticate_api_key(key=server_key, scope="server")


@override_settings(API_KEY_CACHE_SECONDS=60)
def test_a_key_of_the_wrong_scope_is_refused_from_the_key_cache_too(server_key):
    services.authenticate_api_key(key=server_key, scope="server")

    with CaptureQueriesContext(connection) as queries, pytest.raises(ApiKeyScopeDenied):
        services.authenticate_api_key(key=server_key, scope="admin")
    assert len(queries) == 0


def test_create_api_key_refuses_a_name_already_taken(admin_key):
    with pytest.raises(CommandError, match="An API key named 'studio-admin' already exists."):
        command("create_api_key", "--name", "studio-admin", "--scope", "server")


def test_revoke_api_key_refuses_an_unknown_or_already_revoked_name(admin_key):
    command("revoke_api_key", "--name", "studio-admin")

    with pytest.raises(CommandError, match="No active API key named 'studio-admin'."):
        command("revoke_api_key", "--name", "studio-admin")
