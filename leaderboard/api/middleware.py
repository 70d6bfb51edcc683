"""Refuses oversized request bodies before anything reads them."""

from django.conf import settings
from django.http import JsonResponse


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit():
            return JsonResponse({"detail": "Content-Length must be a whole number."}, status=400)
        limit = settings.REQUEST_BODY_MAX_BYTES
        if int(declared) > limit:
            return JsonResponse({"detail": f"Request body is larger than {limit} bytes."}, status=413)
        return self.get_response(request)
