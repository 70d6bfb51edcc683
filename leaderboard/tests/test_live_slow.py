"""A client too slow for the live server: once a send to it has waited LIVE_SLOW_CLIENT_SECONDS it is
closed with 4408, while another client of the same board keeps getting each new top at once."""

import itertools
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from .conftest import LiveServer, started_live, wait_until
from .test_live import post_score, top_of

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

SLOW_SECONDS = 2
CLOSED_TOO_SLOW = "took nothing in"
LONG_NAME = "x" * 140  # so a top of 100 is some 17 KB, and a stalled client's buffers fill fast


@pytest.fixture
def live(default_board, redis_url, tmp_path):
    server = started_live(
        redis_url, tmp_path / "server.log", workers=2,
        LIVE_SLOW_CLIENT_SECONDS=str(SLOW_SECONDS), LIVE_COALESCE_SECONDS="0",
    )  # fmt: skip
    yield server
    log = server.stop()
    assert "Traceback" not in log


def stalling_client(url: str) -> ClientConnection:
    """A client whose TCP window fills soon after it stops reading: a small receive buffer, and
    websockets reading no further ahead than one message."""
    raw = socket.socket()
    # Not smaller: under loopback's 64 KB segments, TCP waits on its backed-off window probes
    # after the client reads again, and the close would be given up before it arrives.
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    raw.connect(("127.0.0.1", int(url.rsplit(":", 1)[1].split("/")[0])))
    return connect(url, sock=raw, max_queue=1, max_size=None)


class Reader(threading.Thread):
    """A healthy client: reads every message as it comes, noting when."""

    def __init__(self, client: ClientConnection):
        super().__init__(daemon=True)
        self.client, self.received = client, []

    def run(self) -> None:
        for text in self.client:
            self.received.append((time.monotonic(), json.loads(text)))


def post_until_closed(server: LiveServer) -> None:
    """Scores that change the top of 100, eight at a time, until the server says it closed a client."""
    deadline = time.monotonic() + 30
    with ThreadPoolExecutor(8) as pool:
        for n in itertools.count(step=8):
            if CLOSED_TOO_SLOW in server.log_path.read_text():
                return
            assert time.monotonic() < deadline, "no client was closed"
            list(pool.map(lambda i: post_score(server, f"{i % 150:03d}{LONG_NAME}", i + 1), range(n, n + 8)))


def test_a_client_that_stops_reading_is_closed_4408_and_never_slows_the_others(live):
    url = f"{live.ws_url}/v1/ws/leaderboard?game_id=default&top=100"
    with stalling_client(url) as slow, connect(url, max_size=None) as healthy:
        assert json.loads(slow.recv(timeout=5))["type"] == "TOP"  # then it reads nothing for a while
        reader = Reader(healthy)
        reader.start()
        stalled = time.monotonic()
        post_until_closed(live)
        closed = time.monotonic()
        with pytest.raises(ConnectionClosed) as slow_closed:
            while True:
                slow.recv(timeout=5)  # what was on its way, then the close frame
        post_score(live, "last", 1_000_000)
        wrote_last = time.monotonic()
        wait_until(lambda: top_of(reader.received[-1][1])[0] == ("last", 1_000_000), timeout=5)

    assert (slow_closed.value.rcvd.code, slow_closed.value.rcvd.reason) == (4408, "too_slow")
    assert closed - stalled < SLOW_SECONDS + 10
    # A send to the slow client waited SLOW_SECONDS before its close; the other got each top meanwhile.
    times = [at for at, _ in reader.received if at < closed]
    assert max(later - earlier for earlier, later in itertools.pairwise(times)) < SLOW_SECONDS * 0.75
    assert reader.received[-1][0] - wrote_last < 1
