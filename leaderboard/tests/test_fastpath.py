"""The fast path (speedrank.wsgi's application): plain calls of both APIs answered by their
endpoints in front of Django, with Django's status, headers and body, errors included; every
other request passed to Django unchanged."""

import fcntl
import io
import json
import re
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test import RequestFactory, override_settings
from prometheus_client import REGISTRY

from leaderboard import metrics, redis_store, services
from leaderboard.api.fastpath import FastPath
from leaderboard.api.middleware import ChunkedBodies
from leaderboard.limits import DEFAULT_BOARD_SLUG
from leaderboard.models import Score

from .boards import standing
from .conftest import ON_CLUSTER, free_port, single_redis, wait_until
from .factories import make_game, play

pytestmark = pytest.mark.django_db

HSTS = {
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31_536_000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
}


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
    """(status, headers as a set with lower-cased names, body) of one WSGI call. As Django's test
    client does, the request's start and end leave the test's connection (and transaction) open."""
    started = {}
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        chunks = app(env, lambda status, headers, exc_info=None: started.update(status=status, headers=headers))
        try:
            body = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return started["status"], {(name.lower(), value) for name, value in started["headers"]}, body


def answers(path: str, **request) -> tuple[tuple, tuple, int]:
    """The fast path's answer, Django's own answer, and how many requests the fast path passed on to Django."""
    django = Counting(WSGIHandler())
    by_fast_path = call(FastPath(django), environ(path, **request))
    passed_on = django.calls
    return by_fast_path, call(django, environ(path, **request)), passed_on


def counted(name: str, labels: dict) -> float:
    """A request metric's value, with the requests answered so far in this process added to it."""
    metrics.requests.flush()
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests_counted(endpoint: str, status: str = "200") -> float:
    return counted("speedrank_requests_total", {"endpoint": endpoint, "method": "GET", "status": status})


def redis_errors() -> float:
    return REGISTRY.get_sample_value("speedrank_redis_errors_total") or 0.0


# --- seed calls answered by the fast path, exactly as Django answers -----------------------------------------

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
def test_the_fast_path_answers_plain_seed_reads_itself_exactly_as_django_does(board, path, body):
    by_fast_path, by_django, passed_on = answers(path)

    assert passed_on == 0
    assert by_fast_path == by_django
    assert (by_fast_path[0], by_fast_path[2]) == ("200 OK", body)


def test_top_players_of_an_empty_board_is_answered_by_the_fast_path_as_django_does():
    by_fast_path, by_django, passed_on = answers("/api/top-players/")

    assert passed_on == 0
    assert by_fast_path == by_django
    assert (by_fast_path[0], by_fast_path[2]) == ("200 OK", b"[]")


@pytest.mark.parametrize(
    "path, endpoint",
    [("/api/top-players/", "top-players"), ("/api/top-10", "top-10"), ("/api/rank/?username=amy", "rank")],
)
def test_a_fast_answer_is_counted_under_the_labels_django_would_count_it(board, path, endpoint):
    django = Counting(WSGIHandler())
    before = requests_counted(endpoint)
    calls_before = counted("speedrank_request_seconds_count", {"endpoint": endpoint})
    call(FastPath(django), environ(path))
    by_fast_path = requests_counted(endpoint)
    call(django, environ(path))

    assert django.calls == 1  # Django's own answer, not the front's
    assert (by_fast_path - before, requests_counted(endpoint) - by_fast_path) == (1, 1)
    assert counted("speedrank_request_seconds_count", {"endpoint": endpoint}) == calls_before + 2


# --- passed on to Django, which answers as always --------------------------------------------


