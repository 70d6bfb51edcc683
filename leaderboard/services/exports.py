"""Exports: a board's standings as a CSV file (rank,player_id,score,reached_at), written by a job.

The rows are streamed from SQL in the board's order (its entries, best first, ties to whoever
reached the value first, as Redis ranks them), a chunk at a time, so the job's memory stays flat in
the board's size. The file is written beside its final name and renamed into place, so it is
whole or absent; a second run of the job finds it written and changes nothing."""

import csv
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .. import archive, writes
from ..exceptions import ExportNotFound, JobNotFound, JobsUnavailable
from ..jobs import job_queue
from ..models import Board, Export
from ..writes import AfterCommit, Work
from .games import game
from .keys import Caller

EXPORT_TIMEOUT_SECONDS = 1800
COLUMNS = ("rank", "player_id", "score", "reached_at")
FETCH_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class ExportView:
    export_id: str
    game_id: str
    job_id: str
    status: str  # queued, ready, failed
    rows: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class CreateExport(Work):
    export_id: str
    game_id: str
    api_key_id: int
    period_id: int | None = None

    def apply(self, after: AfterCommit) -> None:
        Export.objects.create(
            id=self.export_id, board=game(slug=self.game_id), period_id=self.period_id, created_by_id=self.api_key_id
        )


@dataclass(frozen=True)
class FinishExport(Work):
    """The export's outcome, once: an export already finished is left as it is."""

    export_id: str
    status: str
    rows: int | None = None
    error: str = ""

    def apply(self, after: AfterCommit) -> bool:
        finished = Export.objects.filter(id=self.export_id, status=Export.Status.QUEUED)
        return bool(finished.update(status=self.status, rows=self.rows, error=self.error, finished_at=timezone.now()))


def request_export(*, caller: Caller, game_id: str, period: int | str | None = None) -> ExportView:
    """A new export of the game's standings, queued after the commit that records it: the current
    ones, or a closed period's final standings (`period`, its id)."""
    board = game(slug=game_id)
    closed = archive.closed_period(game_id=game_id, period=period)
    export_id = f"exp_{secrets.token_hex(8)}"
    writes.commit(CreateExport(export_id, board.slug, caller.key_id, closed.id if closed else None))
    try:
        job_queue.enqueue(write_export, export_id, job_id=job_id_of(export_id), timeout=EXPORT_TIMEOUT_SECONDS)
    except JobsUnavailable as error:
        writes.commit(FinishExport(export_id, Export.Status.FAILED, error=f"could not be queued: {error}"[:500]))
        raise
    return export_of(export_id)


def export_of(export_id: str) -> ExportView:
    """The export as it stands. One still queued whose job failed for good (its retries spent), or
    is gone (its request died between the commit and the queue), is failed, with the reason."""
    row = Export.objects.select_related("board").filter(id=export_id).first()
    if row is None:
        raise ExportNotFound(export_id)
    status, error = row.status, row.error or None
    if status == Export.Status.QUEUED:
        status, error = _judged_by_job(job_id_of(row.id), status, error)
    return ExportView(
        row.id, row.board.slug, job_id_of(row.id), status, row.rows, error, row.created_at, row.finished_at
    )


def _judged_by_job(job_id: str, status: str, error: str | None) -> tuple[str, str | None]:
    try:
        job = job_queue.view(job_id)
    except JobNotFound:
        return Export.Status.FAILED, "Its job is gone (never queued, or expired): ask for a new export."
    except JobsUnavailable:
        return status, error  # the queue is away: as the database says
    if job.state == "failed":
        return Export.Status.FAILED, (job.error or "failed").strip().splitlines()[-1][:500]
    return status, error


def job_id_of(export_id: str) -> str:
    return f"export-{export_id}"


def export_file(export_id: str) -> Path:
    """The export's CSV file, once it is ready; ExportNotFound before."""
    path = _path(export_id)
    if export_of(export_id).status != Export.Status.READY or not path.exists():
        raise ExportNotFound(export_id)
    return path


def _path(export_id: str) -> Path:
    return settings.EXPORTS_DIR / f"{export_id}.csv"


# --- the job -------------------------------------------------------------------------------------


def write_export(export_id: str) -> int | None:
    """The export job: the CSV written and the export marked ready with its row count; an export
    ready already is left as it is (None)."""
    row = Export.objects.select_related("board").filter(id=export_id).first()
    if row is None:
        raise ExportNotFound(export_id)
    if row.status == Export.Status.READY and _path(export_id).exists():
        return None
    rows = _write_csv(_archived(row.period_id) if row.period_id else _standings(row.board), _path(export_id))
    writes.commit(FinishExport(export_id, Export.Status.READY, rows=rows))
    return rows


def _write_csv(standings: Iterator[tuple], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    for left in path.parent.glob(f"{path.stem}.*.partial"):  # by a run that was killed
        left.unlink(missing_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    count = 0
    with partial.open("w", newline="") as file:
        out = csv.writer(file)
        out.writerow(COLUMNS)
        for rank, (player_id, score, reached_at) in enumerate(standings, start=1):
            out.writerow((rank, player_id, score, _iso(reached_at)))
            count = rank
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)
    return count


def _standings(board: Board):
    """(player_id, score, when the score was reached) in rank order, read a chunk at a time (on
    PostgreSQL through a server-side cursor)."""
    order = "DESC" if board.order == Board.Order.DESC else "ASC"
    sql = (
        "SELECT p.username, e.value, s.achieved_at FROM leaderboard_boardentry e"
        " JOIN leaderboard_player p ON p.id = e.player_id"
        " LEFT JOIN leaderboard_score s ON s.id = e.reached_seq"
        f" WHERE e.board_id = %s ORDER BY e.value {order}, e.reached_seq ASC"
    )  # fmt: skip
    yield from _streamed(sql, [board.id])


def _archived(period_id: int):
    """A closed period's final standings, as _standings() gives the board's, in their stored ranks."""
    sql = (
        f"SELECT p.username, e.value, s.achieved_at FROM {archive.STANDINGS} e"
        " JOIN leaderboard_player p ON p.id = e.player_id"
        " LEFT JOIN leaderboard_score s ON s.id = e.reached_seq"
        f" WHERE e.period_id = %s ORDER BY e.{archive.RANK}"
    )  # fmt: skip
    yield from _streamed(sql, [period_id])


def _streamed(sql: str, args: list):
    streamed = not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")  # off behind a pooler
    # One transaction: one snapshot, and on PostgreSQL a cursor that streams.
    with transaction.atomic(), connection.chunked_cursor() if streamed else connection.cursor() as cursor:
        cursor.execute(sql, args)
        while chunk := cursor.fetchmany(FETCH_ROWS):
            yield from chunk


def _iso(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):  # SQLite's raw rows: UTC, as Django stores them
        value = datetime.fromisoformat(value)
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()
