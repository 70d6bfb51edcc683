"""Games sharded by region: creating them, scoring on them, reading each region and the whole game
exactly, and moving a player between regions."""

import pytest

from leaderboard import redis_store, services
from leaderboard.models import Board

pytestmark = pytest.mark.django_db

REGIONS = ["na", "eu", "apac"]
WORLD = {
    "game_id": "world",
    "name": "World",
    "order": "desc",
    "operator": "best",
    "min_score": 0,
    "max_score": 1_000_000,
    "regions": REGIONS,
}


@pytest.fixture
def admin_key() -> str:
    return services.create_api_key(name="studio-admin", scope="admin")


@pytest.fixture
def create(api, admin_key, django_capture_on_commit_callbacks):
    def post(payload: dict):
        with django_capture_on_commit_callbacks(execute=True):
            return api.post("/v1/games", payload, format="json", HTTP_X_API_KEY=admin_key)

    return post


def error(code: str, detail) -> dict:
    return {"error": code, "detail": detail}


def header_of(board: str) -> str | None:
    top = redis_store.client().zrevrange(redis_store.board_key(board), 0, 0)
    return top[0] if top else None


# --- creating a game with regions ------------------------------------------------------------


def test_a_game_created_with_regions_shows_them(create, api):
    response = create(WORLD)

    assert response.status_code == 201
    assert response.json()["regions"] == REGIONS
    assert api.get("/v1/games/world").json()["regions"] == REGIONS


def test_a_game_created_without_regions_shows_null(create, api):
    create({**WORLD, "regions": None})
    create({key: value for key, value in WORLD.items() if key != "regions"} | {"game_id": "plain"})

    assert api.get("/v1/games/world").json()["regions"] is None
    assert api.get("/v1/games/plain").json()["regions"] is None


def test_each_region_is_a_board_of_its_own_under_the_games_header(create):
    create(WORLD)

    header = "\x00rules desc best 0 1000000 na,eu,apac"
    assert [header_of(board) for board in ["world", "world@na", "world@eu", "world@apac"]] == [header] * 4
    assert redis_store.board_key("world@eu") == "speedrank-test:board:{world@eu}"


@pytest.mark.parametrize(
    "regions, problem",
    [
        ("na", "must be a list of region slugs"),
        ({"na": 1}, "must be a list of region slugs"),
        (["na"], "must name from 2 to 16 regions"),
        ([], "must name from 2 to 16 regions"),
        ([f"r{n}" for n in range(17)], "must name from 2 to 16 regions"),
        (["na", "na"], "must not name a region twice"),
        (["na", "EU"], "each region must be a lowercase slug (a-z, 0-9, '-', '_') of at most 16 characters"),
        (["na", "e u"], "each region must be a lowercase slug (a-z, 0-9, '-', '_') of at most 16 characters"),
        (["na", "eu@x"], "each region must be a lowercase slug (a-z, 0-9, '-', '_') of at most 16 characters"),
        (["na", ""], "each region must be a lowercase slug (a-z, 0-9, '-', '_') of at most 16 characters"),
        (["na", 7], "each region must be a lowercase slug (a-z, 0-9, '-', '_') of at most 16 characters"),
        (["na", "x" * 17], "each region must be a lowercase slug (a-z, 0-9, '-', '_') of at most 16 characters"),
    ],
)
def test_bad_regions_are_400_naming_the_problem_and_make_no_game(create, regions, problem):
    response = create({**WORLD, "regions": regions})

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"regions": [problem]})
    assert not Board.objects.filter(slug="world").exists()


def test_sixteen_regions_are_allowed(create):
    regions = [f"r{n}" for n in range(16)]

    assert create({**WORLD, "regions": regions}).json()["regions"] == regions


def test_regions_cannot_be_changed_once_the_game_exists(create, api, admin_key):
    create(WORLD)

    response = api.patch("/v1/games/world", {"regions": ["na", "eu"]}, format="json", HTTP_X_API_KEY=admin_key)

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"regions": ["cannot be changed once the game exists"]})
    assert Board.objects.get(slug="world").regions == REGIONS
