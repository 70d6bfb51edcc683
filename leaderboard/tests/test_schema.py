"""The OpenAPI schema: generated from the code, valid, and documenting every v1 answer."""

from io import StringIO

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def statuses(schema: dict, path: str, method: str) -> set[str]:
    return set(schema["paths"][path][method]["responses"])


def test_the_schema_covers_the_seed_and_v1_endpoints(schema):
    assert set(schema["paths"]) == {
        "/api/score/", "/api/top-players/", "/api/my-rank/", "/health/",
        "/v1/games/", "/v1/games/{game_id}/", "/v1/sessions/", "/v1/scores/", "/v1/leaderboard/",
        "/v1/leaderboard/rank/", "/v1/leaderboard/players/", "/v1/matchmaking/", "/v1/players/{player_id}/",
        "/v1/games/{game_id}/players/{player_id}/region/", "/v1/matches/", "/v1/matches/{match_id}/",
        "/v1/games/{game_id}/exports/", "/v1/exports/{export_id}/", "/v1/jobs/{job_id}/",
        "/v1/players/{player_id}/avatar/", "/v1/games/{game_id}/periods/", "/v1/games/{game_id}/periods/close/",
    }  # fmt: skip


def test_score_submission_documents_each_of_its_answers(schema):
    expected = {"201", "400", "401", "403", "404", "409", "411", "413", "415", "422", "429", "503"}
    assert statuses(schema, "/v1/scores/", "post") == expected


@pytest.mark.parametrize(
    "path, method, expected",
    [
        ("/v1/games/", "post", {"201", "400", "401", "403", "409", "411", "413", "415", "429", "503"}),
        ("/v1/leaderboard/", "get", {"200", "400", "404", "429", "503"}),
        ("/v1/leaderboard/rank/", "get", {"200", "400", "404", "429", "503"}),
        ("/v1/games/{game_id}/periods/", "get", {"200", "400", "404", "429", "503"}),
        ("/v1/games/{game_id}/periods/close/", "post", {"202", "401", "403", "404", "429", "503"}),
        ("/api/my-rank/", "get", {"200", "400", "404", "503"}),
        (
            "/v1/players/{player_id}/avatar/",
            "put",
            {"202", "400", "401", "403", "404", "411", "413", "415", "429", "503"},
        ),
    ],
)
def test_operations_document_their_error_answers(schema, path, method, expected):
    assert statuses(schema, path, method) == expected


def test_the_schema_and_the_docs_page_are_served(api):
    schema_answer = api.get("/v1/schema/")
    docs = api.get("/v1/docs/")

    assert schema_answer.status_code == 200
    assert b"/v1/leaderboard/rank/" in schema_answer.content
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()
    bundle = api.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert bundle.status_code == 200
