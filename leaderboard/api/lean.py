"""LeanView: an APIView whose GET skips DRF's request wrapping, content negotiation and
rendering, for the reads game frontends call most. It is documented in the schema like any
other view; its errors still take DRF's path, so they keep the contract's bodies."""

import orjson
from django.http import HttpResponse
from rest_framework.views import APIView


def json_response(body) -> HttpResponse:
    return HttpResponse(orjson.dumps(body), content_type="application/json")


class LeanView(APIView):
    def dispatch(self, request, *args, **kwargs):
        if request.method != "GET":
            return super().dispatch(request, *args, **kwargs)  # HEAD, OPTIONS, 405s: DRF's way
        try:
            return self.lean_get(request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001  answered as DRF answers it, by the one handler
            return self._answer_error(request, exc, args, kwargs)

    def lean_get(self, request, *args, **kwargs) -> HttpResponse:
        """The GET, on Django's own request, answering with json_response()."""
        raise NotImplementedError

    def _answer_error(self, request, exc: Exception, args, kwargs):
        self.args, self.kwargs, self.format_kwarg = args, kwargs, None
        self.request = self.initialize_request(request, *args, **kwargs)
        self.headers = self.default_response_headers
        response = self.handle_exception(exc)
        self.response = self.finalize_response(self.request, response, *args, **kwargs)
        return self.response
