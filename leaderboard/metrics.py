"""Prometheus metrics: request counts and latency by endpoint, Redis errors, who wrote the seed
submissions (the write server, or a worker while there is none), and at scrape time
the catch-up backlog and the board sizes. Shared across the server's workers through
PROMETHEUS_MULTIPROC_DIR when it is set (speedrank/serve.py sets it)."""

import os
from contextlib import suppress

from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .exceptions import BoardUnavailable

REQUESTS = Counter("speedrank_requests_total", "HTTP requests answered", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "speedrank_request_seconds", "Time to answer a request", ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)  # fmt: skip
REDIS_ERRORS = Counter("speedrank_redis_errors_total", "Redis calls that failed or timed out")
SCORE_WRITES = Counter(
    "speedrank_score_writes_total",
    "Seed submissions written, by who wrote them: the write server or a worker",
    ["writer"],
)


class _StateCollector:
    """Values read when Prometheus scrapes: the catch-up backlog and each board's size."""

    def collect(self):
        from . import redis_store
        from .models import Board, PendingMirror

        pending = PendingMirror.objects.order_by("created_at").values_list("created_at", flat=True)
        oldest = pending.first()
        yield GaugeMetricFamily("speedrank_pending_mirrors", "Committed scores waiting for their Redis mirror",
                                value=pending.count())  # fmt: skip
        lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily("speedrank_catch_up_lag_seconds", "Age of the oldest waiting mirror", value=lag)
        sizes = GaugeMetricFamily("speedrank_board_players", "Entries on each board in Redis", labels=["board"])
        with suppress(BoardUnavailable):  # with Redis away, the sizes are simply not reported
            for slug in Board.objects.values_list("slug", flat=True):
                sizes.add_metric([slug], redis_store.total_members(slug))
        yield sizes


def exposition() -> bytes:
    """The text Prometheus scrapes."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        for metric in (REQUESTS, LATENCY, REDIS_ERRORS, SCORE_WRITES):
            registry.register(metric)
    registry.register(_StateCollector())
    return generate_latest(registry)
