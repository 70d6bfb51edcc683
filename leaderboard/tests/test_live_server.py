"""Against the server with several worker processes: concurrent writes on SQLite, read-your-writes."""

import json
import sqlite3
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.message import Message

import pytest
from django.db import connection

from leaderboard.models import BoardEntry, PendingMirror, Player, Score

from .conftest import LiveServer, wait_until

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


def post_score(base_url: str, username: str, points: int) -> int:
    return post_score_answer(base_url, username, points)[0]


def post_score_answer(base_url: str, username: str, points: int) -> tuple[int, Message, dict]:
    """(status, headers, JSON body) of one submission."""
    body = json.dumps({"username": username, "points": points}).encode()
    request = urllib.request.Request(f"{base_url}/api/score/", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def get_json(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_64_concurrent_first_submissions_of_one_name_make_one_player(running_server):
    start = threading.Barrier(64)

    def first_submission(points):
        start.wait()
        return post_score(running_server.url, "newcomer", points)

    with ThreadPoolExecutor(max_workers=64) as pool:
        statuses = list(pool.map(first_submission, range(1000, 1064)))

    assert statuses == [201] * 64
    assert Player.objects.filter(username="newcomer").count() == 1
    assert Score.objects.filter(player__username="newcomer").count() == 64
    assert get_json(f"{running_server.url}/api/my-rank/?username=newcomer") == (
        200,
        {"username": "newcomer", "rank": 1, "points": 1063},
    )


def test_concurrent_writers_across_workers_never_hit_a_locked_database(running_server):
    submissions = [(f"p{n % 50}", n) for n in range(400)]

    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda args: post_score(running_server.url, *args), submissions))

    log = running_server.stop()
    assert statuses == [201] * len(submissions)
    assert Score.objects.count() == len(submissions)
    assert "database is locked" not in log
    assert "Traceback" not in log


def test_a_player_sees_their_new_rank_right_after_scoring(running_server):
    assert post_score(running_server.url, "amy", 10) == 201
    assert post_score(running_server.url, "bob", 20) == 201
    assert post_score(running_server.url, "amy", 30) == 201

    assert get_json(f"{running_server.url}/api/my-rank/?username=amy") == (
        200,
        {"username": "amy", "rank": 1, "points": 30},
    )
    assert get_json(f"{running_server.url}/api/top-players/") == (
        200,
        [{"rank": 1, "username": "amy", "points": 30}, {"rank": 2, "username": "bob", "points": 20}],
    )


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock")
def test_a_writer_kept_waiting_past_the_busy_timeout_gets_503_with_retry_after(default_board, redis_url, tmp_path):
    server = LiveServer(redis_url=redis_url, log_path=tmp_path / "server.log", workers=1, SQLITE_BUSY_TIMEOUT="0.2")
    blocker = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        refused = post_score_answer(server.url, "amy", 1)
        blocker.execute("ROLLBACK")
        retried = post_score(server.url, "amy", 1)
    finally:
        blocker.close()
        log = server.stop()

    status, headers, body = refused
    assert (status, headers["Retry-After"], body) == (503, "1", {"detail": "Database busy; retry shortly."})
    assert retried == 201
    assert Score.objects.count() == 1
    assert "Traceback" not in log


def test_a_worker_that_starts_with_a_backlog_replays_it(default_board, redis_url, tmp_path):
    player = Player.objects.create(username="queued")
    score = Score.objects.create(board=default_board, player=player, points=77)
    BoardEntry.objects.create(board=default_board, player=player, value=77, reached_seq=score.id)
    PendingMirror.objects.create(score=score)  # committed while Redis was away, never mirrored

    server = LiveServer(redis_url=redis_url, log_path=tmp_path / "server.log", workers=1)
    try:
        wait_until(lambda: not PendingMirror.objects.exists(), timeout=10)
        answer = get_json(f"{server.url}/api/my-rank/?username=queued")
    finally:
        server.stop()

    assert answer == (200, {"username": "queued", "rank": 1, "points": 77})


def test_a_worker_that_starts_replays_recent_scores_whose_mirror_never_ran(default_board, redis_url, tmp_path):
    player = Player.objects.create(username="unmirrored")
    score = Score.objects.create(board=default_board, player=player, points=55)
    BoardEntry.objects.create(board=default_board, player=player, value=55, reached_seq=score.id)  # no queue row

    server = LiveServer(redis_url=redis_url, log_path=tmp_path / "server.log", workers=1)
    try:
        answer = wait_until(lambda: _ranked(server.url, "unmirrored"), timeout=10)
    finally:
        server.stop()

    assert answer == {"username": "unmirrored", "rank": 1, "points": 55}


def _ranked(base_url: str, username: str) -> dict | None:
    status, body = get_json(f"{base_url}/api/my-rank/?username={username}")
    return body if status == 200 else None
