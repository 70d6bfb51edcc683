"""Request middleware: read chunked bodies, refuse oversized or unreadable bodies before anything
reads them, and count and time requests."""

import io
import time

from django.conf import settings
from django.core.handlers.wsgi import get_path_info
from django.http import JsonResponse
from django.urls import Resolver404, get_resolver

from .. import metrics
from .errors import error_body

# Longer Content-Length values are refused: Django's int() fails on 4,301 digits or more.
LENGTH_DIGITS_MAX = 18


def declared_length(value: str) -> int | None:
    """A Content-Length as a number, or None unless it is 1 to 18 ASCII digits (isdigit() alone
    passes "²", which int() refuses)."""
    plain = value.isascii() and value.isdigit() and len(value) <= LENGTH_DIGITS_MAX
    return int(value) if plain else None


def body_limit(path: str) -> int:
    """The largest body the route of this path takes: REQUEST_BODY_MAX_BYTES, unless its view
    says otherwise (an Endpoint's body_max_bytes: the avatar upload's image)."""
    try:
        view = get_resolver().resolve(path).func
    except Resolver404:
        return settings.REQUEST_BODY_MAX_BYTES
    return getattr(getattr(view, "view_class", None), "body_max_bytes", None) or settings.REQUEST_BODY_MAX_BYTES


def _chunked(environ) -> bool:
    codings = environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return codings.rsplit(",", 1)[-1].strip() == "chunked"


class ChunkedBodies:
    """WSGI: a body sent chunked, without a Content-Length, read into memory up to one byte past its
    route's limit and handed on with its length, so that every reader (and the limit) sees it like
    any other."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if not environ.get("CONTENT_LENGTH") and _chunked(environ):
            content = environ["wsgi.input"].read(body_limit(get_path_info(environ)) + 1)
            environ["wsgi.input"] = io.BytesIO(content)
            environ["CONTENT_LENGTH"] = str(len(content))
            del environ["HTTP_TRANSFER_ENCODING"]
        return self.app(environ, start_response)


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.META.get("CONTENT_LENGTH") and "HTTP_TRANSFER_ENCODING" in request.META:
            detail = "A request body needs a Content-Length or Transfer-Encoding: chunked."
            return JsonResponse(error_body(request.path, "length_required", detail), status=411)
        declared = declared_length(request.META.get("CONTENT_LENGTH") or "0")
        if declared is None:
            detail = f"Content-Length must be a whole number of at most {LENGTH_DIGITS_MAX} digits."
            return JsonResponse(error_body(request.path, "invalid_request", detail), status=400)
        # Only a body over the usual limit has its route looked up.
        limit = settings.REQUEST_BODY_MAX_BYTES
        if declared > limit:
            limit = body_limit(request.path_info)
        if declared > limit:
            detail = f"Request body is larger than {limit} bytes."
            return JsonResponse(error_body(request.path, "request_too_large", detail), status=413)
        return self.get_response(request)


class MetricsMiddleware:
    """Counts and times every request by endpoint (the route's name, so the labels stay few)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        endpoint = match.url_name if match and match.url_name else "unmatched"
        metrics.requests.record(endpoint, request.method, response.status_code, time.perf_counter() - started)
        return response
