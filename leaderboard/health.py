"""Health of the two backing services, for /health/ and operators, and the metrics Prometheus
scrapes: the counted ones (metrics.py) and, read at scrape time, the catch-up backlog and board sizes."""

import os
from contextlib import suppress

from django.db import DatabaseError, connection
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from . import metrics, redis_store
from .exceptions import BoardUnavailable, JobsUnavailable
from .jobs import job_queue
from .models import Board, PendingMirror
from .writes import shards


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return f"error: {error}"
    return "ok"


def redis_status() -> str:
    try:
        redis_store.ping()
        state = redis_store.cluster_state()
    except BoardUnavailable as error:
        return f"error: {error}"
    return "ok" if state in (None, "ok") else f"error: the cluster's state is {state}"


def redis_cluster() -> dict | None:
    """On a Redis Cluster, its state and each shard's master (by the slots it serves) and replicas."""
    try:
        state = redis_store.cluster_state()
        if state is None:
            return None
        masters = redis_store.masters()
    except BoardUnavailable as error:
        return {"state": f"error: {error}", "shards": []}
    return {
        "state": state,
        "shards": [
            {"slots": master.slots, "master": master.address, "replicas": list(master.replicas)} for master in masters
        ],
    }


class _StateCollector:
    """Values read when Prometheus scrapes: the catch-up backlog and each board's size."""

    def collect(self):
        pending = PendingMirror.objects.order_by("created_at").values_list("created_at", flat=True)
        oldest = pending.first()
        yield GaugeMetricFamily("speedrank_pending_mirrors", "Committed scores waiting for their Redis mirror",
                                value=pending.count())  # fmt: skip
        lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily("speedrank_catch_up_lag_seconds", "Age of the oldest waiting mirror", value=lag)
        sizes = GaugeMetricFamily("speedrank_board_players", "Entries on each board in Redis", labels=["board"])
        # A game with regions reports each region's shard; its own board holds no entries.
        names = [
            shard.name
            for board in Board.objects.order_by("slug")
            for shard in shards(board)
            if shard.region is not None
        ]
        with suppress(BoardUnavailable):  # with Redis away, the sizes are simply not reported
            for name, size in zip(names, redis_store.board_sizes(names), strict=True):
                sizes.add_metric([name], size)
        yield sizes
        jobs = GaugeMetricFamily("speedrank_jobs", "Jobs in the job queue by state", labels=["state"])
        with suppress(JobsUnavailable):  # with the queue away, not reported
            for state, count in job_queue.counts().items():
                jobs.add_metric([state], count)
        yield jobs


def exposition() -> bytes:
    """The text Prometheus scrapes."""
    metrics.requests.flush()  # this process's requests; the others' flush within their interval
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        for metric in (metrics.REQUESTS, metrics.LATENCY, metrics.REDIS_ERRORS, metrics.WRITES, metrics.MATCH_ACTIONS):
            registry.register(metric)
    registry.register(_StateCollector())
    return generate_latest(registry)
