"""SeedFront (speedrank.wsgi's application): the hot seed reads answered in front of Django,
with Django's status, headers and body; everything else passed to Django unchanged."""

import fcntl
import json
import re
from urllib.parse import quote

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import RequestFactory, override_settings
from prometheus_client import REGISTRY

from leaderboard import redis_store, selectors
from leaderboard.api.front import MIDDLEWARE, SeedFront
from leaderboard.limits import DEFAULT_BOARD_SLUG
from leaderboard.models import Score

from .conftest import free_port

pytestmark = pytest.mark.django_db

HSTS = {
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31_536_000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
}


@pytest.fixture(autouse=True)
def _test_transaction_survives_requests():
    """As Django's test client does: a request's start and end must not close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def board(submit):
    for username, points in [("amy", 300), ("bob", 500), ("玩家_🎮", 100)]:
        submit(username, points)


class Counting:
    """A WSGI app passed through, counting the requests that reach it."""

    def __init__(self, app):
        self.app, self.calls = app, 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.app(environ, start_response)


def environ(path: str, method: str = "GET", data: bytes = b"", **extra) -> dict:
    extra.setdefault("HTTP_HOST", "localhost")
    return RequestFactory().generic(method, path, data, content_type="application/json", **extra).environ


def call(app, env: dict) -> tuple[str, set, bytes]:
    """(status, headers as a set with lower-cased names, body) of one WSGI call."""
    started = {}
    chunks = app(env, lambda status, headers, exc_info=None: started.update(status=status, headers=headers))
    try:
        body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return started["status"], {(name.lower(), value) for name, value in started["headers"]}, body


def answers(path: str, **request) -> tuple[tuple, tuple, int]:
    """The front's answer, Django's own answer, and how many requests the front passed on to Django."""
    django = Counting(WSGIHandler())
    by_front = call(SeedFront(django), environ(path, **request))
    passed_on = django.calls
    return by_front, call(django, environ(path, **request)), passed_on


def requests_counted(endpoint: str, status: str = "200") -> float:
    labels = {"endpoint": endpoint, "method": "GET", "status": status}
    return REGISTRY.get_sample_value("speedrank_requests_total", labels) or 0.0


def redis_errors() -> float:
    return REGISTRY.get_sample_value("speedrank_redis_errors_total") or 0.0


# --- answered by the front, exactly as Django answers -----------------------------------------

TOP = b'[{"rank":1,"username":"bob","points":500},{"rank":2,"username":"amy","points":300},' + (
    '{"rank":3,"username":"玩家_🎮","points":100}]'.encode()
)
AMY = b'{"username":"amy","rank":2,"points":300}'


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/top-players/", TOP),
        ("/api/top-players", TOP),
        ("/api/top-10/", TOP),
        ("/api/top-10", TOP),
        ("/api/my-rank/?username=amy", AMY),
        ("/api/my-rank?username=amy", AMY),
        ("/api/rank/?username=amy", AMY),
        ("/api/rank?username=amy", AMY),
        ("/api/my-rank/?username=%20amy%09", AMY),
        ("/api/my-rank/?username=+amy+", AMY),
        (f"/api/my-rank/?username={quote('玩家_🎮')}", '{"username":"玩家_🎮","rank":3,"points":100}'.encode()),
    ],
)
def test_the_front_answers_plain_reads_itself_exactly_as_django_does(board, path, body):
    by_front, by_django, passed_on = answers(path)

    assert passed_on == 0
    assert by_front == by_django
    assert (by_front[0], by_front[2]) == ("200 OK", body)


def test_top_players_of_an_empty_board_is_answered_by_the_front_as_django_does():
    by_front, by_django, passed_on = answers("/api/top-players/")

    assert passed_on == 0
    assert by_front == by_django
    assert (by_front[0], by_front[2]) == ("200 OK", b"[]")


@pytest.mark.parametrize(
    "path, endpoint",
    [("/api/top-players/", "top-players"), ("/api/top-10", "top-10"), ("/api/rank/?username=amy", "rank")],
)
def test_a_front_answer_is_counted_under_the_labels_django_would_count_it(board, path, endpoint):
    django = Counting(WSGIHandler())
    before = requests_counted(endpoint)
    calls_before = REGISTRY.get_sample_value("speedrank_request_seconds_count", {"endpoint": endpoint}) or 0.0
    call(SeedFront(django), environ(path))
    by_front = requests_counted(endpoint)
    call(django, environ(path))

    assert django.calls == 1  # Django's own answer, not the front's
    assert (by_front - before, requests_counted(endpoint) - by_front) == (1, 1)
    assert REGISTRY.get_sample_value("speedrank_request_seconds_count", {"endpoint": endpoint}) == calls_before + 2


# --- passed on to Django, which answers as always --------------------------------------------


@pytest.mark.parametrize(
    "path, request_, status",
    [
        ("/api/my-rank/?username=nobody", {}, "404 Not Found"),
        ("/api/my-rank/", {}, "400 Bad Request"),
        ("/api/my-rank/?username=", {}, "400 Bad Request"),
        ("/api/my-rank/?username=%20%20", {}, "400 Bad Request"),
        (f"/api/my-rank/?username={'x' * 151}", {}, "400 Bad Request"),
        ("/api/my-rank/?username=amy&username=bob", {}, "200 OK"),
        ("/api/my-rank/?username=amy&page=2", {}, "200 OK"),
        ("/api/top-players/?page=2", {}, "200 OK"),
        ("/api/top-players/?format=json", {}, "200 OK"),
        ("/api/my-rank/?username=amy&format=json", {}, "200 OK"),
        ("/api/top-players/", {"HTTP_ACCEPT": "application/xml"}, "406 Not Acceptable"),
        ("/api/top-players/", {"method": "HEAD"}, "200 OK"),
        ("/api/top-players/", {"method": "POST"}, "405 Method Not Allowed"),
        ("/api/top-players/", {"HTTP_HOST": "evil.example"}, "400 Bad Request"),
        ("/api/top-players/", {"data": b'{"a": 1}'}, "200 OK"),
        ("/api/top-players/", {"CONTENT_LENGTH": "x"}, "400 Bad Request"),
        ("/api/top-players/", {"SCRIPT_NAME": "/prefix"}, "200 OK"),
        ("/api/score/", {}, "405 Method Not Allowed"),
    ],
)
def test_requests_the_front_cannot_answer_plainly_get_djangos_answer(board, path, request_, status):
    by_front, by_django, passed_on = answers(path, **request_)

    assert passed_on == 1
    assert by_front == by_django
    assert by_front[0] == status


def test_a_request_without_a_host_header_gets_djangos_answer(board):
    django = Counting(WSGIHandler())
    env = environ("/api/top-players/")
    del env["HTTP_HOST"]  # Django falls back to SERVER_NAME

    assert call(SeedFront(django), env)[0] == "200 OK"
    assert django.calls == 1


UNAVAILABLE = b'{"detail":"Leaderboard temporarily unavailable; retry shortly."}'


@pytest.mark.parametrize("path", ["/api/top-players/", "/api/my-rank/?username=amy"])
def test_reads_of_an_unbuilt_board_get_djangos_503(board, path):
    redis_store.client().delete(redis_store.board_built_key(DEFAULT_BOARD_SLUG))
    django = Counting(WSGIHandler())

    status, headers, body = call(SeedFront(django), environ(path))

    assert (status, body) == ("503 Service Unavailable", UNAVAILABLE)
    assert ("retry-after", "1") in headers
    assert django.calls == 1


@pytest.mark.parametrize("path", ["/api/top-players/", "/api/my-rank/?username=amy"])
def test_reads_while_redis_is_down_get_djangos_503(path):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        by_front, by_django, passed_on = answers(path)

    assert passed_on == 1
    assert by_front == by_django
    assert (by_front[0], by_front[2]) == ("503 Service Unavailable", UNAVAILABLE)


def test_a_read_while_redis_is_down_counts_one_redis_error_as_django_alone_does():
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        before = redis_errors()
        call(WSGIHandler(), environ("/api/top-players/"))
        by_django = redis_errors()
        call(SeedFront(WSGIHandler()), environ("/api/top-players/"))

    assert (by_django - before, redis_errors() - by_django) == (1, 1)


def test_an_entry_redis_holds_that_cannot_be_decoded_gets_djangos_500(board):
    redis_store.client().zadd(redis_store.board_key(DEFAULT_BOARD_SLUG), {"broken": float("inf")})

    by_front, by_django, passed_on = answers("/api/top-players/")

    assert by_front == by_django
    assert (by_front[0], by_front[2]) == ("500 Internal Server Error", b'{"detail": "Internal server error."}')


# --- settings ---------------------------------------------------------------------------------


@override_settings(**HSTS)
@pytest.mark.parametrize("proto", ["https", "https, http"])
def test_behind_a_tls_proxy_the_front_answers_https_reads_with_djangos_hsts_header(board, proto):
    by_front, by_django, passed_on = answers("/api/top-players/", HTTP_X_FORWARDED_PROTO=proto)

    assert passed_on == 0
    assert by_front == by_django
    assert ("strict-transport-security", "max-age=31536000; includeSubDomains; preload") in by_front[1]


@override_settings(**HSTS)
@pytest.mark.parametrize(
    "request_", [{}, {"HTTP_X_FORWARDED_PROTO": "http"}, {"HTTP_X_FORWARDED_PROTO": "http, https"}]
)
def test_behind_a_tls_proxy_plain_http_reads_get_djangos_redirect(board, request_):
    by_front, by_django, passed_on = answers("/api/top-players/", **request_)

    assert passed_on == 1
    assert by_front == by_django
    assert by_front[0] == "301 Moved Permanently"
    assert ("location", "https://localhost/api/top-players/") in by_front[1]


@pytest.mark.parametrize(
    "overrides",
    [
        {"MIDDLEWARE": [*MIDDLEWARE, "django.middleware.http.ConditionalGetMiddleware"]},
        {"MIDDLEWARE": MIDDLEWARE[1:]},
        {"DEBUG": True},
        {"PREPEND_WWW": True},
        {"DISALLOWED_USER_AGENTS": [re.compile("nothing-matches-this")]},
        {"FORCE_SCRIPT_NAME": "/speedrank"},
    ],
)
def test_settings_the_front_does_not_reproduce_turn_it_off(board, overrides):
    with override_settings(**overrides):
        by_front, by_django, passed_on = answers("/api/top-players/")

    assert passed_on == 1
    assert by_front == by_django


# --- submissions --------------------------------------------------------------------------------


def post(path: str, body, **request) -> dict:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return environ(path, method="POST", data=content, **request)


def submitted(username: str) -> list[int]:
    return list(Score.objects.filter(player__username=username).values_list("points", flat=True))


@pytest.mark.parametrize("path", ["/api/score/", "/api/score"])
def test_the_front_records_a_plain_submission_and_answers_as_django_does(path, django_capture_on_commit_callbacks):
    django = Counting(WSGIHandler())
    with django_capture_on_commit_callbacks(execute=True):
        by_front = call(SeedFront(django), post(path, {"username": " amy ", "points": 70}))
        by_django = call(django, post(path, {"username": "bob", "points": 50}))

    assert django.calls == 1  # bob's, sent to Django directly
    assert by_front == by_django
    assert (by_front[0], by_front[2]) == ("201 Created", b'{"message":"Score submitted"}')
    assert (submitted("amy"), submitted("bob")) == ([70], [50])
    assert selectors.rank_for(username="amy").rank == 1  # mirrored to Redis as Django's path does


def test_a_front_submission_is_counted_under_the_labels_django_would_count_it():
    labels = {"endpoint": "submit-score", "method": "POST", "status": "201"}
    before = REGISTRY.get_sample_value("speedrank_requests_total", labels) or 0.0

    call(SeedFront(WSGIHandler()), post("/api/score/", {"username": "amy", "points": 1}))

    assert REGISTRY.get_sample_value("speedrank_requests_total", labels) == before + 1


@pytest.mark.parametrize(
    "body, request_",
    [
        ({"username": "amy", "points": "12"}, {}),  # a string: the serializer refuses it
        ({"username": "amy", "points": True}, {}),
        ({"username": "amy", "points": 10**12}, {}),
        ({"username": "", "points": 1}, {}),
        ({"username": "amy"}, {}),
        (b"{not json", {}),
        (b'["amy", 1]', {}),
        ({"username": "a\u200db", "points": 3}, {}),  # valid, though not at a glance: Django records it
        ({"username": "amy", "points": 3}, {"CONTENT_TYPE": "text/plain"}),
        ({"username": "amy", "points": 3}, {"CONTENT_TYPE": "application/json; charset=utf-8"}),
        ({"username": "amy", "points": 3}, {"HTTP_ACCEPT": "application/xml"}),
        ({"username": "amy", "points": 3}, {"CONTENT_LENGTH": "10000000"}),
        ({"username": "amy", "points": 3}, {"CONTENT_LENGTH": "\u00b2"}),
        ({"username": "amy", "points": 3}, {"CONTENT_LENGTH": "0" * 5000 + "29"}),  # int() refuses 4,301+ digits
        ({"username": "amy", "points": 3}, {"QUERY_STRING": "format=xml"}),  # DRF's 404, nothing written
        ({"username": "amy", "points": 3}, {"QUERY_STRING": "format=json"}),
    ],
)
def test_submissions_not_plainly_valid_get_djangos_answer(body, request_, django_capture_on_commit_callbacks):
    django = Counting(WSGIHandler())
    with django_capture_on_commit_callbacks(execute=True):
        by_front = call(SeedFront(django), post("/api/score/", body, **request_))
        by_django = call(WSGIHandler(), post("/api/score/", body, **request_))

    assert django.calls == 1
    # Both answers alike; a valid submission was recorded by each, once.
    assert by_front == by_django
    assert by_front[0] != "500 Internal Server Error"


@override_settings(SEED_SUBMIT_REQUIRES_KEY=True)
def test_with_keys_required_submissions_are_left_to_django():
    django = Counting(WSGIHandler())

    by_front = call(SeedFront(django), post("/api/score/", {"username": "amy", "points": 3}))

    assert django.calls == 1
    assert by_front[0] == "401 Unauthorized"
    assert submitted("amy") == []


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the writers' turn is SQLite's group commit")
@pytest.mark.django_db(transaction=True)
def test_a_submission_that_fails_is_answered_by_django_without_being_written_again(default_board, settings):
    settings.SQLITE_BUSY_TIMEOUT_SECONDS = 0.2
    turn = open(f"{connection.settings_dict['NAME']}.write-lock", "a")  # noqa: SIM115
    django = Counting(WSGIHandler())
    try:
        fcntl.flock(turn, fcntl.LOCK_EX)  # the writers' turn, held as a stopped worker would hold it
        by_front = call(SeedFront(django), post("/api/score/", {"username": "amy", "points": 3}))
    finally:
        fcntl.flock(turn, fcntl.LOCK_UN)
        turn.close()

    assert django.calls == 1  # the error, handed on; the view answers it without writing
    assert by_front[0] == "503 Service Unavailable"
    assert submitted("amy") == []


@pytest.mark.parametrize("length", ["9" * 5000, "0" * 5000 + "29"], ids=["nines", "zeros"])
def test_a_content_length_of_thousands_of_digits_is_refused_400(length):
    by_front, by_django, passed_on = answers("/api/top-players/", CONTENT_LENGTH=length)

    assert passed_on == 1
    assert by_front == by_django
    assert by_front[0] == "400 Bad Request"
    assert json.loads(by_front[2]) == {"detail": "Content-Length must be a whole number of at most 18 digits."}


def test_a_failing_request_finished_receiver_leaves_a_recorded_score_acknowledged():
    def broken_receiver(**kwargs):
        raise RuntimeError("a receiver's bug")

    request_finished.connect(broken_receiver)
    try:
        by_front = call(SeedFront(WSGIHandler()), post("/api/score/", {"username": "amy", "points": 3}))
    finally:
        request_finished.disconnect(broken_receiver)

    assert by_front[0] == "201 Created"
    assert submitted("amy") == [3]
