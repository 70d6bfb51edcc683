"""The write server: a process of its own commits every worker's writes on SQLite."""

import pickle
import signal
import subprocess
import sys
from multiprocessing.connection import Client

import pytest
import redis
from django.conf import settings
from django.db import connection
from prometheus_client import REGISTRY

from leaderboard import redis_store, services, writes
from leaderboard.exceptions import BoardNotFound, PointsOutOfRange, RateLimited, RegionMismatch
from leaderboard.models import BoardEntry, IdempotencyRecord, Player, Score
from leaderboard.redis_store import Charge
from leaderboard.services.scores import RecordScore
from leaderboard.writes.server import NOT_SENT, answers_ping

from .boards import standing, top
from .conftest import LiveServer, child_environment, wait_until
from .factories import make_game
from .test_live_server import post_score

pytestmark = [
    pytest.mark.server,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the write server is for SQLite"),
]


class WriteServer:
    """`manage.py run_write_server` on the test database and test Redis."""

    def __init__(self, redis_url: str, log_path, *arguments: str):
        self.path = writes.socket_path()
        self.log_path = log_path
        env = child_environment(redis_url=redis_url)
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "django", "run_write_server", *arguments],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._listens, timeout=20)

    def _listens(self) -> bool:
        assert self.process.poll() is None, self.log_path.read_text()
        try:
            Client(str(self.path), family="AF_UNIX").close()
            return True
        except OSError:
            return False

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        return self.log_path.read_text()


@pytest.fixture
def writer(default_board, redis_url, tmp_path):
    writes.process_boundary.server.disconnect()
    server = WriteServer(redis_url, tmp_path / "write-server.log")
    yield server
    server.stop()
    writes.process_boundary.server.disconnect()


def send(work):
    """The work sent to the write server by this thread's connection: its outcome, or NOT_SENT."""
    return writes.process_boundary.server.commit(work, writes.socket_path())


def test_a_submission_sent_to_the_write_server_is_committed_and_mirrored_before_it_answers(writer):
    recorded = send(RecordScore("default", "amy", 40))

    score = Score.objects.get(id=recorded.id)
    assert (score.player.username, score.points, score.achieved_at) == ("amy", 40, recorded.achieved_at)
    assert recorded.rank == 1
    assert (standing("amy").rank, standing("amy").score) == (1, 40)


def written_by(path: str) -> float:
    return REGISTRY.get_sample_value("speedrank_writes_total", {"path": path}) or 0.0


@pytest.fixture
def nothing_written_here(monkeypatch):
    monkeypatch.setattr(
        writes.process_boundary.committer, "commit", lambda work: pytest.fail("written in this process")
    )


def test_the_seed_write_goes_to_the_write_server_and_is_ranked_at_once(writer, nothing_written_here):
    before = written_by("write_server")
    services.submit_score(username="amy", points=10)
    services.submit_score(username="bob", points=20)
    services.submit_score(username="amy", points=30)
    log = writer.stop()

    assert written_by("write_server") == before + 3

    assert top() == [("amy", 30), ("bob", 20)]
    assert Score.objects.count() == 3
    assert "write server listening" in log and "Traceback" not in log


def test_the_v1_writes_go_to_the_write_server_too(writer, nothing_written_here):
    key = services.create_api_key(name="game-server", scope="server")
    caller = services.authenticate_api_key(key=key, scope="server")
    before = written_by("write_server")

    make_game("chess")
    started = services.start_session(player_id="amy", game_id="chess")
    claims = services.read_token(started.token)
    by_session = services.submit_session_score(
        claims=claims, player_id="amy", game_id="chess", session_id=started.session_id, score=7
    )
    by_server = services.submit_server_score(
        caller=caller, player_id="bob", game_id="chess", score=9, idempotency_key="k-1"
    )

    assert (by_session.rank, by_server.rank) == (1, 1)
    assert written_by("write_server") >= before + 5  # key, game, session, two scores, and the kept rank
    assert IdempotencyRecord.objects.get(key="k-1").response["rank"] == 1


def test_a_write_carries_its_rate_limit_charge_to_the_write_server_which_counts_it(writer, nothing_written_here):
    sent = redis.connection.Connection.send_packed_command
    round_trips = []

    def counted(link, command, check_health=True):
        round_trips.append(command)
        return sent(link, command, check_health)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redis.connection.Connection, "send_packed_command", counted)
        with redis_store.riding(Charge([("write-player", "amy", 1)], 3600)) as first:
            services.submit_score(username="amy", points=1)
        with redis_store.riding(Charge([("write-player", "amy", 1)], 3600)) as second, pytest.raises(RateLimited):
            services.submit_score(username="amy", points=2)

    assert round_trips == []  # this worker made none: the write server counted both
    assert (first.verdict.allowed, first.verdict.left) == (True, 0)
    assert (second.verdict.allowed, second.verdict.limit) == (False, 1)
    assert list(Score.objects.values_list("points", flat=True)) == [1]


