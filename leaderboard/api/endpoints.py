"""Endpoint: the base of every API view. Its handlers parse their input, call one selector or
service, and return a Reply; respond() runs a handler with its rate limit and maps its errors.
Django's path (DRF's dispatch) and the fast path (fastpath.py) both answer through respond(), so
a call gets the same answer whichever way it came."""

from django.core.exceptions import ImproperlyConfigured
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import redis_store, services
from ..exceptions import RateLimited
from . import throttling
from .errors import Reply, reply_for
from .inputs import input_parser


class Endpoint(APIView):
    """An API resource; `v1` selects the error shapes, and whether the rate limits apply."""

    v1 = True
    # /v1/ calls with these methods count against the write limits; all others against the read limits.
    write_methods = frozenset({"POST", "PATCH"})
    # respond() counts the rate limits; DRF's throttles would count a call twice.
    throttle_classes: list = []
    # The largest request body the endpoint takes (middleware.body_limit); None: REQUEST_BODY_MAX_BYTES.
    body_max_bytes: int | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # The fast path runs no DRF checks: an endpoint may have none for it to skip.
        if cls.authentication_classes or cls.permission_classes or cls.throttle_classes:
            raise ImproperlyConfigured(f"{cls.__name__}: an Endpoint has no authentication, permissions or throttles")

    def dispatch(self, request, *args, **kwargs):
        """DRF's dispatch, with the handler run by respond()."""
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            self.initial(request, *args, **kwargs)
            handler = (
                getattr(self, request.method.lower(), None)
                if request.method.lower() in self.http_method_names
                else None
            )
            response = self._response(self.respond(request, handler or self.http_method_not_allowed, kwargs))
        except Exception as exc:  # noqa: BLE001  DRF's way: its handler answers, or re-raises a bug
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def respond(self, request, handler, kwargs: dict) -> Reply | Response:
        """The handler's reply, its errors mapped to answers, with the rate limit of the call
        counted in the handler's first Redis round trip or with its write (writes.charges), and
        its verdict deciding first: a write it refuses is not written."""
        charge = throttling.charge(request, writes=request.method in self.write_methods) if self.v1 else None
        if charge is None:
            return self._answer(request, handler, kwargs)
        with redis_store.riding(charge):
            reply = self._answer(request, handler, kwargs)
        verdict = throttling.verdict(charge)
        if verdict is not None and not verdict.allowed:
            reply = self._error(request, throttling.refusal(verdict))
        return throttling.with_headers(reply, verdict)

    def _answer(self, request, handler, kwargs: dict) -> Reply | Response | None:
        try:
            return handler(request, **kwargs)
        except RateLimited:
            return None  # refused with its write; the call's verdict answers it
        except Exception as exc:  # noqa: BLE001  mapped, or re-raised
            return self._error(request, exc)

    def _error(self, request, exc: Exception) -> Reply:
        reply = reply_for(exc, v1=self.v1, method=request.method, path=request.path)
        if reply is None:
            raise exc
        return reply

    @staticmethod
    def _response(reply: Reply | Response) -> Response:
        if isinstance(reply, Response):  # OPTIONS: DRF's metadata
            return reply
        return reply.as_response()

    def require_key(self, scope: str) -> services.Caller:
        return services.authenticate_api_key(key=self.request.headers.get("X-API-Key"), scope=scope)

    def parse(self, serializer_class, data) -> dict:
        """The serializer's validated input (ValidationError if invalid); a /v1/ query with a
        parameter the serializer does not know is invalid too."""
        refuse_unknown = self.v1 and data is self.request.query_params
        return input_parser(serializer_class, refuse_unknown=refuse_unknown).parse(data)
