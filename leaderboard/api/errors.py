"""The one place where domain errors become HTTP answers."""

import logging

from django.conf import settings
from django.db import OperationalError
from django.http import JsonResponse
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from ..exceptions import BoardNotFound, BoardUnavailable, PlayerNotRanked, PointsOutOfRange

logger = logging.getLogger(__name__)


def handle_exception(exc, context):
    if isinstance(exc, PlayerNotRanked):
        return Response({"message": "Player not found in leaderboard."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, BoardNotFound):
        return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PointsOutOfRange):
        return Response({"points": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, BoardUnavailable):
        logger.warning("leaderboard unavailable: %s", exc)
        return _retry_later("Leaderboard temporarily unavailable; retry shortly.")
    if isinstance(exc, OperationalError) and "locked" in str(exc):
        logger.warning("database busy past the wait budget: %s", exc)
        return _retry_later("Database busy; retry shortly.")
    return exception_handler(exc, context)


def _retry_later(detail: str) -> Response:
    headers = {"Retry-After": str(settings.RETRY_AFTER_SECONDS)}
    return Response({"detail": detail}, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers=headers)


def not_found(request, exception=None):
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request):
    return JsonResponse({"detail": "Internal server error."}, status=500)