def test_a_submission_the_write_server_refuses_is_written_nowhere_and_refused_with_its_own_error(writer):
    with pytest.raises(PointsOutOfRange, match="between 0 and"):
        send(RecordScore("default", "amy", -1))
    with pytest.raises(PointsOutOfRange):
        services.submit_score(username="amy", points=-1)

    assert (Player.objects.count(), Score.objects.count()) == (0, 0)


def test_a_submission_for_a_board_the_write_server_does_not_know_is_refused(writer):
    with pytest.raises(BoardNotFound, match="No board named 'nope'"):
        send(RecordScore("nope", "amy", 1))


def test_the_write_server_holds_a_player_to_their_first_region_and_mirrors_to_its_board(writer):
    make_game("world", regions=["na", "eu"])

    first = send(RecordScore("world", "amy", 40, "eu"))
    later = send(RecordScore("world", "amy", 50))
    with pytest.raises(RegionMismatch, match="region on this game is 'eu'"):
        send(RecordScore("world", "amy", 60, "na"))

    assert (first.rank, later.rank) == (1, 1)
    assert list(BoardEntry.objects.values_list("region", "value")) == [("eu", 50)]
    assert redis_store.client().zscore(
        redis_store.board_key(redis_store.shard("world", "eu", ("na", "eu"))), "amy"
    ) == redis_store.encode(50, later.id)
    assert (
        redis_store.client().zscore(redis_store.board_key(redis_store.shard("world", "na", ("na", "eu"))), "amy")
        is None
    )


def test_without_a_write_server_the_submitter_writes_itself(default_board):
    writes.process_boundary.server.disconnect()

    assert send(RecordScore("default", "amy", 1)) is NOT_SENT
    before = written_by("group")
    services.submit_score(username="amy", points=5)

    assert written_by("group") == before + 1

    assert standing("amy").score == 5


def test_when_the_write_server_has_ended_the_next_submission_is_written_here(writer):
    assert send(RecordScore("default", "amy", 1)) is not NOT_SENT
    writer.process.kill()
    writer.process.wait(timeout=10)

    services.submit_score(username="amy", points=7)

    assert standing("amy").score == 7
    assert sorted(Score.objects.values_list("points", flat=True)) == [1, 7]


def test_a_write_server_that_does_not_answer_in_time_leaves_the_submission_unconfirmed(writer, api, settings):
    settings.SQLITE_BUSY_TIMEOUT_SECONDS = 0.1  # the answer timeout follows the timeouts it covers
    assert send(RecordScore("default", "warmup", 1)) is not NOT_SENT
    writer.process.send_signal(signal.SIGSTOP)
    try:
        response = api.post("/api/score/", {"username": "amy", "points": 9}, format="json")
        # Until the hung server is replaced, the submitter writes itself instead of waiting again.
        services.submit_score(username="bob", points=4)
        assert standing("bob").score == 4
        assert not Score.objects.filter(player__username="amy").exists()
    finally:
        writer.process.send_signal(signal.SIGCONT)

    assert response.status_code == 503
    assert response.json() == {"detail": "Score not confirmed by the database writer; retry shortly."}
    assert response["Retry-After"] == str(settings.RETRY_AFTER_SECONDS)
    # Unconfirmed, not refused: the server still writes what it received.
    wait_until(lambda: Score.objects.filter(player__username="amy").exists(), timeout=10)


def test_a_keyed_retry_of_a_submission_left_unconfirmed_writes_once_and_answers_as_the_first_did(writer, api, settings):
    settings.SQLITE_BUSY_TIMEOUT_SECONDS = 0.1  # the answer timeout follows the timeouts it covers
    key = services.create_api_key(name="game-server", scope="server")
    body, headers = {"player_id": "amy", "game_id": "default", "score": 9}, {"HTTP_X_API_KEY": key}
    writer.process.send_signal(signal.SIGSTOP)  # it takes the first submission, and hangs
    try:
        unconfirmed = api.post("/v1/scores", body, format="json", HTTP_IDEMPOTENCY_KEY="match-7", **headers)
        retried = api.post("/v1/scores", body, format="json", HTTP_IDEMPOTENCY_KEY="match-7", **headers)
    finally:
        writer.process.send_signal(signal.SIGCONT)
    wait_until(lambda: answers_ping(writer.path, timeout=1), timeout=10)  # it has run what it had taken
    writes.process_boundary.server.disconnect()  # this thread asks the write server again
    again = api.post("/v1/scores", body, format="json", HTTP_IDEMPOTENCY_KEY="match-7", **headers)

    assert unconfirmed.status_code == 503
    assert unconfirmed.json()["error"] == "service_unavailable"
    assert (retried.status_code, again.status_code) == (201, 201)
    assert again.json() == retried.json()
    assert list(Score.objects.filter(player__username="amy").values_list("points", flat=True)) == [9]
    assert IdempotencyRecord.objects.filter(key="match-7").count() == 1


