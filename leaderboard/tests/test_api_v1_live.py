"""/v1/ against the server with several workers: races on one session, concurrent idempotent
retries, and rate limits shared across processes."""

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.message import Message

import pytest

from leaderboard import services
from leaderboard.models import Score
from leaderboard.services.profiles import GameEntry

from .conftest import LiveServer

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]


def post(url: str, body: dict, headers: dict) -> tuple[int, Message, dict]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def all_at_once(count: int, call) -> list:
    start = threading.Barrier(count)

    def run(_):
        start.wait()
        return call()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.fixture
def game(default_board):
    return services.create_game(
        slug="chess", name="Chess", order="desc", operator="increment", min_score=0, max_score=1_000_000,
        max_points_per_second=None, max_session_seconds=3600,
    )  # fmt: skip


def test_concurrent_submissions_on_one_session_score_exactly_once(running_server, game):
    started = services.start_session(player_id="amy", game_id="chess")
    token = started.token
    body = {"player_id": "amy", "game_id": "chess", "session_id": started.session_id, "score": 10}

    answers = all_at_once(
        16, lambda: post(f"{running_server.url}/v1/scores", body, {"Authorization": f"Bearer {token}"})
    )

    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [201] + [409] * 15
    assert {body["error"] for status, _, body in answers if status == 409} == {"session_already_scored"}
    assert Score.objects.filter(session_id=started.session_id).count() == 1


def test_concurrent_retries_with_one_idempotency_key_write_once_and_answer_alike(running_server, game):
    key = services.create_api_key(name="game-server", scope="server")
    headers = {"X-API-Key": key, "Idempotency-Key": "kill-7"}
    body = {"player_id": "amy", "game_id": "chess", "score": 5}

    answers = all_at_once(12, lambda: post(f"{running_server.url}/v1/scores", body, headers))

    assert {status for status, _, _ in answers} == {201}
    assert len({json.dumps(body, sort_keys=True) for _, _, body in answers}) == 1
    assert Score.objects.filter(board=game).count() == 1
    status, _, again = post(f"{running_server.url}/v1/scores", body, headers)
    assert (status, again) == (201, answers[0][2])
    assert services.player_profile(player_id="amy").games == [GameEntry("chess", 5, 1, 1)]


def test_rate_limits_hold_across_worker_processes(default_board, game, redis_url, tmp_path):
    server = LiveServer(
        redis_url=redis_url, log_path=tmp_path / "server.log", workers=4,
        RATE_LIMIT_WRITES_PER_IP="5", RATE_LIMIT_WINDOW="3600",  # a window the test stays inside
    )  # fmt: skip
    key = services.create_api_key(name="game-server", scope="server")
    try:
        answers = [
            post(f"{server.url}/v1/scores", {"player_id": f"p{n}", "game_id": "chess", "score": 1}, {"X-API-Key": key})
            for n in range(12)
        ]
    finally:
        server.stop()

    statuses = [status for status, _, _ in answers]
    assert statuses == [201] * 5 + [429] * 7
    status, headers, body = answers[-1]
    detail = f"Request was throttled. Expected available in {headers['Retry-After']} seconds."
    assert body == {"error": "rate_limited", "detail": detail}
    assert 1 <= int(headers["Retry-After"]) <= 3600
    assert (headers["RateLimit-Limit"], headers["RateLimit-Remaining"]) == ("5", "0")
    assert Score.objects.filter(board=game).count() == 5
