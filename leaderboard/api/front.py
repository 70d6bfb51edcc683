"""The seed API's hot calls answered in front of Django's request handling, which costs more than
a read, with the status, headers and body Django would give; anything else, and every error (the
view answers it without calling again), is still Django's."""

import io
import logging
import time
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import parse_qsl

import orjson
from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIRequest
from django.http.request import split_domain_port, validate_host
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware

from .. import metrics, services
from .fields import UsernameField
from .lean import FRONT_FAILURE, accepts_plain_json, json_object, json_response
from .legacy import SUBMITTED, my_rank_body, plain_submission, top_players_body
from .middleware import declared_length

logger = logging.getLogger(__name__)

# The middleware whose effect on its answers the front reproduces. With any other list, the front
# stays out of the way, so a middleware added later is never skipped.
MIDDLEWARE = [
    "leaderboard.api.middleware.MetricsMiddleware",
    "leaderboard.api.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def _top_players(environ):
    return None if environ.get("QUERY_STRING") else top_players_body()


def _my_rank(environ):
    query = environ.get("QUERY_STRING", "")
    pairs = parse_qsl(query, keep_blank_values=True) if query.isascii() else []
    if len(pairs) != 1 or pairs[0][0] != "username":
        return None
    username = UsernameField.plainly_valid(pairs[0][1])
    return None if username is None else my_rank_body(username)


def _submit_score(environ):
    # A query (?format=...) is for DRF's negotiation, which may refuse before anything is written.
    plain = not environ.get("QUERY_STRING") and environ.get("CONTENT_TYPE") == "application/json"
    if settings.SEED_SUBMIT_REQUIRES_KEY or not plain:
        return None
    content = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    environ["wsgi.input"] = io.BytesIO(content)  # read again by Django if the front passes it on
    submission = plain_submission(json_object(content))
    if submission is None:
        return None
    # Django's request signals, as for any write: they recycle broken or aged SQL connections.
    signals.request_started.send(sender=SeedFront, environ=environ)
    services.submit_score(username=submission[0], points=submission[1])
    # The score is durable now: a failing receiver must not turn its answer into an error.
    for receiver, outcome in signals.request_finished.send_robust(sender=SeedFront):
        if isinstance(outcome, Exception):
            logger.error("request_finished receiver %r failed", receiver, exc_info=outcome)
    return SUBMITTED


class Route(NamedTuple):
    endpoint: str  # the route's name in legacy_urls, as the metrics label it
    status: int
    body: Callable  # environ -> the answer's body, or None to pass the request on


def _routes(method: str, path: str, route: Route) -> dict[tuple[str, str], Route]:
    return {(method, path): route, (method, path.rstrip("/")): route}  # the slash is optional


ROUTES = {
    **_routes("GET", "/api/top-players/", Route("top-players", 200, _top_players)),
    **_routes("GET", "/api/top-10/", Route("top-10", 200, _top_players)),
    **_routes("GET", "/api/my-rank/", Route("my-rank", 200, _my_rank)),
    **_routes("GET", "/api/rank/", Route("rank", 200, _my_rank)),
    **_routes("POST", "/api/score/", Route("submit-score", 201, _submit_score)),
}
STATUS_LINES = {200: "200 OK", 201: "201 Created"}


class SeedFront:
    """WSGI: the seed API's hot calls answered directly; all else to `django_app`."""

    def __init__(self, django_app):
        self.django_app = django_app
        self.enabled = _settings_allow_front()
        # Computed by Django's own middleware, for a plain and for a secure request.
        self.headers = {secure: _middleware_headers(secure) for secure in (False, True)}
        self._timers: dict[str, tuple] = {}
        self._host_allowed = lru_cache(maxsize=64)(_host_allowed)  # hosts are few; this bounds it

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"]
        route = ROUTES.get((method, environ.get("PATH_INFO"))) if self.enabled else None
        if route is not None:
            started = time.perf_counter()
            try:
                secure = _is_secure(environ)
                plain = self._plain(environ, secure=secure, with_body=method == "POST")
                body = route.body(environ) if plain else None
            except Exception as error:  # noqa: BLE001  not ranked, Redis away, a bug: Django answers it
                environ[FRONT_FAILURE] = error
                body = None
            if body is not None:
                return self._answer(route, method, body, secure, started, start_response)
        return self.django_app(environ, start_response)

    def _answer(self, route: Route, method: str, body, secure: bool, started: float, start_response):
        content = orjson.dumps(body)
        start_response(STATUS_LINES[route.status], [*self.headers[secure], ("Content-Length", str(len(content)))])
        if route.endpoint not in self._timers:
            counter = metrics.REQUESTS.labels(route.endpoint, method, str(route.status))
            self._timers[route.endpoint] = (counter, metrics.LATENCY.labels(route.endpoint))
        counter, latency = self._timers[route.endpoint]
        counter.inc()
        latency.observe(time.perf_counter() - started)
        return [content]

    def _plain(self, environ, *, secure: bool, with_body: bool) -> bool:
        """A request Django would hand to the view as it is: a body if one is due, within the
        limit, an allowed host, JSON wanted, and no redirect to HTTPS due."""
        host = environ.get("HTTP_HOST")
        forwarded_host = settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ
        return (
            _body_as_due(environ.get("CONTENT_LENGTH", ""), with_body)
            and not environ.get("SCRIPT_NAME")
            and host is not None
            and not forwarded_host
            and self._host_allowed(host)
            and accepts_plain_json(environ.get("HTTP_ACCEPT", ""))
            and (not settings.SECURE_SSL_REDIRECT or secure)
        )


def _body_as_due(content_length: str, with_body: bool) -> bool:
    if not with_body:
        return content_length in ("", "0")
    declared = declared_length(content_length)
    # settings.py keeps DATA_UPLOAD_MAX_MEMORY_SIZE at this same limit.
    return declared is not None and 0 < declared <= settings.REQUEST_BODY_MAX_BYTES


def _settings_allow_front() -> bool:
    # The front does not reproduce DEBUG pages, user-agent bans, www redirects, or script prefixes.
    return (
        list(settings.MIDDLEWARE) == MIDDLEWARE
        and not settings.DEBUG
        and not settings.DISALLOWED_USER_AGENTS
        and not settings.PREPEND_WWW
        and settings.FORCE_SCRIPT_NAME is None
    )


def _host_allowed(host: str) -> bool:
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _is_secure(environ) -> bool:
    """HttpRequest.is_secure(), on the environ."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = environ.get(header)
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return environ.get("wsgi.url_scheme") == "https"


def _middleware_headers(secure: bool) -> list[tuple[str, str]]:
    """The headers of a JSON answer after Django's response middleware: asked of that middleware."""
    request = WSGIRequest({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.input": io.BytesIO()})
    request.is_secure = lambda: secure
    response = json_response([])
    for middleware in (SecurityMiddleware(json_response), XFrameOptionsMiddleware(json_response)):
        middleware.process_response(request, response)  # adds its headers to the response
    return list(response.items())
