"""Faults injected for real (a Redis killed, emptied or frozen under load) against the server,
on loopback, bounded in time. "Acked" means the client got a 2xx."""

import http.client
import json
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from leaderboard import services
from leaderboard.models import Score

from .conftest import LiveServer, single_redis, wait_until

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
    with single_redis(redis_url):
        return all(services.check_board(board=board).clean for board in services.boards())


def assert_every_acked_score_is_in_sql_once(load: Load) -> None:
    stored = Counter(Score.objects.values_list("player__username", flat=True))
    assert load.acked()
    assert all(stored[username] == 1 for username in load.acked())


@pytest.fixture
def server(default_board, own_redis, tmp_path):
    live = LiveServer(redis_url=own_redis.url, log_path=tmp_path / "server.log", workers=4)
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


def submit_keyed(base_url: str, api_key: str, key: str, player: str) -> tuple[int, dict | None]:
    """A server-key submission with an Idempotency-Key; (0, None) when the connection died."""
    body = json.dumps({"player_id": player, "game_id": "default", "score": 7}).encode()
    headers = {"Content-Type": "application/json", "X-API-Key": api_key, "Idempotency-Key": key}
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{base_url}/v1/scores", body, headers), timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except (OSError, http.client.HTTPException):
        return 0, None


def test_killing_a_worker_then_the_whole_server_loses_no_acked_score_and_retries_get_the_first_answer(
    default_board, redis_url, tmp_path
):
    api_key = services.create_api_key(name="game-server", scope="server")
    server = LiveServer(redis_url=redis_url, log_path=tmp_path / "first.log", workers=4, RATE_LIMITS_ENABLED="0")
    answers, stop = {}, threading.Event()

    def client(n: int) -> None:
        sent = 0
        while not stop.is_set():
            key = f"c{n}-{sent}"
            answers[key] = submit_keyed(server.url, api_key, key, key)
            sent += 1

    with ThreadPoolExecutor(max_workers=4) as pool:
        for n in range(4):
            pool.submit(client, n)
        time.sleep(1)
        server.kill_a_worker()
        time.sleep(1)
        server.kill_everything()
        stop.set()

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA integrity_check")
            assert cursor.fetchone()[0] == "ok"
    acked = {key: body for key, (status, body) in answers.items() if status == 201}
    stored = Counter(Score.objects.values_list("player__username", flat=True))
    assert acked
    assert all(stored[key] == 1 for key in acked)
    assert all(count == 1 for count in stored.values())

    restarted = LiveServer(redis_url=redis_url, log_path=tmp_path / "second.log", workers=2, RATE_LIMITS_ENABLED="0")
    try:
        retried = {key: submit_keyed(restarted.url, api_key, key, key) for key in answers}
    finally:
        restarted.stop()
    assert all(retried[key] == (201, body) for key, body in acked.items())
    assert all(count == 1 for count in Counter(Score.objects.values_list("player__username", flat=True)).values())
    assert set(Score.objects.values_list("player__username", flat=True)) == set(answers)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock")
def test_writers_kept_waiting_by_another_process_holding_the_write_lock_never_get_a_500(server):
    database = connection.settings_dict["NAME"]
    holding = threading.Event()

    def hold_the_write_lock() -> None:
        blocker = sqlite3.connect(database, isolation_level=None)
        for _ in range(3):
            blocker.execute("BEGIN IMMEDIATE")
            holding.set()
            time.sleep(2)
            blocker.execute("ROLLBACK")
            time.sleep(0.3)
        blocker.close()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    holding.wait(5)
    load = Load(server.url)
    holder.join()
    load.stop()

    statuses = Counter(status for _, status, _ in load.writes)
    assert set(statuses) <= {201, 503}
    assert statuses[201] > 0
    assert_every_acked_score_is_in_sql_once(load)
    log = server.stop()
    assert "Traceback" not in log
