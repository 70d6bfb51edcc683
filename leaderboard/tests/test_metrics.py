"""GET /metrics: Prometheus metrics behind a setting, shared across server workers."""

import re
import urllib.request

import pytest
from django.test import override_settings
from prometheus_client import CollectorRegistry, generate_latest

from leaderboard.metrics import BatchedHistogram, RequestTally

from .conftest import LiveServer, free_port, single_redis, wait_until


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus's text format (0 if absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = rf"^{re.escape(name)}{{{re.escape(wanted)}}} (\S+)$" if labels else rf"^{re.escape(name)} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.mark.django_db
def test_metrics_are_not_served_unless_enabled(api):
    response = api.get("/metrics")

    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


@pytest.mark.django_db
@override_settings(METRICS_ENABLED=True)
def test_metrics_count_requests_redis_errors_the_backlog_and_board_sizes(api, submit):
    before = api.get("/metrics").content.decode()
    submit("amy", 5)
    api.get("/api/top-players/")
    with single_redis(f"redis://127.0.0.1:{free_port()}/0"):
        api.get("/api/top-players/")

    text = api.get("/metrics").content.decode()

    def grew(name, **labels):
        return sample(text, name, **labels) - sample(before, name, **labels)

    assert grew("speedrank_requests_total", endpoint="top-players", method="GET", status="200") == 1
    assert grew("speedrank_requests_total", endpoint="top-players", method="GET", status="503") == 1
    assert grew("speedrank_requests_total", endpoint="submit-score", method="POST", status="201") == 1
    assert grew("speedrank_redis_errors_total") >= 1
    assert sample(text, "speedrank_pending_mirrors") == 0
    assert sample(text, "speedrank_board_players", board="default") == 1
    assert "speedrank_request_seconds_bucket" in text


@pytest.mark.server
@pytest.mark.django_db(transaction=True)
def test_metrics_add_up_across_server_workers(default_board, redis_url, tmp_path):
    server = LiveServer(redis_url=redis_url, log_path=tmp_path / "server.log", workers=3, METRICS_ENABLED="1")
    try:
        for _ in range(30):
            urllib.request.urlopen(f"{server.url}/api/top-players/", timeout=5).read()

        def scraped() -> str:
            return urllib.request.urlopen(f"{server.url}/metrics", timeout=5).read().decode()

        def counted(text: str) -> float:
            return sample(text, "speedrank_requests_total", endpoint="top-players", method="GET", status="200")

        # Each worker adds its tally every half second: all 30 are counted within a few seconds.
        text = wait_until(lambda: (found := scraped()) and counted(found) >= 30 and found, timeout=10)
    finally:
        server.stop()

    assert counted(text) == 30
    assert sample(text, "speedrank_request_seconds_count", endpoint="top-players") == 30


def test_many_observations_at_once_count_as_one_at_a_time():
    amounts = [0.0005, 0.001, 0.0011, 0.003, 0.003, 0.02, 0.7, 4.0]
    exported = {}
    for way in ("one_at_a_time", "at_once"):
        registry = CollectorRegistry()
        histogram = BatchedHistogram(
            f"t_{way}", "t", ["endpoint"], buckets=(0.001, 0.0025, 0.005, 0.1, 1), registry=registry
        )
        if way == "at_once":
            histogram.labels("top").observe_many(amounts)
        else:
            for amount in amounts:
                histogram.labels("top").observe(amount)
        text = generate_latest(registry).decode().replace(f"t_{way}", "t")
        exported[way] = [line for line in text.splitlines() if not line.startswith(("#", "t_created"))]

    assert exported["at_once"] == exported["one_at_a_time"]
    assert 't_bucket{endpoint="top",le="0.001"} 2.0' in exported["at_once"]  # a bound holds what equals it
    assert 't_bucket{endpoint="top",le="+Inf"} 8.0' in exported["at_once"]


def test_a_tally_counts_each_request_once_when_flushed_and_holds_at_most_its_limit():
    def counted() -> float:
        return sample(
            generate_latest().decode(), "speedrank_requests_total", endpoint="tally", method="GET", status="200"
        )

    tally = RequestTally(most=5)
    before = counted()
    for _ in range(4):
        tally.record("tally", "GET", 200, 0.002)
    waiting = counted() - before
    tally.record("tally", "GET", 200, 0.002)  # the fifth: the limit, flushed at once
    at_limit = counted() - before
    tally.record("tally", "GET", 200, 0.002)
    tally.flush()
    tally.flush()  # nothing left to add twice

    assert (waiting, at_limit, counted() - before) == (0, 5, 6)
