"""Serves the project with granian, configured from the Django settings: `python -m speedrank.serve`
(or another WSGI callable under the same settings: `python -m speedrank.serve module:callable`).
It also starts the live server (WebSockets) on WS_PORT: `python -m speedrank.serve live`, an ASGI
server of its own, supervised from here (leaderboard/live/supervisor.py).

Granian's HTTP layer is in Rust and keeps connections alive; each worker process runs Django's
WSGI application on a few threads. speedrank.wsgi starts a worker's catch-up when it loads.
On SQLite, a write server process (leaderboard/writes/server.py) commits the workers' writes;
its supervisor starts it before the workers and stops it after them.
"""

import os
import shutil
import sys
from contextlib import AbstractContextManager, ExitStack, nullcontext

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedrank.settings")

from django.conf import settings  # noqa: E402  (needs DJANGO_SETTINGS_MODULE first)
from granian.constants import Interfaces, Loops  # noqa: E402
from granian.log import LogLevels  # noqa: E402
from granian.server import Server  # noqa: E402

from leaderboard.supervision import stop_with  # noqa: E402  (no Django needed)

APPLICATION = "speedrank.wsgi:application"
LIVE_APPLICATION = "speedrank.asgi:application"


def main(target: str = APPLICATION, *args: str) -> None:
    if target == "live":
        return serve_live(parent=int(args[1]) if args[:1] == ("--parent",) else os.getppid())
    # Workers share their metrics through files in a directory of this process's own. It must be
    # set before prometheus_client is first imported: in each worker, and here by django.setup().
    metrics_dir = settings.VAR_DIR / "prometheus" / str(os.getpid())
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        with ExitStack() as beside:
            beside.enter_context(write_server())
            beside.enter_context(live_server())
            beside.enter_context(job_workers())
            server(target).serve()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def live_server() -> AbstractContextManager:
    """The live server beside the workers, if it is wanted."""
    if not settings.LIVE_SERVER:
        return nullcontext()
    from leaderboard.live.supervisor import LiveServerSupervisor  # after django.setup()

    return LiveServerSupervisor()


def job_workers() -> AbstractContextManager:
    """JOB_WORKERS job workers beside the servers, if there are any and a queue for them."""
    if not settings.JOB_WORKERS or not settings.QUEUE_REDIS_URL:
        return nullcontext()
    from leaderboard.jobs.workers import JobWorkers  # after django.setup()

    return JobWorkers(settings.JOB_WORKERS)


def serve_live(*, parent: int) -> None:
    """The live server: granian's ASGI interface, WebSockets on WS_PORT; it stops when `parent` ends."""
    stop_with(parent, name="live-parent")
    Server(
        LIVE_APPLICATION,
        interface=Interfaces.ASGI,
        address=settings.SERVER_HOST,
        port=settings.WS_PORT,
        workers=1,
        websockets=True,
        loop=Loops.uvloop,  # libuv's loop: less of each message's time in the loop than asyncio's own
        respawn_failed_workers=True,
        workers_kill_timeout=10,
        log_level=LogLevels(settings.LOG_LEVEL.lower()),
    ).serve()


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
    main(*sys.argv[1:])
