"""Serves the project with granian, configured from the Django settings: `python -m speedrank.serve`
(or another WSGI callable under the same settings: `python -m speedrank.serve module:callable`).

Granian's HTTP layer is in Rust and keeps connections alive; each worker process runs Django's
WSGI application on a few threads. speedrank.wsgi starts a worker's catch-up when it loads.
On SQLite, a write server process (leaderboard/writes/server.py) commits the workers' writes;
its supervisor starts it before the workers and stops it after them.
"""

import os
import shutil
import sys
from contextlib import AbstractContextManager, nullcontext

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedrank.settings")

from django.conf import settings  # noqa: E402  (needs DJANGO_SETTINGS_MODULE first)
from granian.constants import Interfaces  # noqa: E402
from granian.log import LogLevels  # noqa: E402
from granian.server import Server  # noqa: E402

APPLICATION = "speedrank.wsgi:application"


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


def write_server() -> AbstractContextManager:
    """A write server beside the workers, if the database has one and it is wanted."""
    import django

    django.setup()
    from leaderboard import writes  # the app's modules need Django set up first

    path = writes.socket_path()
    if path is None or not settings.WRITE_SERVER:
        return nullcontext()
    return writes.WriteServerSupervisor(path)


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
