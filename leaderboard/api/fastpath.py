"""The fast path: the API's calls answered by their endpoints straight from the WSGI environ,
without Django's request handling, which costs more than a read itself (about 100 µs a call
against a read's few tens).

- Routes are Django's own: the URL conf's resolver, its answer kept per path. A path that resolves
  to an Endpoint (api/endpoints.py) is served here; anything else is Django's.
- The endpoint answers through the same respond() as on Django's path, so the same handler, rate
  limits and error mapping (errors.py) give the same status and body.
- Only plain requests come this way: an allowed host, JSON wanted and no `format` asked for, no
  redirect to HTTPS due, an ASCII query, a JSON body within the limit when one is due and none
  otherwise. Any other request, down to a body that is not JSON, goes to Django untouched, which
  answers it exactly as the contract says.
- It stands in for the middleware it knows (COVERED below): their headers are asked of the
  middleware themselves at start. With any other middleware configured, or DEBUG, it stays out
  of the way, so a middleware added later is never skipped.
"""

import io
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from functools import lru_cache
from http import HTTPStatus
from typing import NamedTuple
from urllib.parse import parse_qsl

import orjson
from django.conf import settings
from django.core import signals
from django.core.cache import close_caches
from django.core.cache.backends.base import BaseCache
from django.core.handlers.wsgi import WSGIRequest
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.http import HttpResponse
from django.http.request import split_domain_port, validate_host
from django.urls import Resolver404, get_resolver
from django.utils.module_loading import import_string
from drf_orjson_renderer.renderers import ORJSONRenderer

from .. import metrics
from . import parsing
from .endpoints import Endpoint
from .errors import Reply, server_error
from .middleware import declared_length

logger = logging.getLogger("django.request")

# The middleware the fast path stands in for, and why it may: what each does to a plain request.
COVERED = {
    # Counts and times requests: the fast path counts its answers under the same labels.
    "leaderboard.api.middleware.MetricsMiddleware",
    # Refuses bodies over the limit or with a malformed length: such requests are not plain.
    "leaderboard.api.middleware.RequestBodyLimitMiddleware",
    # Redirects plain HTTP when SSL redirects are on (not plain) and adds headers (asked of it).
    "django.middleware.security.SecurityMiddleware",
    # Adds Content-Length; with PREPEND_WWW or DISALLOWED_USER_AGENTS, the fast path stays out.
    "django.middleware.common.CommonMiddleware",
    # Adds X-Frame-Options (asked of it).
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
}
FAST_METHODS = ("GET", "POST", "PATCH")
JSON_ACCEPTED = {"application/json", "application/*", "*/*"}


class Route(NamedTuple):
    name: str  # the URL pattern's name, as the metrics label it
    view_class: type[Endpoint]
    initkwargs: dict
    kwargs: dict
    methods: frozenset[str]  # the methods the fast path answers for this view
    allow: str  # DRF's Allow header for the view


@dataclass(frozen=True)
class Policy:
    """What the settings say of a plain request, read once."""

    body_limit: int
    max_fields: int | None
    ssl_redirect: bool
    proxy_ssl_header: tuple[str, str] | None
    use_forwarded_host: bool

    @classmethod
    def from_settings(cls) -> "Policy":
        # settings.py keeps DATA_UPLOAD_MAX_MEMORY_SIZE at REQUEST_BODY_MAX_BYTES.
        return cls(
            settings.REQUEST_BODY_MAX_BYTES, settings.DATA_UPLOAD_MAX_NUMBER_FIELDS, settings.SECURE_SSL_REDIRECT,
            settings.SECURE_PROXY_SSL_HEADER, settings.USE_X_FORWARDED_HOST,
        )  # fmt: skip

    def is_secure(self, environ) -> bool:
        """HttpRequest.is_secure(), on the environ."""
        if self.proxy_ssl_header:
            header, secure_value = self.proxy_ssl_header
            value = environ.get(header)
            if value is not None:
                return value.split(",", 1)[0].strip() == secure_value
        return environ.get("wsgi.url_scheme") == "https"

    def body_as_due(self, environ, method: str) -> bool:
        length = environ.get("CONTENT_LENGTH", "")
        if method == "GET":
            return length in ("", "0") and "HTTP_TRANSFER_ENCODING" not in environ
        declared = declared_length(length)
        return declared is not None and 0 < declared <= self.body_limit


