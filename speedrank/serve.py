"""Serves the project with granian, configured from the Django settings: `python -m speedrank.serve`
(or another WSGI callable under the same settings: `python -m speedrank.serve module:callable`).

Granian's HTTP layer is in Rust and keeps connections alive; each worker process runs Django's
WSGI application on a few threads. speedrank.wsgi starts a worker's catch-up when it loads.
On SQLite, a write server process (leaderboard/services/write_server.py) writes the workers'
submissions; this process starts it first, restarts it if it ends, and stops it last.
"""

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedrank.settings")

from django.conf import settings  # noqa: E402  (needs DJANGO_SETTINGS_MODULE first)
from granian.constants import Interfaces  # noqa: E402
from granian.log import LogLevels  # noqa: E402
from granian.server import Server  # noqa: E402

APPLICATION = "speedrank.wsgi:application"
WRITE_SERVER_START_SECONDS = 10
WRITE_SERVER_CHECK_SECONDS = 1
WRITE_SERVER_CHECK_MAX_SECONDS = 60
WRITE_SERVER_STOP_SECONDS = 10

logger = logging.getLogger("speedrank.serve")


def main(target: str = APPLICATION) -> None:
    # Workers share their metrics through files in a directory of this process's own. It must be
    # set before prometheus_client is first imported: in each worker, and here by django.setup().
    metrics_dir = settings.VAR_DIR / "prometheus" / str(os.getpid())
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        with write_server():
            server(target).serve()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


@contextmanager
def write_server() -> Iterator[None]:
    """A write server for the workers while serving, if the database has one and it is wanted."""
    import django

    django.setup()
    from leaderboard.services import write_server as writes

    path = writes.socket_path()
    if path is None or not settings.WRITE_SERVER:
        yield
        return
    stopping = threading.Event()
    process = _started(path) if not writes.listening(path) else None
    keeper = threading.Thread(target=_keep_running, args=(process, path, stopping), name="write-server", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stopping.set()
        keeper.join()


def _started(path: Path) -> subprocess.Popen:
    from leaderboard.services.write_server import listening

    # A session of its own: a Ctrl-C meant for the server reaches it through this process, last.
    command = [sys.executable, "-m", "django", "run_write_server", "--parent", str(os.getpid())]
    process = subprocess.Popen(command, start_new_session=True)
    deadline = time.monotonic() + WRITE_SERVER_START_SECONDS
    while not listening(path) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # until then, workers write themselves
    return process


def _keep_running(process: subprocess.Popen | None, path: Path, stopping: threading.Event) -> None:
    """Replace our write server when it ends or stops answering, unless another server's listens
    there; one that keeps ending at once is started again less and less often."""
    from leaderboard.services.write_server import answer_timeout, answers_ping, listening

    pause = WRITE_SERVER_CHECK_SECONDS
    while not stopping.wait(pause):
        if process is not None and process.poll() is None:
            if answers_ping(path, answer_timeout()) or stopping.is_set():
                pause = WRITE_SERVER_CHECK_SECONDS
                continue
            logger.warning("write server did not answer within %.0f s; replacing it", answer_timeout())
            _stop(process, signal.SIGKILL)
        elif listening(path):
            continue
        elif process is not None:
            logger.warning("write server ended (exit %s); starting another", process.returncode)
            pause = min(2 * pause, WRITE_SERVER_CHECK_MAX_SECONDS)
        process = _started(path)
    if process is not None:
        _stop(process, signal.SIGTERM)


def _stop(process: subprocess.Popen, signal_number: int) -> None:
    """Stop the write server: SIGTERM lets it finish the group in hand."""
    process.send_signal(signal_number)
    try:
        process.wait(timeout=WRITE_SERVER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def server(target: str) -> Server:
    return Server(
        target,
        interface=Interfaces.WSGI,
        address=settings.SERVER_HOST,
        port=settings.SERVER_PORT,
        workers=settings.SERVER_WORKERS,
        blocking_threads=settings.SERVER_THREADS,
        websockets=False,
        # A worker that dies (a crash, an OOM kill) is replaced, and the new one catches up.
        respawn_failed_workers=True,
        workers_kill_timeout=10,
        log_level=LogLevels(settings.LOG_LEVEL.lower()),
    )


if __name__ == "__main__":
    main(*sys.argv[1:2])
