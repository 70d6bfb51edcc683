"""The job queue on a real Redis with real RQ workers (burst workers in this process; in the fault
test, supervised worker processes killed with kill -9), and exports: a game's standings as CSV."""

import csv
import io
import json
import os
import signal
import time
from datetime import datetime, timedelta

import pytest
import redis
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from rq.job import Job

from leaderboard import selectors, services
from leaderboard.jobs import job_queue, queue
from leaderboard.jobs.workers import JobWorker, JobWorkers, requeue_abandoned
from leaderboard.models import Board, BoardEntry, Export, Player
from leaderboard.services import exports

from .conftest import child_environment, wait_until
from .test_fastpath import answers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_queue")]


@pytest.fixture
def admin_key(default_board) -> str:
    return services.create_api_key(name="studio-admin", scope="admin")


def work_off() -> None:
    """Every job queued, run by a burst worker in this process (RQ forks a work horse per job)."""
    JobWorker([job_queue.queue()], connection=job_queue.queue().connection).work(burst=True)


def export_over_rest(api, key: str, game_id: str = "default", **body) -> dict:
    answer = api.post(f"/v1/games/{game_id}/exports", body, format="json", HTTP_X_API_KEY=key)
    assert answer.status_code == 202, answer.json()
    return answer.json()


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_an_export_is_queued_202_written_by_a_worker_and_downloaded_as_the_board_ranks_it(api, submit, admin_key):
    for username, points in (("ann", 50), ("bob", 70), ("cy", 50), ("dee", 10)):
        assert submit(username, points).status_code == 201
    created = export_over_rest(api, admin_key)
    assert api.get(f"/v1/jobs/{created['job_id']}", HTTP_X_API_KEY=admin_key).json()["state"] == "queued"

    work_off()
    export = api.get(f"/v1/exports/{created['export_id']}", HTTP_X_API_KEY=admin_key).json()
    job = api.get(f"/v1/jobs/{created['job_id']}", HTTP_X_API_KEY=admin_key).json()
    download = api.get(f"/v1/exports/{created['export_id']}/download", HTTP_X_API_KEY=admin_key)

    assert (export["status"], export["rows"], export["game_id"]) == ("ready", 4, "default")
    assert export["download_url"].endswith(f"/v1/exports/{created['export_id']}/download")
    assert (job["state"], job["attempts"], job["task"]) == ("finished", 1, "leaderboard.services.exports.write_export")
    assert download.status_code == 200
    rows = csv_rows(b"".join(download.streaming_content).decode())
    assert rows[0] == ["rank", "player_id", "score", "reached_at"]
    page = selectors.leaderboard_page(game_id="default", top=10, offset=0)
    assert [(int(rank), player, int(score)) for rank, player, score, _at in rows[1:]] == [
        (entry.rank, entry.player_id, entry.score) for entry in page.standings
    ]  # ties to whoever reached the score first, as the board ranks them: ann before cy
    assert all(datetime.fromisoformat(at).utcoffset() == timedelta(0) for *_rest, at in rows[1:])
    by_fast_path, by_django, _passed_on = answers(f"/v1/exports/{created['export_id']}", HTTP_X_API_KEY=admin_key)
    assert by_fast_path[0] == by_django[0] == "200 OK"
    assert json.loads(by_fast_path[2]) == json.loads(by_django[2])


def test_a_second_run_of_an_export_changes_nothing_and_asking_twice_queues_one_job(api, submit, admin_key):
    submit("ann", 5)
    created = export_over_rest(api, admin_key)
    work_off()
    written = exports.export_file(created["export_id"])
    before = (written.read_bytes(), written.stat().st_mtime_ns)

    assert exports.write_export(created["export_id"]) is None  # delivered again
    job_queue.enqueue(exports.write_export, created["export_id"], job_id=created["job_id"], timeout=60)
    work_off()

    assert (written.read_bytes(), written.stat().st_mtime_ns) == before
    assert Export.objects.count() == 1
    assert job_queue.counts()["queued"] == 0
    assert job_queue.view(created["job_id"]).attempts == 1