class FastPath:
    """WSGI: a plain call of an Endpoint answered here, everything else passed to `django_app`."""

    def __init__(self, django_app):
        self.django_app = django_app
        self.enabled = fast_path_allowed()
        self.policy = Policy.from_settings()
        self.headers = {secure: middleware_headers(secure) for secure in (False, True)} if self.enabled else {}
        self._route = lru_cache(maxsize=1024)(_route)  # paths repeat; this bounds the cache
        self._host_allowed = lru_cache(maxsize=64)(_host_allowed)
        self.housekeeping = RequestHousekeeping()

    def __call__(self, environ, start_response):
        route = self._route(environ.get("PATH_INFO", "")) if self.enabled else None
        if route is not None:
            started = time.perf_counter()
            request = self._plain_request(route, environ)
            if request is not None:
                status, headers, content = self._answer(route, request)
                start_response(_status_line(status), headers)
                metrics.requests.record(route.name, request.method, status, time.perf_counter() - started)
                return [content]
        return self.django_app(environ, start_response)

    def _plain_request(self, route: Route, environ) -> "FastRequest | None":
        """The call as an endpoint reads it, if Django would hand it to the view as it is."""
        method = environ["REQUEST_METHOD"]
        if method not in route.methods:
            return None
        secure = self.policy.is_secure(environ)
        host = environ.get("HTTP_HOST")
        plain = (
            self.policy.body_as_due(environ, method)
            and not environ.get("SCRIPT_NAME")
            and host is not None
            and not (self.policy.use_forwarded_host and "HTTP_X_FORWARDED_HOST" in environ)
            and self._host_allowed(host)
            and _accepts_json(environ.get("HTTP_ACCEPT", ""))
            and (secure or not self.policy.ssl_redirect)
        )
        request = FastRequest.plain(environ, secure, self.policy.max_fields) if plain else None
        if request is None or (method != "GET" and not request.read_json()):
            return None
        return request

    def _answer(self, route: Route, request: "FastRequest") -> tuple[int, list, bytes]:
        if _database_threads.opened:
            self.housekeeping.started(request.META)
        try:
            reply = _respond(route, request)
        finally:
            if _database_threads.opened:
                self.housekeeping.finished()
        if isinstance(reply, HttpResponse):  # Django's 500, which DRF never saw: no Allow
            status, content, extra = reply.status_code, reply.content, []
        else:
            content = orjson.dumps(reply.body, default=ORJSONRenderer.default, option=ORJSONRenderer.options)
            status, extra = reply.status, [("Allow", route.allow), *(reply.headers or {}).items()]
        return status, [*self.headers[request.secure], ("Content-Length", str(len(content))), *extra], content


def _respond(route: Route, request: "FastRequest") -> Reply | HttpResponse:
    view = route.view_class(**route.initkwargs)
    view.request, view.args, view.kwargs = request, (), route.kwargs  # what View.setup() sets, but head
    try:
        return view.respond(request, getattr(view, request.method.lower()), route.kwargs)
    except Exception:  # noqa: BLE001  a bug: logged, and answered by Django's own handler500
        logger.exception("Internal Server Error: %s", request.path, extra={"status_code": 500})
        return server_error(request)


def _finished() -> None:
    # The call's answer stands whatever a receiver does (a score may be durable by now).
    for failed, outcome in signals.request_finished.send_robust(sender=FastPath):
        if isinstance(outcome, Exception):
            logger.error("request_finished receiver %r failed", failed, exc_info=outcome)


def _parsed(query: str, max_fields: int | None) -> list[tuple[str, str]]:
    """parse_qsl(query, keep_blank_values=True), read directly when nothing needs decoding."""
    if "%" in query or "+" in query:
        return parse_qsl(query, keep_blank_values=True, max_num_fields=max_fields)
    fields = [field for field in query.split("&") if field]
    if max_fields is not None and len(fields) > max_fields:
        raise ValueError("too many fields")
    return [(name, value) for name, _, value in (field.partition("=") for field in fields)]