def test_a_peer_that_sends_something_else_is_dropped_and_the_others_are_still_answered(writer):
    for message in (b'["default", "amy"]', pickle.dumps(("default", "amy", 3))):
        stranger = Client(str(writer.path), family="AF_UNIX")
        stranger.send_bytes(message)

        with pytest.raises(EOFError):
            stranger.recv_bytes()
    assert send(RecordScore("default", "amy", 3)) is not NOT_SENT


def test_a_second_write_server_on_one_database_refuses_to_start(writer, redis_url):
    second = subprocess.run(
        [sys.executable, "-m", "django", "run_write_server"],
        cwd=settings.BASE_DIR,
        env=child_environment(redis_url=redis_url),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert second.returncode != 0
    assert "a write server already listens on" in second.stderr
    assert send(RecordScore("default", "amy", 3)) is not NOT_SENT


def test_the_server_runs_a_write_server_and_starts_another_when_it_ends(running_server):
    first = running_server.write_server()
    assert first is not None
    assert post_score(running_server.url, "amy", 10) == 201

    first.kill()
    first.wait(timeout=10)
    assert post_score(running_server.url, "bob", 20) == 201  # written by the worker meanwhile
    wait_until(lambda: (running_server.write_server() or first).pid != first.pid, timeout=10)
    wait_until(lambda: answers_ping(writes.socket_path(), 1), timeout=10)
    assert post_score(running_server.url, "amy", 30) == 201
    log = running_server.stop()

    assert top() == [("amy", 30), ("bob", 20)]
    assert "write server ended" in log


def test_the_write_server_answers_a_ping_between_groups(writer):
    assert answers_ping(writer.path, timeout=5)
    writer.process.send_signal(signal.SIGSTOP)
    try:
        assert not answers_ping(writer.path, timeout=0.5)
    finally:
        writer.process.send_signal(signal.SIGCONT)


def test_the_write_server_stops_when_its_parent_ends(default_board, redis_url, tmp_path):
    parent = subprocess.Popen(["sleep", "60"])
    server = WriteServer(redis_url, tmp_path / "write-server.log", "--parent", str(parent.pid))
    try:
        parent.kill()
        parent.wait()
        server.process.wait(timeout=10)
    finally:
        log = server.stop()

    assert "write server's parent ended" in log


def test_a_write_server_that_starts_replays_recent_entries_a_predecessor_never_mirrored(
    default_board, redis_url, tmp_path
):
    player = Player.objects.create(username="unmirrored")
    score = Score.objects.create(board=default_board, player=player, points=55)
    BoardEntry.objects.create(board=default_board, player=player, value=55, reached_seq=score.id)  # no mirror, no queue

    server = WriteServer(redis_url, tmp_path / "write-server.log")
    try:
        wait_until(lambda: top() != [], timeout=10)
    finally:
        server.stop()

    assert top() == [("unmirrored", 55)]


def test_a_write_server_stopped_with_sigterm_finishes_and_removes_its_socket(writer):
    assert send(RecordScore("default", "amy", 2)) is not NOT_SENT
    writer.process.terminate()

    assert writer.process.wait(timeout=10) == 0
    assert not writer.path.exists()
    assert Score.objects.count() == 1


def test_the_server_replaces_a_write_server_that_stops_answering(default_board, redis_url, tmp_path):
    # A short busy timeout makes the hang threshold (writes.server.answer_timeout) a few seconds.
    server = LiveServer(redis_url=redis_url, log_path=tmp_path / "server.log", workers=1, SQLITE_BUSY_TIMEOUT="0.1")
    try:
        hung = server.write_server()
        hung.suspend()
        wait_until(lambda: (server.write_server() or hung).pid != hung.pid, timeout=30)
        wait_until(lambda: answers_ping(writes.socket_path(), 1), timeout=10)
        assert post_score(server.url, "amy", 5) == 201
    finally:
        log = server.stop()

    assert "did not answer" in log
    assert standing("amy").score == 5