def test_exports_refuse_other_keys_unknown_games_exports_and_periods(api, admin_key):
    server_key = services.create_api_key(name="game-server", scope="server")

    assert api.post("/v1/games/default/exports", {}, format="json").status_code == 401
    assert api.post("/v1/games/default/exports", {}, format="json", HTTP_X_API_KEY=server_key).status_code == 403
    unknown_game = api.post("/v1/games/nope/exports", {}, format="json", HTTP_X_API_KEY=admin_key)
    period = api.post("/v1/games/default/exports", {"period": 10**9}, format="json", HTTP_X_API_KEY=admin_key)
    malformed = api.post("/v1/games/default/exports", {"period": "2026-W01"}, format="json", HTTP_X_API_KEY=admin_key)
    unknown_export = api.get("/v1/exports/exp_nope", HTTP_X_API_KEY=admin_key)
    unknown_job = api.get("/v1/jobs/nope", HTTP_X_API_KEY=admin_key)
    not_an_object = api.post(
        "/v1/games/default/exports", '""', content_type="application/json", HTTP_X_API_KEY=admin_key
    )
    null = api.post("/v1/games/default/exports", "null", content_type="application/json", HTTP_X_API_KEY=admin_key)
    no_body = api.post("/v1/games/default/exports", HTTP_X_API_KEY=admin_key)
    not_ready = export_over_rest(api, admin_key)["export_id"]
    early = api.get(f"/v1/exports/{not_ready}/download", HTTP_X_API_KEY=admin_key)

    assert (unknown_game.status_code, unknown_game.json()["error"]) == (404, "game_not_found")
    assert (period.status_code, period.json()["error"]) == (404, "period_not_found")
    assert (malformed.status_code, malformed.json()["error"]) == (400, "invalid_request")
    assert (unknown_export.status_code, unknown_export.json()["error"]) == (404, "export_not_found")
    assert (unknown_job.status_code, unknown_job.json()["error"]) == (404, "job_not_found")
    assert (early.status_code, early.json()["error"]) == (404, "export_not_found")
    assert (not_an_object.status_code, not_an_object.json()["error"]) == (400, "invalid_request")
    assert (null.status_code, null.json()["error"]) == (400, "invalid_request")
    assert no_body.status_code == 202
    assert Export.objects.count() == 2  # the refused ones wrote nothing


def test_without_a_reachable_queue_an_export_is_503_and_marked_failed(api, admin_key):
    with override_settings(QUEUE_REDIS_URL="redis://127.0.0.1:1/0"):
        answer = api.post("/v1/games/default/exports", {}, format="json", HTTP_X_API_KEY=admin_key)

    assert (answer.status_code, answer.json()["error"]) == (503, "service_unavailable")
    assert answer.headers["Retry-After"] == "1"
    assert Export.objects.get().status == "failed"