class QueryParams(dict):
    """A query's parameters as Django's QueryDict gives them to a serializer: the last value of a
    repeated key, and every value through getlist()."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.lists: dict[str, list[str]] = {}
        for key, value in pairs:
            self.lists.setdefault(key, []).append(value)
        super().__init__((key, values[-1]) for key, values in self.lists.items())

    def getlist(self, key: str, default=None) -> list[str]:
        return list(self.lists.get(key, [] if default is None else default))


class FastRequest:
    """What an endpoint reads of a call, straight from the environ: on Django's path, DRF's
    Request gives the same."""

    def __init__(self, environ, secure: bool, query: QueryParams):
        self.META = environ
        self.method = environ["REQUEST_METHOD"]
        self.path = environ.get("PATH_INFO", "")
        self.secure = secure
        self.query_params = query
        self.data = None

    @property
    def headers(self) -> "EnvironHeaders":
        return EnvironHeaders(self.META)

    def get_host(self) -> str:
        return self.META["HTTP_HOST"]  # present and allowed, or the call went Django's way

    def is_secure(self) -> bool:
        return self.secure

    @classmethod
    def plain(cls, environ, secure: bool, max_fields: int | None) -> "FastRequest | None":
        """The request, unless its query is for Django to read: not ASCII (Django decodes its bytes
        again), too many fields, or a `format` for DRF's content negotiation."""
        query = environ.get("QUERY_STRING", "")
        if not query:
            return cls(environ, secure, QueryParams([]))
        if not query.isascii():
            return None
        try:
            params = QueryParams(_parsed(query, max_fields))
        except ValueError:
            return None
        return None if "format" in params else cls(environ, secure, params)

    def read_json(self) -> bool:
        """Read a JSON body into `data`; False, with the body put back for Django, if it is not plain JSON."""
        content = self.META["wsgi.input"].read(int(self.META["CONTENT_LENGTH"]))
        self.META["wsgi.input"] = io.BytesIO(content)
        if self.META.get("CONTENT_TYPE") != "application/json":
            return False
        try:
            self.data = parsing.loads(content)
        except ValueError:
            return False
        return True


class EnvironHeaders:
    """Request headers by name, case-insensitively, as Django's request.headers gives them."""

    def __init__(self, environ):
        self.environ = environ

    @staticmethod
    def _key(name: str) -> str:
        key = name.upper().replace("-", "_")
        return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"

    def get(self, name: str, default=None):
        return self.environ.get(self._key(name), default)

    def __contains__(self, name: str) -> bool:
        return self._key(name) in self.environ

    def __getitem__(self, name: str) -> str:
        return self.environ[self._key(name)]


class _DatabaseThreads(threading.local):
    """The database connections each thread has opened. Django's request signals recycle broken
    or aged connections; in a thread that never opened one they have nothing to do."""

    def __init__(self):
        self.opened: list = []


_database_threads = _DatabaseThreads()


@receiver(connection_created, dispatch_uid="speedrank-fast-path-database-threads")
def _mark_database_thread(*, connection, **kwargs) -> None:
    if not any(known is connection for known in _database_threads.opened):
        _database_threads.opened.append(connection)


# Django's receivers of the request signals: what the fast path does in their place, directly,
# since dispatching the two signals costs more than a read itself. With any other receiver
# connected, it sends the signals.
STANDS_IN_FOR = {
    "django.db.reset_queries": "reset_queries",
    "django.db.close_old_connections": "close_old_connections",
    "django.core.cache.close_caches": "close_caches",
    # Undoes the urlconf Django's handler sets for its request; the fast path sets none.
    "django.core.handlers.base.reset_urlconf": "reset_urlconf",
}


