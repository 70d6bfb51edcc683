"""Serves the project with granian, configured from the Django settings: `python -m speedrank.serve`
(or another WSGI callable under the same settings: `python -m speedrank.serve module:callable`).

Granian's HTTP layer is in Rust and keeps connections alive; each worker process runs Django's
WSGI application on a few threads. speedrank.wsgi starts a worker's catch-up when it loads.
"""

import os
import shutil
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedrank.settings")

from django.conf import settings  # noqa: E402  (needs DJANGO_SETTINGS_MODULE first)
from granian.constants import Interfaces  # noqa: E402
from granian.log import LogLevels  # noqa: E402
from granian.server import Server  # noqa: E402

APPLICATION = "speedrank.wsgi:application"


def main(target: str = APPLICATION) -> None:
    # Workers share their metrics through files in a directory of this process's own. It must be
    # set before prometheus_client is first imported, which happens in each worker.
    metrics_dir = settings.VAR_DIR / "prometheus" / str(os.getpid())
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        server(target).serve()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


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