@pytest.mark.parametrize(
    "path, request_, status",
    [
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
def test_requests_the_fast_path_cannot_answer_plainly_get_djangos_answer(board, path, request_, status):
    by_fast_path, by_django, passed_on = answers(path, **request_)

    assert passed_on == 1
    assert by_fast_path == by_django
    assert by_fast_path[0] == status


def test_a_request_without_a_host_header_gets_djangos_answer(board):
    django = Counting(WSGIHandler())
    env = environ("/api/top-players/")
    del env["HTTP_HOST"]  # Django falls back to SERVER_NAME

    assert call(FastPath(django), env)[0] == "200 OK"
    assert django.calls == 1


UNAVAILABLE = b'{"detail":"Leaderboard temporarily unavailable; retry shortly."}'


@pytest.mark.django_db(transaction=True)  # the rebuild the read asks for reads SQL from its own thread
@pytest.mark.parametrize("path", ["/api/top-players/", "/api/my-rank/?username=amy"])
def test_reads_of_an_unbuilt_board_get_a_503_on_the_fast_path_as_on_djangos(default_board, path):
    redis_store.client().delete(redis_store.board_key(DEFAULT_BOARD_SLUG))  # Redis lost it
    django = Counting(WSGIHandler())

    status, headers, body = call(FastPath(django), environ(path))

    assert (status, body) == ("503 Service Unavailable", UNAVAILABLE)
    assert ("retry-after", "1") in headers
    assert django.calls == 0
    # The read asked for the board's rebuild: Django's path answers from it once it is whole again
    # (amy has no score: 404 is my-rank's answer then).
    assert wait_until(lambda: call(django, environ(path))[0] in ("200 OK", "404 Not Found"), timeout=10)


@pytest.mark.parametrize("path", ["/api/top-players/", "/api/my-rank/?username=amy"])
def test_reads_while_redis_is_down_get_djangos_503(path):
    with single_redis(f"redis://127.0.0.1:{free_port()}/0"):
        by_fast_path, by_django, passed_on = answers(path)

    assert passed_on == 0
    assert by_fast_path == by_django
    assert (by_fast_path[0], by_fast_path[2]) == ("503 Service Unavailable", UNAVAILABLE)


def test_a_read_while_redis_is_down_counts_one_redis_error_as_django_alone_does():
    with single_redis(f"redis://127.0.0.1:{free_port()}/0"):
        before = redis_errors()
        call(WSGIHandler(), environ("/api/top-players/"))
        by_django = redis_errors()
        call(FastPath(WSGIHandler()), environ("/api/top-players/"))

    assert (by_django - before, redis_errors() - by_django) == (1, 1)


def test_an_entry_redis_holds_that_cannot_be_decoded_gets_djangos_500(board):
    redis_store.client().zadd(redis_store.board_key(DEFAULT_BOARD_SLUG), {"broken": float("-inf")})

    by_fast_path, by_django, passed_on = answers("/api/top-players/")

    assert passed_on == 0
    assert by_fast_path == by_django
    assert (by_fast_path[0], by_fast_path[2]) == ("500 Internal Server Error", b'{"detail": "Internal server error."}')


# --- settings ---------------------------------------------------------------------------------


@override_settings(**HSTS)
@pytest.mark.parametrize("proto", ["https", "https, http"])
def test_behind_a_tls_proxy_the_fast_path_answers_https_reads_with_djangos_hsts_header(board, proto):
    by_fast_path, by_django, passed_on = answers("/api/top-players/", HTTP_X_FORWARDED_PROTO=proto)

    assert passed_on == 0
    assert by_fast_path == by_django
    assert ("strict-transport-security", "max-age=31536000; includeSubDomains; preload") in by_fast_path[1]


@override_settings(**HSTS)
@pytest.mark.parametrize(
    "request_", [{}, {"HTTP_X_FORWARDED_PROTO": "http"}, {"HTTP_X_FORWARDED_PROTO": "http, https"}]
)
def test_behind_a_tls_proxy_plain_http_reads_get_djangos_redirect(board, request_):
    by_fast_path, by_django, passed_on = answers("/api/top-players/", **request_)

    assert passed_on == 1
    assert by_fast_path == by_django
    assert by_fast_path[0] == "301 Moved Permanently"
    assert ("location", "https://localhost/api/top-players/") in by_fast_path[1]


@pytest.mark.parametrize(
    "overrides",
    [
        {"MIDDLEWARE": [*settings.MIDDLEWARE, "django.middleware.http.ConditionalGetMiddleware"]},
        {"DEBUG": True},
        {"PREPEND_WWW": True},
        {"DISALLOWED_USER_AGENTS": [re.compile("nothing-matches-this")]},
        {"FORCE_SCRIPT_NAME": "/speedrank"},
    ],
)
def test_settings_the_fast_path_does_not_reproduce_turn_it_off(board, overrides):
    with override_settings(**overrides):
        by_fast_path, by_django, passed_on = answers("/api/top-players/")

    assert passed_on == 1
    assert by_fast_path == by_django


# --- submissions --------------------------------------------------------------------------------


def post(path: str, body, **request) -> dict:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return environ(path, method="POST", data=content, **request)


def submitted(username: str) -> list[int]:
    return list(Score.objects.filter(player__username=username).values_list("points", flat=True))


@pytest.mark.parametrize("path", ["/api/score/", "/api/score"])
def test_the_fast_path_records_a_plain_submission_and_answers_as_django_does(path, django_capture_on_commit_callbacks):
    django = Counting(WSGIHandler())
    with django_capture_on_commit_callbacks(execute=True):
        by_fast_path = call(FastPath(django), post(path, {"username": " amy ", "points": 70}))
        by_django = call(django, post(path, {"username": "bob", "points": 50}))

    assert django.calls == 1  # bob's, sent to Django directly
    assert by_fast_path == by_django
    assert (by_fast_path[0], by_fast_path[2]) == ("201 Created", b'{"message":"Score submitted"}')
    assert (submitted("amy"), submitted("bob")) == ([70], [50])
    assert standing("amy").rank == 1  # mirrored to Redis as Django's path does


def test_a_fast_submission_is_counted_under_the_labels_django_would_count_it():
    labels = {"endpoint": "submit-score", "method": "POST", "status": "201"}
    before = counted("speedrank_requests_total", labels)

    call(FastPath(WSGIHandler()), post("/api/score/", {"username": "amy", "points": 1}))

    assert counted("speedrank_requests_total", labels) == before + 1


@pytest.mark.parametrize(
    "body",
    [
        {"username": "amy", "points": "12"},  # a string: the serializer refuses it
        {"username": "amy", "points": True},
        {"username": "amy", "points": 10**12},
        {"username": "amy", "points": 10**22},  # beyond 64 bits: still out of range, not "not an integer"
        {"username": "", "points": 1},
        {"username": "amy"},
        ["amy", 1],
        {"username": "a\u200db", "points": 3},  # valid, though not at a glance: the serializer accepts it
    ],
)
def test_submissions_not_plainly_valid_are_answered_by_the_fast_path_as_django_does(
    body, django_capture_on_commit_callbacks
):
    django = Counting(WSGIHandler())
    with django_capture_on_commit_callbacks(execute=True):
        by_fast_path = call(FastPath(django), post("/api/score/", body))
        by_django = call(WSGIHandler(), post("/api/score/", body))

    assert django.calls == 0
    # Both answers alike; a valid submission was recorded by each, once.
    assert by_fast_path == by_django
    assert by_fast_path[0] != "500 Internal Server Error"


def test_an_integer_beyond_64_bits_gets_the_range_message():
    by_fast_path = call(
        FastPath(WSGIHandler()), post("/api/score/", b'{"username": "amy", "points": 1' + b"0" * 22 + b"}")
    )

    assert by_fast_path[0] == "400 Bad Request"
    assert json.loads(by_fast_path[2]) == {"points": ["Ensure this value is less than or equal to 1000000."]}


@pytest.mark.parametrize(
    "body, request_",
    [
        (b"{not json", {}),
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
def test_submissions_the_fast_path_cannot_read_plainly_get_djangos_answer(
    body, request_, django_capture_on_commit_callbacks
):
    django = Counting(WSGIHandler())
    with django_capture_on_commit_callbacks(execute=True):
        by_fast_path = call(FastPath(django), post("/api/score/", body, **request_))
        by_django = call(WSGIHandler(), post("/api/score/", body, **request_))

    assert django.calls == 1
    assert by_fast_path == by_django
    assert by_fast_path[0] != "500 Internal Server Error"


@override_settings(SEED_SUBMIT_REQUIRES_KEY=True)
def test_with_keys_required_the_fast_path_refuses_a_submission_without_one_as_django_does():
    django = Counting(WSGIHandler())

    by_fast_path = call(FastPath(django), post("/api/score/", {"username": "amy", "points": 3}))
    by_django = call(django, post("/api/score/", {"username": "amy", "points": 3}))

    assert by_fast_path == by_django
    assert by_fast_path[0] == "401 Unauthorized"
    assert submitted("amy") == []


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the writers' turn is SQLite's group commit")
@pytest.mark.django_db(transaction=True)
def test_a_submission_that_fails_is_answered_503_once_and_written_nowhere(default_board, settings):
    settings.SQLITE_BUSY_TIMEOUT_SECONDS = 0.2
    turn = open(f"{connection.settings_dict['NAME']}.write-lock", "a")  # noqa: SIM115
    django = Counting(WSGIHandler())
    try:
        fcntl.flock(turn, fcntl.LOCK_EX)  # the writers' turn, held as a stopped worker would hold it
        by_fast_path = call(FastPath(django), post("/api/score/", {"username": "amy", "points": 3}))
    finally:
        fcntl.flock(turn, fcntl.LOCK_UN)
        turn.close()

    assert django.calls == 0
    assert by_fast_path[0] == "503 Service Unavailable"
    assert submitted("amy") == []


@pytest.mark.parametrize("length", ["9" * 5000, "0" * 5000 + "29"], ids=["nines", "zeros"])
def test_a_content_length_of_thousands_of_digits_is_refused_400(length):
    by_fast_path, by_django, passed_on = answers("/api/top-players/", CONTENT_LENGTH=length)

    assert passed_on == 1
    assert by_fast_path == by_django
    assert by_fast_path[0] == "400 Bad Request"
    assert json.loads(by_fast_path[2]) == {"detail": "Content-Length must be a whole number of at most 18 digits."}


def test_a_failing_request_finished_receiver_leaves_a_recorded_score_acknowledged():
    def broken_receiver(**kwargs):
        raise RuntimeError("a receiver's bug")

    request_finished.connect(broken_receiver)
    try:
        by_fast_path = call(FastPath(WSGIHandler()), post("/api/score/", {"username": "amy", "points": 3}))
    finally:
        request_finished.disconnect(broken_receiver)

    assert by_fast_path[0] == "201 Created"
    assert submitted("amy") == [3]


@pytest.mark.django_db(transaction=True)  # the connection may be closed under test
def test_in_place_of_djangos_request_signals_the_fast_path_closes_an_aged_connection(board, monkeypatch):
    sent = []
    monkeypatch.setattr(request_started, "send", lambda *args, **kwargs: sent.append(args) or [])
    connection.ensure_connection()  # this thread has opened one, as a worker's threads have
    connection.close_at = 0  # past its CONN_MAX_AGE

    b"".join(FastPath(WSGIHandler())(environ("/api/top-players/"), lambda *args: None))

    assert sent == []  # Django's own receivers only: done directly, not dispatched
    assert connection.connection is None  # ... and done: the aged connection is closed


@pytest.mark.django_db(transaction=True)
def test_a_request_signal_receiver_of_the_projects_own_still_hears_every_fast_path_call(board):
    heard = []

    def receiver(**kwargs):
        heard.append(kwargs.get("environ", {}).get("PATH_INFO", "finished"))

    connection.ensure_connection()
    request_started.connect(receiver)
    request_finished.connect(receiver)
    try:
        assert call(FastPath(WSGIHandler()), environ("/api/top-players/"))[0] == "200 OK"
    finally:
        request_started.disconnect(receiver)
        request_finished.disconnect(receiver)

    assert heard == ["/api/top-players/", "finished"]


# --- chunked bodies -------------------------------------------------------------------------------


def chunked(path: str, content: bytes) -> dict:
    """A POST whose body came chunked: no Content-Length, as the HTTP server hands it on."""
    env = post(path, content)
    del env["CONTENT_LENGTH"]
    env["HTTP_TRANSFER_ENCODING"] = "chunked"
    env["wsgi.input"] = io.BytesIO(content)  # read to its end, as the server's stream is
    return env


def test_a_chunked_body_is_read_and_handled_like_any_other(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        by_fast_path = call(
            ChunkedBodies(FastPath(WSGIHandler())), chunked("/api/score/", b'{"username": "amy", "points": 4}')
        )
        by_django = call(ChunkedBodies(WSGIHandler()), chunked("/api/score/", b'{"username": "bob", "points": 4}'))

    assert by_fast_path == by_django
    assert by_fast_path[0] == "201 Created"
    assert (submitted("amy"), submitted("bob")) == ([4], [4])


def test_a_chunked_body_over_the_limit_is_413():
    content = json.dumps({"username": "amy", "points": 4, "pad": "x" * settings.REQUEST_BODY_MAX_BYTES}).encode()

    status, _headers, body = call(ChunkedBodies(FastPath(WSGIHandler())), chunked("/v1/scores", content))

    assert status == "413 Request Entity Too Large"
    assert json.loads(body) == {"error": "request_too_large", "detail": "Request body is larger than 65536 bytes."}
    assert submitted("amy") == []


def test_a_body_with_neither_a_length_nor_chunked_encoding_is_411():
    env = chunked("/v1/scores", b'{"player_id": "amy"}')
    env["HTTP_TRANSFER_ENCODING"] = "gzip"

    status, _headers, body = call(ChunkedBodies(FastPath(WSGIHandler())), env)

    assert status == "411 Length Required"
    assert json.loads(body) == {
        "error": "length_required",
        "detail": "A request body needs a Content-Length or Transfer-Encoding: chunked.",
    }


# --- /v1/ calls, answered by the fast path exactly as Django answers ---------------------------------


@pytest.fixture
def chess(board):
    make_game("chess")
    play("chess", *((f"p{n}", 100 - n) for n in range(1, 8)))


@override_settings(RATE_LIMITS_ENABLED=False)  # counted limits would differ from one call to the next
@pytest.mark.parametrize(
    "path, status",
    [
        # The seed reads' errors and unusual queries.
        ("/api/my-rank/?username=nobody", "404 Not Found"),
        ("/api/my-rank/", "400 Bad Request"),
        ("/api/my-rank/?username=", "400 Bad Request"),
        ("/api/my-rank/?username=%20%20", "400 Bad Request"),
        (f"/api/my-rank/?username={'x' * 151}", "400 Bad Request"),
        ("/api/my-rank/?username=a%00b", "400 Bad Request"),
        ("/api/my-rank/?username=amy&username=bob", "200 OK"),
        ("/api/my-rank/?username=amy&page=2", "200 OK"),
        ("/api/top-players/?page=2", "200 OK"),
        # The v1 reads, and theirs.
        ("/v1/leaderboard?game_id=chess&top=3", "200 OK"),
        ("/v1/leaderboard/?game_id=chess&top=3&offset=5", "200 OK"),
        ("/v1/leaderboard?game_id=chess&offset=50", "200 OK"),
        ("/v1/leaderboard?game_id=nope", "404 Not Found"),
        ("/v1/leaderboard?game_id=chess&top=0", "400 Bad Request"),
        ("/v1/leaderboard?game_id=chess&top=", "400 Bad Request"),
        ("/v1/leaderboard?game_id=chess&top=+3", "200 OK"),
        ("/v1/leaderboard?game_id=chess&page=2", "400 Bad Request"),
        ("/v1/leaderboard?game_id=chess%20", "200 OK"),  # trimmed by the field, not at a glance
        ("/v1/leaderboard/rank?game_id=chess&player_id=p3&context=2", "200 OK"),
        ("/v1/leaderboard/rank?game_id=chess&player_id=%20p3%20", "200 OK"),
        ("/v1/leaderboard/rank?game_id=chess&player_id=nobody", "404 Not Found"),
        ("/v1/leaderboard/rank?game_id=chess&player_id=p3&context=51", "400 Bad Request"),
        ("/v1/leaderboard/players?game_id=chess&player_ids=p3,p1,nobody,p3", "200 OK"),
        ("/v1/leaderboard/players?game_id=chess&player_ids=,,", "200 OK"),
        (
            f"/v1/leaderboard/players?game_id=chess&player_ids={','.join(f'x{n}' for n in range(201))}",
            "400 Bad Request",
        ),
        ("/v1/matchmaking?game_id=chess&player_id=p4&size=2", "200 OK"),
        ("/v1/players/p2", "200 OK"),
        ("/v1/players/nobody", "404 Not Found"),
        ("/v1/games", "200 OK"),
        ("/v1/games/chess", "200 OK"),
        ("/v1/games/nope", "404 Not Found"),
    ],
)
def test_reads_of_both_apis_and_their_errors_are_answered_by_the_fast_path_exactly_as_django_does(chess, path, status):
    by_fast_path, by_django, passed_on = answers(path)

    assert passed_on == 0
    assert by_fast_path == by_django
    assert by_fast_path[0] == status


@override_settings(RATE_LIMITS_ENABLED=False)
@pytest.mark.parametrize(
    "path, body, status",
    [
        ("/v1/leaderboard/players", {"game_id": "chess", "player_ids": ["p2", " p1 ", "p2"]}, "200 OK"),
        ("/v1/leaderboard/players", {"game_id": "chess", "player_ids": ["p2", 7]}, "400 Bad Request"),
        ("/v1/scores", {"player_id": "amy", "game_id": "chess", "score": 5}, "401 Unauthorized"),
        ("/v1/games", {"game_id": "go"}, "401 Unauthorized"),
        ("/v1/sessions", {"player_id": "amy"}, "400 Bad Request"),
        ("/v1/sessions", {"player_id": "amy", "game_id": "nope"}, "404 Not Found"),
    ],
)
def test_v1_posts_are_answered_by_the_fast_path_exactly_as_django_does(chess, path, body, status):
    django = Counting(WSGIHandler())

    by_fast_path = call(FastPath(django), post(path, body))
    by_django = call(django, post(path, body))

    assert django.calls == 1  # Django's own answer only
    assert by_fast_path == by_django
    assert by_fast_path[0] == status


def same_shape(answer: tuple) -> tuple:
    """An answer without what differs between two writes: ids, times, tokens and lengths."""
    status, headers, body = answer
    return status, {name for name, _value in headers}, sorted(json.loads(body))


@override_settings(RATE_LIMITS_ENABLED=False)
@pytest.mark.django_db(transaction=True)
def test_v1_writes_on_the_fast_path_answer_as_on_djangos(default_board):
    make_game("chess")
    key = services.create_api_key(name="game-server", scope="server")
    django = Counting(WSGIHandler())
    fast_path = FastPath(django)

    for path, body, extra in [
        ("/v1/sessions", {"player_id": "amy", "game_id": "chess"}, {}),
        ("/v1/scores", {"player_id": "amy", "game_id": "chess", "score": 5}, {"HTTP_X_API_KEY": key}),
    ]:
        by_fast_path = call(fast_path, post(path, body, **extra))
        by_django = call(django, post(path, body, **extra))

        assert same_shape(by_fast_path) == same_shape(by_django)
        assert by_fast_path[0] == "201 Created"
    assert django.calls == 2
    assert list(Score.objects.filter(player__username="amy").values_list("points", flat=True)) == [5, 5]


@override_settings(RATE_LIMIT_WINDOW=3600)  # a window the test stays inside
def test_a_v1_read_counts_its_rate_limit_in_its_one_redis_round_trip(chess, monkeypatch):
    """One round trip: on a cluster, one to each master holding a key (the board's, the counter's)."""
    call(FastPath(WSGIHandler()), environ("/v1/leaderboard?game_id=chess"))  # Redis has the scripts now
    round_trips = []
    sent = redis.connection.Connection.send_packed_command
    monkeypatch.setattr(
        redis.connection.Connection,
        "send_packed_command",
        lambda connection, command, check_health=True: round_trips.append(connection.port)
        or sent(connection, command, check_health),
    )

    status, headers, _body = call(FastPath(WSGIHandler()), environ("/v1/leaderboard?game_id=chess&top=3"))

    assert status == "200 OK"
    assert 1 <= len(set(round_trips)) == len(round_trips) <= (2 if ON_CLUSTER else 1)
    assert ("ratelimit-remaining", str(settings.RATE_LIMIT_READS_PER_IP - 2)) in headers


@override_settings(RATE_LIMIT_READS_PER_IP=1, RATE_LIMIT_WINDOW=3600)  # a window the test stays inside
def test_a_refused_read_is_answered_429_by_the_fast_path_as_by_django(chess):
    path = "/v1/leaderboard?game_id=chess"
    assert call(FastPath(WSGIHandler()), environ(path))[0] == "200 OK"

    by_fast_path, by_django, passed_on = answers(path)

    assert passed_on == 0
    assert by_fast_path[0] == by_django[0] == "429 Too Many Requests"
    assert by_fast_path[2] == by_django[2]
    assert {name for name, _ in by_fast_path[1]} == {name for name, _ in by_django[1]}
    assert ("ratelimit-remaining", "0") in by_fast_path[1]
