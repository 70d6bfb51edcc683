"""GET /health/: 200 when the database and Redis both answer, 503 naming the one that failed, and
on a Redis Cluster its state and shards;
GET /metrics: Prometheus metrics, when METRICS_ENABLED."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import health
from . import schema


class HealthView(APIView):
    @extend_schema(responses={200: schema.HealthOutput, 503: schema.HealthOutput})
    def get(self, request):
        checks = {"database": health.database_status(), "redis": health.redis_status()}
        healthy = all(state == "ok" for state in checks.values())
        body = {"status": "ok" if healthy else "unavailable", **checks, "redis_cluster": health.redis_cluster()}
        return Response(body, status=200 if healthy else 503)


def metrics_view(request):
    if not settings.METRICS_ENABLED:
        return JsonResponse({"detail": "Not found."}, status=404)
    return HttpResponse(health.exposition(), content_type=CONTENT_TYPE_LATEST)
