"""The one place where errors become HTTP answers, for Django's path and the fast path alike: the
seed API's shapes, and /v1/'s {"error": "<code>", "detail": ...}."""

import logging
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from .. import exceptions as domain

logger = logging.getLogger(__name__)


class Reply(NamedTuple):
    """An answer before rendering: its status, JSON body and extra headers."""

    status: int
    body: object
    headers: dict[str, str] | None = None

    def as_response(self) -> Response:
        """The answer as DRF renders it, on Django's path."""
        return Response(self.body, status=self.status, headers=self.headers)


# Domain errors: (status, v1 error code).
DOMAIN_ERRORS = {
    domain.PlayerNotRanked: (404, "player_not_ranked"),
    domain.PlayerNotFound: (404, "player_not_found"),
    domain.BoardNotFound: (404, "game_not_found"),
    domain.PointsOutOfRange: (400, "invalid_request"),
    domain.TotalOutOfRange: (422, "total_out_of_range"),
    domain.ScoreExceedsSessionMaximum: (422, "score_exceeds_session_maximum"),
    domain.SessionAlreadyScored: (409, "session_already_scored"),
    domain.InvalidToken: (401, "invalid_token"),
    domain.TokenMismatch: (403, "token_mismatch"),
    domain.InvalidApiKey: (401, "invalid_api_key"),
    domain.ApiKeyScopeDenied: (403, "forbidden"),
    domain.IdempotencyKeyReused: (422, "idempotency_key_reused"),
    domain.GameAlreadyExists: (409, "game_exists"),
    domain.InvalidGame: (400, "invalid_request"),
    domain.InvalidRegion: (400, "invalid_request"),
    domain.GlobalViewTooDeep: (400, "invalid_request"),
    domain.RegionMismatch: (409, "region_mismatch"),
    domain.RebuildInProgress: (409, "rebuild_in_progress"),
    domain.MatchNotFound: (404, "match_not_found"),
    domain.InvalidMatch: (400, "invalid_request"),
    domain.JobNotFound: (404, "job_not_found"),
    domain.ExportNotFound: (404, "export_not_found"),
    domain.PeriodNotFound: (404, "period_not_found"),
    domain.UnsupportedImage: (415, "unsupported_media_type"),
    domain.ImageTooLarge: (413, "request_too_large"),
}
# Framework errors in /v1/: the v1 error code of each.
FRAMEWORK_CODES = {
    drf.ValidationError: "invalid_request",
    drf.ParseError: "invalid_request",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotFound: "not_found",
    drf.Throttled: "rate_limited",
}
# Refusals an operator audits: logged as events, one JSON line each.
LOGGED_STATUSES = {409, 422, 429}


def reply_for(exc: Exception, *, v1: bool, method: str, path: str) -> Reply | None:
    """The answer to an error, or None for one no rule covers (a bug: a logged 500)."""
    reply = _unavailable(exc, v1) or (_v1(exc) if v1 else _seed(exc))
    if v1 and reply is not None and reply.status in LOGGED_STATUSES:
        fields = {"event": "request_refused", "status": reply.status, "error": reply.body["error"]}
        logger.warning("%s %s refused: %s", method, path, reply.body["error"], extra=fields)
    return reply


def _seed(exc: Exception) -> Reply | None:
    if isinstance(exc, domain.PlayerNotRanked):
        return Reply(404, {"message": "Player not found in leaderboard."})
    if isinstance(exc, domain.PointsOutOfRange):
        return Reply(400, {"points": [str(exc)]})
    if type(exc) in DOMAIN_ERRORS:
        return Reply(DOMAIN_ERRORS[type(exc)][0], {"detail": str(exc)})
    return _framework(exc)


def _v1(exc: Exception) -> Reply | None:
    if type(exc) in DOMAIN_ERRORS:
        status, code = DOMAIN_ERRORS[type(exc)]
        return Reply(status, {"error": code, "detail": _domain_detail(exc)})
    reply = _framework(exc)
    if reply is None:
        return None
    code = next((code for kind, code in FRAMEWORK_CODES.items() if isinstance(exc, kind)), "error")
    detail = reply.body.get("detail", reply.body) if isinstance(reply.body, dict) else reply.body
    return reply._replace(body={"error": code, "detail": detail})


def _framework(exc: Exception) -> Reply | None:
    """DRF's own answer to its errors (rest_framework.views.exception_handler)."""
    if isinstance(exc, Http404):
        exc = drf.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied(*exc.args)
    if not isinstance(exc, drf.APIException):
        return None
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    body = exc.detail if isinstance(exc.detail, list | dict) else {"detail": exc.detail}
    return Reply(exc.status_code, body, headers)


def _domain_detail(exc: Exception):
    if isinstance(exc, domain.InvalidGame):
        return exc.problems
    if isinstance(exc, domain.PointsOutOfRange):
        return {"score": [str(exc)]}
    if isinstance(exc, domain.InvalidRegion):
        return {"region": [str(exc)]}
    if isinstance(exc, domain.GlobalViewTooDeep):
        return {"offset": [str(exc)]}
    return str(exc)


def _unavailable(exc: Exception, v1: bool) -> Reply | None:
    if isinstance(exc, domain.BoardUnavailable):
        logger.warning("leaderboard unavailable: %s", exc, extra={"event": "redis_unavailable"})
        return _retry_later("Leaderboard temporarily unavailable; retry shortly.", v1)
    if isinstance(exc, domain.JobsUnavailable):
        logger.warning("job queue unavailable: %s", exc, extra={"event": "jobs_unavailable"})
        return _retry_later(f"Job queue temporarily unavailable; retry shortly. {exc}", v1)
    if isinstance(exc, domain.WriteUnconfirmed):
        logger.warning("score not confirmed: %s", exc, extra={"event": "write_unconfirmed"})
        return _retry_later("Score not confirmed by the database writer; retry shortly.", v1)
    if isinstance(exc, OperationalError) and "locked" in str(exc):
        logger.warning("database busy past the wait budget: %s", exc, extra={"event": "database_busy"})
        return _retry_later("Database busy; retry shortly.", v1)
    return None


def _retry_later(detail: str, v1: bool) -> Reply:
    headers = {"Retry-After": str(settings.RETRY_AFTER_SECONDS)}
    return Reply(503, {"error": "service_unavailable", "detail": detail} if v1 else {"detail": detail}, headers)


def is_v1(path: str) -> bool:
    return path.startswith("/v1/")


def error_body(path: str, code: str, detail: str) -> dict:
    return {"error": code, "detail": detail} if is_v1(path) else {"detail": detail}


def server_error_body(path: str) -> dict:
    return error_body(path, "server_error", "Internal server error.")


def not_found(request, exception=None):
    return JsonResponse(error_body(request.path, "not_found", "Not found."), status=404)


def server_error(request):
    return JsonResponse(server_error_body(request.path), status=500)


def handle_exception(exc, context):
    """DRF's exception handler (settings.REST_FRAMEWORK), for errors raised before an endpoint's
    own answer: content negotiation, an unknown method."""
    view, request = context.get("view"), context["request"]
    reply = reply_for(exc, v1=getattr(view, "v1", False), method=request.method, path=request.path)
    return None if reply is None else reply.as_response()
