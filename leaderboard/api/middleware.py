"""Request middleware: refuse oversized bodies before anything reads them; count and time requests."""

import time

from django.conf import settings
from django.http import JsonResponse

from .. import metrics
from .errors import error_body

KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not (declared.isascii() and declared.isdigit()):  # isdigit() passes "²", which int() refuses
            body = error_body(request, "invalid_request", "Content-Length must be a whole number.")
            return JsonResponse(body, status=400)
        limit = settings.REQUEST_BODY_MAX_BYTES
        if int(declared) > limit:
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
