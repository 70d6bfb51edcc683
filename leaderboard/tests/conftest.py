"""Real servers for the suite: a redis-server of its own (pytest-redis), or the Redis Cluster that
REDIS_CLUSTER_URL names (`make test-cluster` starts one), and pytest-django's database."""

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import override_settings
from pytest_redis import factories
from rest_framework.test import APIClient
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

from leaderboard import redis_store, selectors, services, writes
from leaderboard.limits import DEFAULT_BOARD_NAME, DEFAULT_BOARD_SLUG, POINTS_MAX
from leaderboard.models import Board
from leaderboard.rules import BoardRules

redis_server = factories.redis_proc(port=None)
ON_CLUSTER = bool(os.environ.get("REDIS_CLUSTER_URL"))
only_on_cluster = pytest.mark.skipif(not ON_CLUSTER, reason="runs on a Redis Cluster (make test-cluster)")
not_on_cluster = pytest.mark.skipif(ON_CLUSTER, reason="needs a single Redis of its own")


@pytest.fixture(scope="session")
def redis_url(request) -> str:
    if ON_CLUSTER:
        return os.environ["REDIS_CLUSTER_URL"]
    server = request.getfixturevalue("redis_server")
    return f"redis://{server.host}:{server.port}/0"


@pytest.fixture(scope="session")
def queue_redis_url(request) -> str:
    """The job queue's Redis: always a single one (on `make test-cluster` too), database 1."""
    server = request.getfixturevalue("redis_server")
    return f"redis://{server.host}:{server.port}/1"


@pytest.fixture(scope="session", autouse=True)
def _use_test_redis(redis_url, queue_redis_url):
    with override_settings(
        REDIS_URL=redis_url, REDIS_CLUSTER=ON_CLUSTER, REDIS_KEY_PREFIX="speedrank-test", MIRROR_CATCH_UP_INTERVAL=0.1,
        QUEUE_REDIS_URL=queue_redis_url,
    ):  # fmt: skip
        yield


def single_redis(url: str):
    """Settings for a single Redis at this URL, in place of the suite's (a cluster's, on `make test-cluster`)."""
    return override_settings(REDIS_URL=url, REDIS_CLUSTER=False)


DEFAULT_RULES = BoardRules("desc", "best", 0, POINTS_MAX)


@pytest.fixture(autouse=True)
def _empty_redis(_use_test_redis):
    """An empty Redis holding the default board, empty and whole (as after its first rebuild)."""
    redis_store.client().flushdb()
    redis_store.publish_board(DEFAULT_BOARD_SLUG, DEFAULT_RULES)
    redis_store.record_boards_built_in(redis_store.run_ids())
    yield


@pytest.fixture(autouse=True)
def _games_looked_up_afresh():
    """Each test's database has its own games and keys, under the same slugs."""
    services.scoring_games.clear()
    services.checked_keys.clear()
    selectors.known_regions.clear()


@pytest.fixture(autouse=True)
def _catch_up_finishes(django_db_blocker):
    """A catch-up thread a test started finishes before the next test, with the database reachable."""
    yield
    with django_db_blocker.unblock():
        wait_until(lambda: not writes.process_boundary.catch_up.running, timeout=10)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def submit(api, django_capture_on_commit_callbacks):
    """POST /api/score/ and run the after-commit mirror, as a real request would."""

    def post(username, points):
        with django_capture_on_commit_callbacks(execute=True):
            return api.post("/api/score/", {"username": username, "points": points}, format="json")

    return post


@pytest.fixture
def empty_queue(queue_redis_url) -> None:
    """The job queue's Redis emptied: no job of an earlier test is run or counted."""
    redis.Redis.from_url(queue_redis_url).flushdb()


@pytest.fixture
def default_board(transactional_db) -> Board:
    """The migration's default board, re-created after a transactional test's flush removed it."""
    board, _ = Board.objects.get_or_create(
        slug=DEFAULT_BOARD_SLUG, defaults={"name": DEFAULT_BOARD_NAME, "max_points": POINTS_MAX}
    )
    return board


