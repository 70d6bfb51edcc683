"""Request middleware: refuse oversized bodies before anything reads them; count and time requests."""

import time

from django.conf import settings
from django.http import JsonResponse

from .. import metrics
from .errors import error_body

KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# Longer Content-Length values are refused: Django's int() fails on 4,301 digits or more.
LENGTH_DIGITS_MAX = 18


def declared_length(value: str) -> int | None:
    """A Content-Length as a number, or None unless it is 1 to 18 ASCII digits (isdigit() alone
    passes "²", which int() refuses)."""
    plain = value.isascii() and value.isdigit() and len(value) <= LENGTH_DIGITS_MAX
    return int(value) if plain else None


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = declared_length(request.META.get("CONTENT_LENGTH") or "0")
        if declared is None:
            body = error_body(
                request,
                "invalid_request",
                f"Content-Length must be a whole number of at most {LENGTH_DIGITS_MAX} digits.",
            )
            return JsonResponse(body, status=400)
        limit = settings.REQUEST_BODY_MAX_BYTES
        if declared > limit:
            body = error_body(request, "request_too_large", f"Request body is larger than {limit} bytes.")
            return JsonResponse(body, status=413)
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
        method = request.method if request.method in KNOWN_METHODS else "OTHER"
        metrics.REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
        metrics.LATENCY.labels(endpoint).observe(time.perf_counter() - started)
        return response
