"""Refuses oversized request bodies before anything reads them."""

from django.conf import settings
from django.http import JsonResponse

from .errors import error_body


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit():
            body = error_body(request, "invalid_request", "Content-Length must be a whole number.")
            return JsonResponse(body, status=400)
        limit = settings.REQUEST_BODY_MAX_BYTES
        if int(declared) > limit:
            body = error_body(request, "request_too_large", f"Request body is larger than {limit} bytes.")
            return JsonResponse(body, status=413)
        return self.get_response(request)