def child_database_url() -> str:
    """A DATABASE_URL for the test database, for processes the tests start."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    # A unix socket's directory goes in the host, percent-encoded; it has no port.
    host = quote(db["HOST"], safe="") if db["HOST"].startswith("/") else f"{db['HOST']}:{db['PORT'] or 5432}"
    return f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}@{host}/{db['NAME']}"


def child_environment(*, redis_url: str, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a process the tests start: the test database and Redis, this secret."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "speedrank.settings",
        "DATABASE_URL": database_url or child_database_url(),
        "REDIS_URL": redis_url,
        "REDIS_CLUSTER": "1" if ON_CLUSTER else "0",
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "SECRET_KEY": settings.SECRET_KEY,  # tokens signed here must verify there
        "QUEUE_REDIS_URL": settings.QUEUE_REDIS_URL,
        "JOB_WORKERS": "0",  # the job tests start workers of their own
        **extra,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seconds_left_in_window(window: int) -> set[str]:
    """What a RateLimit-Reset counted a moment ago may say now: the seconds until the clock-aligned
    window ends, rounded up, as of now or of up to a second before (a second may have turned since
    the count)."""
    left = window - time.time() % window
    return {str(max(math.ceil(left), 1)), str(math.ceil(left) + 1)}


def wait_until(predicate, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def nothing_more(socket, seconds: float = 0.3) -> bool:
    """Whether a WebSocket client is sent nothing for a while."""
    try:
        socket.recv(timeout=seconds)
    except TimeoutError:
        return True
    return False


class LiveServer:
    """The server `make run` starts (speedrank.serve) in a child process, on the test database and test Redis;
    with live, its live server (WebSockets) too."""

    def __init__(
        self,
        *,
        redis_url: str,
        log_path: Path,
        workers: int = 4,
        database_url: str | None = None,
        live: bool = False,
        **extra_env: str,
    ):
        self.port, self.ws_port = free_port(), free_port()
        self.url, self.ws_url = f"http://127.0.0.1:{self.port}", f"ws://127.0.0.1:{self.ws_port}"
        self.log_path = log_path
        env = child_environment(
            redis_url=redis_url,
            database_url=database_url,
            PORT=str(self.port),
            WS_PORT=str(self.ws_port),
            LIVE_SERVER="1" if live else "0",  # the tests that talk to it ask for it
            WEB_CONCURRENCY=str(workers),
            **extra_env,
        )
        command = [sys.executable, "-m", "speedrank.serve"]
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(self._answers, timeout=20)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health/", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # it answered, if only to say it is unhealthy
        except OSError:
            return False

    def kill_a_worker(self) -> None:
        next(child for child, command in self.children() if "run_write_server" not in command).kill()

    def write_server(self) -> psutil.Process | None:
        return next((child for child, command in self.children() if "run_write_server" in command), None)

    def children(self) -> list[tuple[psutil.Process, list[str]]]:
        """The server's live child processes (granian's workers, the write server), with their command lines."""
        children = []
        for child in psutil.Process(self.process.pid).children():
            with suppress(psutil.Error):  # ended meanwhile, or a zombie not yet reaped
                children.append((child, child.cmdline()))
        return children

    def kill_everything(self) -> None:
        """SIGKILL the master and its workers at once, as a crash or an OOM kill would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> str:
        """Stop the server (once) and return everything it logged."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        return self.log_path.read_text()


@pytest.fixture
def running_server(default_board, redis_url, tmp_path):
    server = LiveServer(redis_url=redis_url, log_path=tmp_path / "server.log")
    yield server
    server.stop()


def started_live(redis_url: str, log_path: Path, *, workers: int = 1, **settings: str) -> LiveServer:
    """The server with its live server, once it streams the default board (which must exist)."""
    server = LiveServer(redis_url=redis_url, log_path=log_path, workers=workers, live=True, **settings)
    wait_until(lambda: accepts_websockets(server), timeout=20)
    return server


@pytest.fixture
def live(default_board, redis_url, tmp_path):
    """The server with its live server, once it streams the default board."""
    server = started_live(redis_url, tmp_path / "server.log", workers=2)
    yield server
    log = server.stop()
    assert "Traceback" not in log


def accepts_websockets(server: LiveServer) -> bool:
    try:
        with connect(f"{server.ws_url}/v1/ws/leaderboard?game_id=default", open_timeout=1) as socket:
            return json.loads(socket.recv(timeout=2))["type"] == "TOP"
    except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake):
        # InvalidHandshake: a server starting or stopping (a killed one's workers) closed the
        # connection before its handshake's answer.
        return False


def post_score(server: LiveServer, username: str, points: int) -> None:
    """POST /api/score/ to a running server."""
    body = json.dumps({"username": username, "points": points}).encode()
    request = urllib.request.Request(
        f"{server.url}/api/score/", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 201


class OwnRedis:
    """A redis-server of one test's own, configured like the managed one, to kill, stop and restart."""

    def __init__(self, directory: Path, password: str | None = None):
        self.directory, self.port, self.password = directory, free_port(), password
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self, *, empty: bool = False) -> None:
        if empty:
            shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--maxmemory-policy", "noeviction",
            *(["--requirepass", self.password] if self.password else []),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_until(self._answers, timeout=10)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16)[:1] in (b"+", b"-")  # PONG, or NOAUTH from a server that wants a password
        except OSError:
            return False

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.kill()


@pytest.fixture
def hung_redis():
    """A server that accepts connections and never answers, like a Redis stopped with SIGSTOP."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        with single_redis(f"redis://127.0.0.1:{listener.getsockname()[1]}/0"):
            yield


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path / "redis")
    yield server
    server.stop()