def test_a_job_that_keeps_failing_is_kept_failed_listed_and_retried_by_the_command(
    api, submit, admin_key, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(queue, "RETRY_BACKOFF", [0, 0])  # retried at once, not after seconds
    submit("ann", 5)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    with override_settings(EXPORTS_DIR=blocked / "exports"):
        created = export_over_rest(api, admin_key)
        work_off()
    failed = job_queue.view(created["job_id"])
    export_failed = exports.export_of(created["export_id"])
    call_command("jobs", "failed")
    listed = capsys.readouterr().out

    with override_settings(EXPORTS_DIR=tmp_path / "exports"):
        call_command("jobs", "retry", created["job_id"])
        work_off()

    assert (failed.state, failed.attempts) == ("failed", 3)
    assert export_failed.status == "failed" and "Error" in export_failed.error  # its job's reason
    assert "NotADirectoryError" in failed.error or "FileExistsError" in failed.error
    assert created["job_id"] in listed and "attempts 3" in listed
    assert job_queue.view(created["job_id"]).state == "finished"
    assert exports.export_of(created["export_id"]).status == "ready"
    with pytest.raises(CommandError, match="no failed job"):
        call_command("jobs", "retry", created["job_id"])


@override_settings(METRICS_ENABLED=True)
def test_the_metrics_count_jobs_by_state(api, admin_key):
    export_over_rest(api, admin_key)

    exposition = api.get("/metrics").content.decode()

    assert 'speedrank_jobs{state="queued"} 1.0' in exposition
    assert 'speedrank_jobs{state="failed"} 0.0' in exposition


@pytest.mark.server
def test_a_job_whose_worker_is_killed_mid_job_is_picked_up_again_and_completes_once(
    api, admin_key, redis_url, tmp_path
):
    board = Board.objects.get(slug="default")
    players = Player.objects.bulk_create(Player(username=f"p{n:06d}") for n in range(150_000))
    BoardEntry.objects.bulk_create(
        (BoardEntry(board=board, player=player, value=n % 1000, reached_seq=n + 1) for n, player in enumerate(players)),
        batch_size=10_000,
    )
    environment = child_environment(redis_url=redis_url, EXPORTS_DIR=str(tmp_path / "exports"))
    with JobWorkers(1, environment=environment) as workers:
        created = export_over_rest(api, admin_key)
        # Mid-job: counted as begun, its CSV half written.
        wait_until(lambda: list((tmp_path / "exports").glob("*.partial")), timeout=30, interval=0.005)
        assert job_queue.view(created["job_id"]).state == "started"
        (victim,) = workers.processes.values()
        os.killpg(victim.pid, signal.SIGKILL)  # the worker and the work horse running the job
        started = time.monotonic()
        wait_until(lambda: exports.export_of(created["export_id"]).status == "ready", timeout=60)
        recovered = time.monotonic() - started

    job = job_queue.view(created["job_id"])
    export = exports.export_of(created["export_id"])
    written = tmp_path / "exports" / f"{created['export_id']}.csv"
    assert (job.state, job.attempts) == ("finished", 2)
    assert export.rows == 150_000
    assert sum(1 for _line in written.open()) == 150_001
    assert sorted(path.name for path in (tmp_path / "exports").iterdir()) == [written.name]  # no partial left
    assert recovered < 30


def test_an_export_whose_job_is_gone_is_failed_and_a_ready_one_whose_file_is_gone_is_404(
    api, submit, admin_key, queue_redis_url
):
    submit("ann", 5)
    lost = export_over_rest(api, admin_key)
    redis.Redis.from_url(queue_redis_url).flushdb()  # as if it never reached the queue
    gone = exports.export_of(lost["export_id"])
    written = export_over_rest(api, admin_key)
    work_off()
    exports.export_file(written["export_id"]).unlink()

    download = api.get(f"/v1/exports/{written['export_id']}/download", HTTP_X_API_KEY=admin_key)
    wrong_method = api.post(f"/v1/exports/{written['export_id']}/download", HTTP_X_API_KEY=admin_key)

    assert (gone.status, gone.error) == ("failed", "Its job is gone (never queued, or expired): ask for a new export.")
    assert (download.status_code, download.json()["error"]) == (404, "export_not_found")
    assert wrong_method.status_code == 405


@pytest.mark.parametrize("retries_left, state", [(2, "queued"), (0, "failed")])
def test_the_job_of_a_dead_worker_is_queued_again_as_a_retry_or_failed_once_none_is_left(
    api, admin_key, retries_left, state
):
    created = export_over_rest(api, admin_key)
    held = Job.fetch(created["job_id"], connection=job_queue.queue().connection)
    held.retries_left = retries_left
    held.save()
    dead = JobWorker([job_queue.queue()], connection=job_queue.queue().connection, name="speedrank-dead")
    dead.register_birth()
    dead.set_current_job_id(held.id)  # then the worker died holding it

    assert requeue_abandoned("speedrank-dead") == created["job_id"]

    job = job_queue.view(created["job_id"])
    assert job.state == state
    left = Job.fetch(created["job_id"], connection=job_queue.queue().connection).retries_left
    assert left == max(retries_left - 1, 0)
    if state == "failed":
        assert "AbandonedJobError" in job.error
        assert exports.export_of(created["export_id"]).status == "failed"
    else:
        assert job_queue.counts()["queued"] == 1
