"""Faults injected for real (a Redis killed, emptied or frozen under load) against gunicorn,
on loopback, bounded in time. "Acked" means the client got a 2xx."""

import json
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import override_settings

from leaderboard import services
from leaderboard.models import Score

from .conftest import LiveServer, wait_until

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


def call(method: str, url: str, body: dict | None = None) -> tuple[int, float, dict]:
    """(status, seconds taken, JSON body) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"}, method=method)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, time.monotonic() - started, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, time.monotonic() - started, json.loads(error.read())


class Load:
    """Clients submitting a score for a new player each time (and reading) until stopped."""

    def __init__(self, base_url: str, clients: int = 4):
        self.base_url, self.stopped = base_url, threading.Event()
        self.writes: list[tuple[str, int, float]] = []
        self.reads: list[tuple[int, float]] = []
        self.pool = ThreadPoolExecutor(max_workers=clients)
        self.futures = [self.pool.submit(self._client, n) for n in range(clients)]

    def _client(self, n: int) -> None:
        sent = 0
        while not self.stopped.is_set():
            username = f"c{n}-{sent}"
            status, seconds, _ = call("POST", f"{self.base_url}/api/score/", {"username": username, "points": sent})
            self.writes.append((username, status, seconds))
            status, seconds, _ = call("GET", f"{self.base_url}/api/top-players/")
            self.reads.append((status, seconds))
            sent += 1
            time.sleep(0.02)

    def stop(self) -> None:
        self.stopped.set()
        for future in self.futures:
            future.result(timeout=60)
        self.pool.shutdown()

    def acked(self) -> list[str]:
        return [username for username, status, _ in self.writes if 200 <= status < 300]


def board_is_clean(redis_url: str) -> bool:
    with override_settings(REDIS_URL=redis_url):
        return all(services.check_board(board=board).clean for board in services.boards())


def assert_every_acked_score_is_in_sql_once(load: Load) -> None:
    stored = Counter(Score.objects.values_list("player__username", flat=True))
    assert load.acked()
    assert all(stored[username] == 1 for username in load.acked())


@pytest.fixture
def server(default_board, own_redis, tmp_path):
    live = LiveServer(redis_url=own_redis.url, log_path=tmp_path / "gunicorn.log", workers=4)
    yield live
    live.stop()


def test_redis_killed_under_load_and_back_10s_later_loses_nothing_and_converges(server, own_redis):
    load = Load(server.url)
    time.sleep(1)
    own_redis.kill()
    time.sleep(10)
    own_redis.start()
    time.sleep(2)
    load.stop()

    assert [status for _, status, _ in load.writes if status >= 500] == []
    assert_every_acked_score_is_in_sql_once(load)
    wait_until(lambda: board_is_clean(own_redis.url), timeout=60, interval=1)
    assert '"event": "recovery"' in server.stop()  # the restarted Redis was rebuilt, by the service


def test_redis_restarted_empty_is_rebuilt_by_the_service_and_never_denies_a_player(server, own_redis):
    for n in range(20):
        assert call("POST", f"{server.url}/api/score/", {"username": f"p{n}", "points": n})[0] == 201
    own_redis.kill()
    own_redis.start(empty=True)

    answers = []

    def p7_is_back() -> bool:
        answers.append(call("GET", f"{server.url}/api/my-rank/?username=p7"))
        return answers[-1][0] == 200

    wait_until(p7_is_back, timeout=30, interval=0.2)
    assert {status for status, _, _ in answers} <= {200, 503}
    assert answers[-1][2] == {"username": "p7", "rank": 13, "points": 7}
    assert board_is_clean(own_redis.url)
    assert '"event": "recovery"' in server.stop()


def test_a_frozen_redis_slows_nothing_past_its_timeout_and_everything_recovers(server, own_redis):
    load = Load(server.url)
    time.sleep(1)
    own_redis.signal(signal.SIGSTOP)
    frozen_from = len(load.writes)
    time.sleep(15)
    frozen = load.writes[frozen_from:], list(load.reads)
    own_redis.signal(signal.SIGCONT)
    time.sleep(2)
    load.stop()

    writes_while_frozen, _ = frozen
    assert writes_while_frozen
    assert all(status == 201 and seconds < 2 for _, status, seconds in writes_while_frozen)
    assert all(seconds < 2 for _, seconds in load.reads)
    assert {status for status, _ in load.reads} <= {200, 503}
    assert_every_acked_score_is_in_sql_once(load)
    wait_until(lambda: board_is_clean(own_redis.url), timeout=60, interval=1)
    assert call("GET", f"{server.url}/api/top-players/")[0] == 200
