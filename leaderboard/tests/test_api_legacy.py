"""The seed API's contract: paths, statuses and whole JSON bodies."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import AnonRateThrottle

from leaderboard.api.endpoints import Endpoint
from leaderboard.models import Player, Score

pytestmark = pytest.mark.django_db

TOO_LONG = "x" * 151


def test_submitting_a_score_answers_201_with_the_contract_body(submit):
    response = submit("player123", 95000)

    assert response.status_code == 201
    assert response.json() == {"message": "Score submitted"}


def test_a_submitted_score_shows_in_top_players_and_my_rank(submit, api):
    submit("player123", 95000)

    assert api.get("/api/top-players/").json() == [{"rank": 1, "username": "player123", "points": 95000}]
    response = api.get("/api/my-rank/", {"username": "player123"})
    assert response.status_code == 200
    assert response.json() == {"username": "player123", "rank": 1, "points": 95000}


def test_every_submission_is_kept_as_history_under_one_player(submit):
    for points in (10, 30, 20):
        submit("player123", points)

    assert Player.objects.count() == 1
    assert list(Score.objects.order_by("id").values_list("points", flat=True)) == [10, 30, 20]


def test_top_players_lists_the_ten_best_best_first(submit, api):
    for n in range(12):
        submit(f"p{n}", n * 100)

    body = api.get("/api/top-players/").json()

    assert body == [{"rank": i + 1, "username": f"p{11 - i}", "points": (11 - i) * 100} for i in range(10)]


def test_top_players_of_an_empty_board_is_an_empty_list(api):
    response = api.get("/api/top-players/")

    assert response.status_code == 200
    assert response.json() == []


def test_my_rank_of_a_player_without_a_score_is_404(api):
    response = api.get("/api/my-rank/", {"username": "nobody"})

    assert response.status_code == 404
    assert response.json() == {"message": "Player not found in leaderboard."}


@pytest.mark.parametrize(
    "query, body",
    [
        ({}, {"username": ["This field is required."]}),
        ({"username": ""}, {"username": ["This field may not be blank."]}),
        ({"username": "   "}, {"username": ["This field may not be blank."]}),
    ],
)
def test_my_rank_without_a_username_is_400(api, query, body):
    response = api.get("/api/my-rank/", query)

    assert response.status_code == 400
    assert response.json() == body


def test_unicode_usernames_read_back_identically(submit, api):
    name = "玩家_🎮"
    submit(name, 500)

    assert api.get("/api/top-players/").json() == [{"rank": 1, "username": name, "points": 500}]
    assert api.get("/api/my-rank/", {"username": name}).json() == {"username": name, "rank": 1, "points": 500}


def test_surrounding_whitespace_is_trimmed_from_usernames(submit, api):
    submit("  padded\t", 7)

    assert Player.objects.get().username == "padded"
    assert api.get("/api/my-rank/", {"username": " padded "}).json() == {"username": "padded", "rank": 1, "points": 7}


@pytest.mark.parametrize("username", ["a", "x" * 150, "🎮" * 150, "zero\u200dwidth joiner"])
def test_usernames_of_1_to_150_characters_are_accepted(submit, username):
    assert submit(username, 1).status_code == 201
    assert Player.objects.get().username == username


@pytest.mark.parametrize("points", [0, 1, 999_999, 1_000_000])
def test_points_at_the_bounds_are_accepted(submit, api, points):
    assert submit("edge", points).status_code == 201
    assert api.get("/api/my-rank/", {"username": "edge"}).json()["points"] == points


INTEGER_REQUIRED = ["A JSON integer is required."]
STRING_REQUIRED = ["A string is required."]


@pytest.mark.parametrize(
    "payload, body",
    [
        ({"username": "p", "points": -1}, {"points": ["Ensure this value is greater than or equal to 0."]}),
        ({"username": "p", "points": 1_000_001}, {"points": ["Ensure this value is less than or equal to 1000000."]}),
        ({"username": "p", "points": 1.5}, {"points": INTEGER_REQUIRED}),
        ({"username": "p", "points": 95000.0}, {"points": INTEGER_REQUIRED}),
        ({"username": "p", "points": "abc"}, {"points": INTEGER_REQUIRED}),
        ({"username": "p", "points": "95000"}, {"points": INTEGER_REQUIRED}),
        ({"username": "p", "points": None}, {"points": ["This field may not be null."]}),
        ({"username": "p", "points": True}, {"points": INTEGER_REQUIRED}),
        ({"username": "p", "points": []}, {"points": INTEGER_REQUIRED}),
        ({"username": "p", "points": {}}, {"points": INTEGER_REQUIRED}),
        ({"username": "p", "points": 10**30}, {"points": ["Ensure this value is less than or equal to 1000000."]}),
        ({"username": "p"}, {"points": ["This field is required."]}),
        ({"username": "", "points": 1}, {"username": ["This field may not be blank."]}),
        ({"username": "  \t ", "points": 1}, {"username": ["This field may not be blank."]}),
        ({"username": TOO_LONG, "points": 1}, {"username": ["Ensure this field has no more than 150 characters."]}),
        ({"username": 123, "points": 1}, {"username": STRING_REQUIRED}),
        ({"username": None, "points": 1}, {"username": ["This field may not be null."]}),
        ({"username": ["p"], "points": 1}, {"username": STRING_REQUIRED}),
        ({"username": {"p": 1}, "points": 1}, {"username": STRING_REQUIRED}),
        ({"username": "nul\x00byte", "points": 1}, {"username": ["Must not contain control characters."]}),
        ({"username": "tab\tinside", "points": 1}, {"username": ["Must not contain control characters."]}),
        ({"username": "c1\x85control", "points": 1}, {"username": ["Must not contain control characters."]}),
        ({"points": 1}, {"username": ["This field is required."]}),
    ],
)
def test_invalid_submissions_are_400_naming_the_field_and_write_nothing(api, payload, body):
    response = api.post("/api/score/", payload, format="json")

    assert response.status_code == 400
    assert response.json() == body
    assert Score.objects.count() == 0
    assert Player.objects.count() == 0


PARSE_ERROR = "JSON parse error - "


@pytest.mark.parametrize(
    "raw, content_type, status, body",
    [
        (b'{"username": "p", "points": ', "application/json", 400, PARSE_ERROR),
        (b"\xff\xfe not utf-8", "application/json", 400, PARSE_ERROR),
        (b'{"username": "\\ud800", "points": 1}', "application/json", 400, PARSE_ERROR),
        (
            b"[1, 2]",
            "application/json",
            400,
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
        ),
        (
            b'"just a string"',
            "application/json",
            400,
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
        ),
        (
            b"username=p&points=1",
            "application/x-www-form-urlencoded",
            415,
            {"detail": 'Unsupported media type "application/x-www-form-urlencoded" in request.'},
        ),
        (
            b"",
            "application/json",
            400,
            {"username": ["This field is required."], "points": ["This field is required."]},
        ),
    ],
)
def test_malformed_bodies_are_a_4xx_json_error_and_write_nothing(api, raw, content_type, status, body):
    response = api.generic("POST", "/api/score/", raw, content_type=content_type)

    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    if body == PARSE_ERROR:
        assert list(response.json()) == ["detail"]
        assert response.json()["detail"].startswith(PARSE_ERROR)
    else:
        assert response.json() == body
    assert Score.objects.count() == 0


def test_a_body_over_64_kib_is_413_and_writes_nothing(api):
    raw = b'{"username": "p", "points": 1, "padding": "' + b"x" * 65536 + b'"}'

    response = api.generic("POST", "/api/score/", raw, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {"detail": "Request body is larger than 65536 bytes."}
    assert Score.objects.count() == 0


@pytest.mark.parametrize(
    "method, path",
    [("get", "/api/score/"), ("put", "/api/score/"), ("post", "/api/top-players/"), ("delete", "/api/my-rank/")],
)
def test_wrong_methods_are_405(api, method, path):
    response = getattr(api, method)(path)

    assert response.status_code == 405
    assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}


def test_top_10_and_rank_are_aliases_and_the_trailing_slash_is_optional(submit, api):
    submit("alias", 42)

    expected_top = [{"rank": 1, "username": "alias", "points": 42}]
    assert api.get("/api/top-10/").json() == expected_top
    assert api.get("/api/top-players").json() == expected_top
    assert api.get("/api/rank/", {"username": "alias"}).json() == {"username": "alias", "rank": 1, "points": 42}
    assert api.get("/api/my-rank", {"username": "alias"}).json() == {"username": "alias", "rank": 1, "points": 42}
    without_slash = api.post("/api/score", {"username": "alias", "points": 43}, format="json")
    assert (without_slash.status_code, without_slash.json()) == (201, {"message": "Score submitted"})


def test_unknown_paths_are_a_json_404(api):
    response = api.get("/api/nothing-here/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_an_endpoint_refuses_the_checks_the_fast_path_would_skip():
    with pytest.raises(ImproperlyConfigured, match="no authentication, permissions or throttles"):
        type("ThrottledTop", (Endpoint,), {"throttle_classes": [AnonRateThrottle]})


def test_a_client_that_accepts_no_json_is_refused_before_anything_is_written(api):
    submitted = api.post("/api/score/", {"username": "amy", "points": 5}, format="json", HTTP_ACCEPT="application/xml")

    assert submitted.status_code == 406
    assert api.get("/api/top-players/", HTTP_ACCEPT="application/xml").status_code == 406
    assert Score.objects.count() == 0
