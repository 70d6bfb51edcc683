"""LeanView: an APIView whose GET and plainly valid POST skip DRF's request wrapping, parsing,
content negotiation and rendering, for the calls games make most. It is documented in the
schema like any other view; its errors still take DRF's path, so they keep the contract's bodies."""

import orjson
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from rest_framework.views import APIView

# The environ key under which api/front.py hands on the error of a call it tried for this view.
FRONT_FAILURE = "speedrank.front_failure"


def json_response(body, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")


class LeanView(APIView):
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # The lean handlers skip DRF's initial(): nothing may be there to skip.
        if cls.authentication_classes or cls.permission_classes or cls.throttle_classes:
            raise ImproperlyConfigured(f"{cls.__name__}: a LeanView has no authentication, permissions or throttles")

    def dispatch(self, request, *args, **kwargs):
        failure = request.META.pop(FRONT_FAILURE, None)
        if failure is not None:  # the front tried this call and it failed: answer that, not call again
            return self._answer_error(request, failure, args, kwargs)
        lean = getattr(self, f"lean_{request.method.lower()}", None) if _wants_plain_json(request) else None
        try:
            response = lean(request, *args, **kwargs) if lean else None
        except Exception as exc:  # noqa: BLE001  answered as DRF answers it, by the one handler
            return self._answer_error(request, exc, args, kwargs)
        # No lean handler (HEAD, OPTIONS, 405s), or it declined the request: DRF's way.
        return response if response is not None else super().dispatch(request, *args, **kwargs)

    def _answer_error(self, request, exc: Exception, args, kwargs):
        self.args, self.kwargs, self.format_kwarg = args, kwargs, None
        self.request = self.initialize_request(request, *args, **kwargs)
        self.headers = self.default_response_headers
        negotiated = self.perform_content_negotiation(self.request, force=True)
        self.request.accepted_renderer, self.request.accepted_media_type = negotiated
        response = self.handle_exception(exc)
        self.response = self.finalize_response(self.request, response, *args, **kwargs)
        return self.response


def _wants_plain_json(request) -> bool:
    """No format asked for but JSON: anything else is DRF's content negotiation to answer (406, 404)."""
    return accepts_plain_json(request.META.get("HTTP_ACCEPT", "")) and "format" not in request.GET


def accepts_plain_json(accept: str) -> bool:
    """An Accept header that JSON satisfies (or none)."""
    return not accept or any(kind in accept for kind in ("application/json", "*/*", "application/*"))


def plain_json_object(request) -> dict | None:
    """The body of a JSON request if it is a JSON object, else None (DRF's parsers say what is wrong)."""
    return json_object(request.body) if request.content_type == "application/json" else None


def json_object(content: bytes) -> dict | None:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None