class RequestHousekeeping:
    """Around a call on the fast path, in a thread that has opened a database connection: what
    request_started and request_finished would do."""

    def __init__(self):
        self._plan: tuple[tuple[int, int], dict | None] | None = None

    def started(self, environ) -> None:
        plan = self._current()
        if plan is None:
            signals.request_started.send(sender=FastPath, environ=environ)
            return
        for connection in _database_threads.opened:
            if "reset_queries" in plan["started"]:
                connection.queries_log.clear()
            if "close_old_connections" in plan["started"]:
                connection.close_if_unusable_or_obsolete()

    def finished(self) -> None:
        plan = self._current()
        if plan is None:
            _finished()
            return
        done = plan["finished"]
        if "close_old_connections" in done:
            for connection in _database_threads.opened:
                connection.close_if_unusable_or_obsolete()
        if "close_caches" in done:
            close_caches()

    def _current(self) -> dict | None:
        """What to do in the signals' place; None if a receiver it does not know is connected.
        Worked out again whenever the receivers change."""
        key = (len(signals.request_started.receivers), len(signals.request_finished.receivers))
        if self._plan is None or self._plan[0] != key:
            self._plan = (key, _plan_for(signals.request_started, signals.request_finished))
        return self._plan[1]


def _plan_for(started, finished) -> dict | None:
    plan = {"started": _stood_in_for(started), "finished": _stood_in_for(finished)}
    if None in plan.values():
        return None
    if not _caches_hold_connections():
        plan["finished"].discard("close_caches")  # closing them does nothing
    return plan


def _caches_hold_connections() -> bool:
    """Whether a configured cache backend has connections to close (the local-memory one has none)."""
    backends = (import_string(cache["BACKEND"]) for cache in settings.CACHES.values())
    return any(backend.close is not BaseCache.close for backend in backends)


def _stood_in_for(signal) -> set[str] | None:
    names = set()
    for entry in signal.receivers:
        found = entry[1]() if isinstance(entry[1], weakref.ReferenceType) else entry[1]
        if found is None:
            continue
        name = STANDS_IN_FOR.get(f"{found.__module__}.{found.__qualname__}")
        if name is None:
            return None
        names.add(name)
    return names


def _route(path: str) -> Route | None:
    """What the URL conf routes this path to, if it is an Endpoint."""
    try:
        match = get_resolver().resolve(path)
    except Resolver404:
        return None
    view_class = getattr(match.func, "view_class", None)
    if view_class is None or not issubclass(view_class, Endpoint) or match.args:
        return None
    initkwargs = match.func.view_initkwargs
    view = view_class(**initkwargs)
    view.setup(None, **match.kwargs)
    methods = frozenset(method for method in FAST_METHODS if hasattr(view_class, method.lower()))
    return Route(match.url_name, view_class, initkwargs, match.kwargs, methods, ", ".join(view.allowed_methods))


def fast_path_allowed() -> bool:
    # Debug pages, user-agent bans, www redirects and script prefixes are Django's alone.
    return (
        set(settings.MIDDLEWARE) <= COVERED
        and not settings.DEBUG
        and not settings.DISALLOWED_USER_AGENTS
        and not settings.PREPEND_WWW
        and settings.FORCE_SCRIPT_NAME is None
    )


def middleware_headers(secure: bool) -> list[tuple[str, str]]:
    """The headers the configured middleware give a JSON answer, asked of the middleware."""
    request = WSGIRequest({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.input": io.BytesIO()})
    request.is_secure = lambda: secure
    response = HttpResponse(b"", content_type="application/json")
    for path in reversed(settings.MIDDLEWARE):  # the order Django runs their response phase in
        middleware = import_string(path)
        if hasattr(middleware, "process_response"):
            middleware(lambda _request: response).process_response(request, response)
    return [(name, value) for name, value in response.items() if name != "Content-Length"]


@lru_cache(maxsize=64)
def _accepts_json(accept: str) -> bool:
    """An Accept header DRF's negotiation answers with JSON (or none)."""
    return not accept or any(kind.split(";", 1)[0].strip() in JSON_ACCEPTED for kind in accept.split(","))


@lru_cache(maxsize=64)
def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def _host_allowed(host: str) -> bool:
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)
