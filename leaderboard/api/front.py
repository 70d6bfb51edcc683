"""The seed API's two hot reads, answered in front of Django's request handling, which costs more
than the read itself. A request the front cannot answer plainly goes on to Django unchanged, and
a read that fails goes on with its error, which the view answers without reading again; so every
error, redirect and refusal is still Django's. An answer of the front's carries the same status,
headers and body that Django's would."""

import io
import time
from functools import lru_cache
from urllib.parse import parse_qsl

import orjson
from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.http.request import split_domain_port, validate_host
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware

from .. import metrics
from .fields import UsernameField
from .lean import FRONT_FAILURE, accepts_plain_json, json_response
from .legacy import my_rank_body, top_players_body

# The middleware whose effect on a read the front reproduces. With any other list, the front
# stays out of the way, so a middleware added later is never skipped.
MIDDLEWARE = [
    "leaderboard.api.middleware.MetricsMiddleware",
    "leaderboard.api.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def _top_players(query: str):
    return None if query else top_players_body()


def _my_rank(query: str):
    pairs = parse_qsl(query, keep_blank_values=True) if query.isascii() else []
    if len(pairs) != 1 or pairs[0][0] != "username":
        return None
    username = UsernameField.plainly_valid(pairs[0][1])
    return None if username is None else my_rank_body(username)


# Path -> (the route's name in legacy_urls, as the metrics label it; the answer, or None).
ROUTES = {
    **dict.fromkeys(("/api/top-players/", "/api/top-players"), ("top-players", _top_players)),
    **dict.fromkeys(("/api/top-10/", "/api/top-10"), ("top-10", _top_players)),
    **dict.fromkeys(("/api/my-rank/", "/api/my-rank"), ("my-rank", _my_rank)),
    **dict.fromkeys(("/api/rank/", "/api/rank"), ("rank", _my_rank)),
}


class SeedReadsFront:
    """WSGI: GET top-players and my-rank answered from Redis directly; all else to `django_app`."""

    def __init__(self, django_app):
        self.django_app = django_app
        self.enabled = _settings_allow_front()
        # Computed by Django's own middleware, for a plain and for a secure request.
        self.headers = {secure: _middleware_headers(secure) for secure in (False, True)}
        self._timers: dict[str, tuple] = {}
        self._host_allowed = lru_cache(maxsize=64)(_host_allowed)  # hosts are few; this bounds it

    def __call__(self, environ, start_response):
        route = ROUTES.get(environ.get("PATH_INFO")) if self.enabled else None
        if route is not None and environ["REQUEST_METHOD"] == "GET" and self._plain(environ):
            started = time.perf_counter()
            try:
                body = route[1](environ.get("QUERY_STRING", ""))
            except Exception as error:  # noqa: BLE001  not ranked, Redis away, a bug: Django answers it
                environ[FRONT_FAILURE] = error
                body = None
            if body is not None:
                return self._answer(route[0], body, _is_secure(environ), started, start_response)
        return self.django_app(environ, start_response)

    def _answer(self, name: str, body, secure: bool, started: float, start_response):
        content = orjson.dumps(body)
        start_response("200 OK", [*self.headers[secure], ("Content-Length", str(len(content)))])
        if name not in self._timers:
            self._timers[name] = (metrics.REQUESTS.labels(name, "GET", "200"), metrics.LATENCY.labels(name))
        counter, latency = self._timers[name]
        counter.inc()
        latency.observe(time.perf_counter() - started)
        return [content]

    def _plain(self, environ) -> bool:
        """A request Django would hand to the view as it is: no body, an allowed host, JSON
        wanted, and no redirect to HTTPS due."""
        host = environ.get("HTTP_HOST")
        forwarded_host = settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ
        return (
            environ.get("CONTENT_LENGTH", "") in ("", "0")
            and not environ.get("SCRIPT_NAME")
            and host is not None
            and not forwarded_host
            and self._host_allowed(host)
            and accepts_plain_json(environ.get("HTTP_ACCEPT", ""))
            and (not settings.SECURE_SSL_REDIRECT or _is_secure(environ))
        )


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
