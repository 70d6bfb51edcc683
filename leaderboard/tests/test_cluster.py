"""A Redis Cluster failing over under load, through the server `make run` starts: a master killed
with SIGKILL, and a manual CLUSTER FAILOVER. Every acknowledged score reaches the board; reads
answer 200 with true data or 503 with Retry-After, never anything else."""

import os
import random
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest
from django.conf import settings
from django.test import override_settings
from redis.cluster import RedisCluster
from redis.crc import key_slot

from leaderboard import redis_store, selectors, services
from leaderboard.exceptions import BoardUnavailable
from leaderboard.models import Board, Score

from .conftest import LiveServer, only_on_cluster, wait_until

pytestmark = [only_on_cluster, pytest.mark.server, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

CLUSTER_SCRIPT = Path(settings.BASE_DIR) / "speedrank" / "scripts" / "redis_cluster.sh"
LOAD_SECONDS_BEFORE = 1.5
CATCH_UP_SECONDS = 60


class OwnCluster:
    """A loopback cluster of one test's own (redis_cluster.sh), to fail over."""

    def __init__(self, directory: Path):
        self.directory = directory
        started = subprocess.run([CLUSTER_SCRIPT, "start", directory], capture_output=True, text=True, check=True)
        self.url = started.stdout.strip().splitlines()[-1]
        host, port = self.url.removeprefix("redis://").split(":")
        self.client = RedisCluster(host=host, port=int(port), decode_responses=True)

    def master_of(self, key: str) -> str:
        """The address of the master serving the key's slot, as the cluster sees it now."""
        self.client.nodes_manager.initialize()
        return self.client.get_node_from_key(key).name

    def replica_of(self, master: str) -> str:
        nodes = self.client.cluster_nodes()
        master_id = nodes[master]["node_id"]
        return next(address for address, node in nodes.items() if node["master_id"] == master_id)

    def masters(self) -> list[str]:
        return [address for address, node in self.client.cluster_nodes().items() if "master" in node["flags"]]

    def node_id(self, address: str) -> str:
        return self.client.cluster_nodes()[address]["node_id"]

    def kill(self, address: str) -> None:
        port = address.split(":")[1]
        os.kill(int((self.directory / port / "redis.pid").read_text()), signal.SIGKILL)

    def command(self, address: str, *command: str) -> str:
        host, port = address.split(":")
        return subprocess.run(["redis-cli", "-h", host, "-p", port, *command], capture_output=True, text=True).stdout

    def stop(self) -> None:
        self.client.close()
        subprocess.run([CLUSTER_SCRIPT, "stop", self.directory], check=True)


@pytest.fixture
def own_cluster(tmp_path, default_board):
    cluster = OwnCluster(tmp_path / "cluster")
    with override_settings(REDIS_URL=cluster.url, REDIS_CLUSTER=True):
        redis_store.publish_board("default", default_board.rules)
        redis_store.record_boards_built_in(redis_store.run_ids())
        yield cluster
    cluster.stop()


class Load:
    """Writers posting seed scores and readers reading the top and ranks, until stopped; what each
    write was answered, and every read's status, Retry-After and body."""

    def __init__(self, url: str, writers: int = 4, readers: int = 2):
        self.url, self.stopping = url, threading.Event()
        self.acknowledged: list[tuple[str, int]] = []
        self.submitted: dict[str, set[int]] = {}
        self.reads: list[tuple[int, str | None, bytes]] = []
        self.threads = [threading.Thread(target=self._write, args=(i,)) for i in range(writers)]
        self.threads += [threading.Thread(target=self._read) for _ in range(readers)]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _write(self, writer: int) -> None:
        rng = random.Random(writer)
        while not self.stopping.is_set():
            username, points = f"p{writer}-{rng.randrange(50)}", rng.randrange(1, 10**6)
            self.submitted.setdefault(username, set()).add(points)
            body = orjson.dumps({"username": username, "points": points})
            status, _retry, _body = self._call("/api/score/", body)
            if status == 201:
                self.acknowledged.append((username, points))

    def _read(self) -> None:
        while not self.stopping.is_set():
            self.reads.append(self._call("/api/top-players/"))
            time.sleep(0.01)

    def _call(self, path: str, body: bytes | None = None) -> tuple[int, str | None, bytes]:
        request = urllib.request.Request(self.url + path, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, None, answer.read()
        except urllib.error.HTTPError as answer:
            return answer.code, answer.headers.get("Retry-After"), answer.read()


def serve_under_load(cluster: OwnCluster, tmp_path: Path, fail_over) -> Load:
    server = LiveServer(redis_url=cluster.url, log_path=tmp_path / "server.log", workers=2)
    try:
        load = Load(server.url)
        time.sleep(LOAD_SECONDS_BEFORE)
        try:
            fail_over()
            time.sleep(LOAD_SECONDS_BEFORE)
        finally:
            load.stop()
        wait_until(_board_matches_sql, CATCH_UP_SECONDS, 0.5)
    finally:
        log = server.stop()
    assert "Traceback" not in log
    return load


def assert_every_read_true_or_503(load: Load) -> None:
    statuses = {status for status, _retry, _body in load.reads}
    assert statuses <= {200, 503}
    assert all(retry == str(settings.RETRY_AFTER_SECONDS) for status, retry, _ in load.reads if status == 503)
    for status, _retry, body in load.reads:
        if status == 200:  # every entry is a score its player submitted, whole
            assert all(entry["points"] in load.submitted[entry["username"]] for entry in orjson.loads(body))


def assert_every_acknowledged_score_on_the_board(load: Load) -> None:
    assert load.acknowledged
    best: dict[str, int] = {}
    for username, points in load.acknowledged:
        best[username] = max(points, best.get(username, 0))
    assert set(load.acknowledged) <= set(Score.objects.values_list("player__username", "points"))
    on_board = {
        standing.player_id: standing.score
        for standing in selectors.standings_of(game_id="default", player_ids=list(best))
    }
    assert all(on_board[username] >= points for username, points in best.items())


def test_a_master_killed_under_load_is_replaced_by_its_replica_and_no_acknowledged_score_is_lost(own_cluster, tmp_path):
    master = own_cluster.master_of(redis_store.board_key("default"))
    replica = own_cluster.replica_of(master)

    load = serve_under_load(own_cluster, tmp_path, lambda: own_cluster.kill(master) or _promoted(own_cluster, replica))

    assert own_cluster.master_of(redis_store.board_key("default")) == replica
    assert_every_acknowledged_score_on_the_board(load)
    assert_every_read_true_or_503(load)


def test_a_manual_failover_under_load_loses_no_acknowledged_score(own_cluster, tmp_path):
    master = own_cluster.master_of(redis_store.board_key("default"))
    replica = own_cluster.replica_of(master)

    def fail_over():
        assert own_cluster.command(replica, "CLUSTER", "FAILOVER").strip() == "OK"
        _promoted(own_cluster, replica)

    load = serve_under_load(own_cluster, tmp_path, fail_over)

    assert own_cluster.master_of(redis_store.board_key("default")) == replica
    assert own_cluster.replica_of(replica) == master  # the old master follows its replica now
    assert_every_acknowledged_score_on_the_board(load)
    assert_every_read_true_or_503(load)


def _board_matches_sql() -> bool:
    try:
        return services.check_board(board=Board.objects.get(slug="default")).clean
    except BoardUnavailable:  # this process's view of the cluster is refreshed by the failed call
        return False


def _promoted(cluster: OwnCluster, replica: str) -> None:
    wait_until(lambda: "role:master" in cluster.command(replica, "INFO", "replication"), timeout=30, interval=0.1)


def test_a_board_whose_slot_is_being_moved_to_another_master_is_read_all_along(own_cluster):
    """Reads follow ASK while the slot moves; a score's mirror (a script of several keys, which
    Redis refuses mid-move) is queued and lands once the move is done."""
    key = redis_store.board_key("default")
    slot, source = key_slot(key.encode()), own_cluster.master_of(key)
    target = next(address for address in own_cluster.masters() if address != source)
    services.submit_score(username="amy", points=10)
    # A resharding of the slot, as redis-cli --cluster reshard runs it: the board leaves first.
    own_cluster.command(target, "CLUSTER", "SETSLOT", str(slot), "IMPORTING", own_cluster.node_id(source))
    own_cluster.command(source, "CLUSTER", "SETSLOT", str(slot), "MIGRATING", own_cluster.node_id(target))
    host, port = target.split(":")
    assert own_cluster.command(source, "MIGRATE", host, port, "", "0", "5000", "KEYS", key).strip() == "OK"

    assert top() == [("amy", 10)]  # asked on to the target
    services.submit_score(username="bob", points=20)
    for address in own_cluster.masters():
        own_cluster.command(address, "CLUSTER", "SETSLOT", str(slot), "NODE", own_cluster.node_id(target))

    wait_until(lambda: top() == [("bob", 20), ("amy", 10)], timeout=10)
    services.submit_score(username="cy", points=30)  # the source answers MOVED now
    assert top() == [("cy", 30), ("bob", 20), ("amy", 10)]
    assert own_cluster.master_of(key) == target


def top() -> list[tuple[str, int]]:
    page = selectors.leaderboard_page(game_id="default", top=10, offset=0)
    return [(standing.player_id, standing.score) for standing in page.standings]
