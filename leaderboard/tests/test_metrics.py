"""GET /metrics: Prometheus metrics behind a setting, shared across server workers."""

import re
import urllib.request

import pytest
from django.test import override_settings

from .conftest import LiveServer, free_port


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
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
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
        text = urllib.request.urlopen(f"{server.url}/metrics", timeout=5).read().decode()
    finally:
        server.stop()

    assert sample(text, "speedrank_requests_total", endpoint="top-players", method="GET", status="200") == 30
