"""The one place where errors become HTTP answers: the seed API's shapes, and /v1/'s
{"error": "<code>", "detail": ...}."""

import logging

from django.conf import settings
from django.db import OperationalError
from django.http import JsonResponse
from rest_framework import exceptions as drf
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from .. import exceptions as domain
from .. import services

logger = logging.getLogger(__name__)

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
    domain.RebuildInProgress: (409, "rebuild_in_progress"),
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


def handle_exception(exc, context):
    v1 = getattr(context.get("view"), "v1", False)
    if unavailable := _unavailable(exc, v1):
        return unavailable
    return _v1(exc, context) if v1 else _legacy(exc, context)


def _legacy(exc, context):
    if isinstance(exc, domain.PlayerNotRanked):
        return Response({"message": "Player not found in leaderboard."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, domain.PointsOutOfRange):
        return Response({"points": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, domain.LeaderboardError) and type(exc) in DOMAIN_ERRORS:
        return Response({"detail": str(exc)}, status=DOMAIN_ERRORS[type(exc)][0])
    return exception_handler(exc, context)


# Refusals an operator audits: logged as events, one JSON line each.
LOGGED_STATUSES = {409, 422, 429}


def _v1(exc, context):
    if type(exc) in DOMAIN_ERRORS:
        code_status, code = DOMAIN_ERRORS[type(exc)]
        return _logged(context, Response({"error": code, "detail": _domain_detail(exc)}, status=code_status))
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = next((code for kind, code in FRAMEWORK_CODES.items() if isinstance(exc, kind)), "error")
    detail = response.data.get("detail", response.data) if isinstance(response.data, dict) else response.data
    response.data = {"error": code, "detail": detail}
    return _logged(context, response)


def _logged(context, response: Response) -> Response:
    if response.status_code in LOGGED_STATUSES:
        request = context["request"]
        fields = {"event": "request_refused", "status": response.status_code, "error": response.data["error"]}
        logger.warning("%s %s refused: %s", request.method, request.path, response.data["error"], extra=fields)
    return response


def _domain_detail(exc):
    if isinstance(exc, domain.InvalidGame):
        return exc.problems
    if isinstance(exc, domain.PointsOutOfRange):
        return {"score": [str(exc)]}
    return str(exc)


def _unavailable(exc, v1: bool):
    if isinstance(exc, domain.BoardNotBuilt):
        services.schedule_catch_up()  # its round rebuilds the boards Redis lost
    if isinstance(exc, domain.BoardUnavailable):
        logger.warning("leaderboard unavailable: %s", exc, extra={"event": "redis_unavailable"})
        return _retry_later("Leaderboard temporarily unavailable; retry shortly.", v1)
    if isinstance(exc, domain.WriteUnconfirmed):
        logger.warning("score not confirmed: %s", exc, extra={"event": "write_unconfirmed"})
        return _retry_later("Score not confirmed by the database writer; retry shortly.", v1)
    if isinstance(exc, OperationalError) and "locked" in str(exc):
        logger.warning("database busy past the wait budget: %s", exc, extra={"event": "database_busy"})
        return _retry_later("Database busy; retry shortly.", v1)
    return None


def _retry_later(detail: str, v1: bool) -> Response:
    headers = {"Retry-After": str(settings.RETRY_AFTER_SECONDS)}
    body = {"error": "service_unavailable", "detail": detail} if v1 else {"detail": detail}
    return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers=headers)


def is_v1(request) -> bool:
    return request.path.startswith("/v1/")


def error_body(request, code: str, detail: str) -> dict:
    return {"error": code, "detail": detail} if is_v1(request) else {"detail": detail}


def not_found(request, exception=None):
    return JsonResponse(error_body(request, "not_found", "Not found."), status=404)


def server_error(request):
    return JsonResponse(error_body(request, "server_error", "Internal server error."), status=500)
