"""The job workers `make run` starts beside the servers: JOB_WORKERS processes of django-rq's
`rqworker` with RQ's scheduler (which runs the retries' backoff), supervised like the live server.

A worker runs its jobs in its own process (RQ's SimpleWorker), so a kill of the worker's process
group (kill -9) takes its job with it, and leaves the job in RQ's started registry. RQ itself
gives such a job up only once its entry there lapses (the job's timeout plus a minute: 31 min for
an export) and a worker's upkeep runs (every MAINTENANCE_SECONDS here). The supervisor does not
wait for that: a worker that dies has its job queued again at once, as one of its retries, and
another worker is started; a worker still busy when the supervisor stops is killed after
STOP_SECONDS, and its job queued again for the next start."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress

import redis
from django.db import close_old_connections
from rq import SimpleWorker, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from ..services.periods import enqueue_due_closes
from ..supervision import Supervisor, stop_with
from .queue import QUEUE_NAME, job_queue

logger = logging.getLogger(__name__)

CHECK_SECONDS = 1
CHECK_MAX_SECONDS = 60
STOP_SECONDS = 10
MAINTENANCE_SECONDS = 30  # RQ's default is 10 minutes
SWEEP_SECONDS = 1  # how late after its boundary a period's close is queued, at most
SUPERVISOR_VARIABLE = "SPEEDRANK_JOB_SUPERVISOR"  # a worker stops when this process is gone


class JobWorker(SimpleWorker):
    """RQ's worker that runs each job in the worker's process itself (no fork), with its upkeep
    (abandoned jobs among it) run every MAINTENANCE_SECONDS. Not RQ's forking worker: its work
    horse puts itself in a process group of its own, so a kill of the worker's group would leave
    the job running unsupervised; and a Django process keeps one database connection rather than
    one per fork."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)
        if supervisor := os.environ.get(SUPERVISOR_VARIABLE):
            stop_with(int(supervisor), name="job-worker-parent")

    def work(self, burst: bool = False, **kwargs) -> bool:
        if not burst:  # a worker that serves for good also keeps the calendar
            PeriodSweeper().start()
        return super().work(burst=burst, **kwargs)


class PeriodSweeper:
    """A worker's thread that queues the close of every period as it falls due (a boundary of a
    game's reset calendar, an operator's close, or boundaries passed while no worker ran, which
    close in order), and again the close of a period whose board Redis has not swapped yet. Every
    worker sweeps; a close has one job id per period, so it is queued once."""

    def __init__(self, seconds: float = SWEEP_SECONDS):
        self.seconds = seconds

    def start(self) -> None:
        threading.Thread(target=self._sweep_forever, name="period-sweeper", daemon=True).start()

    def _sweep_forever(self) -> None:
        pause = self.seconds
        while True:
            try:
                enqueue_due_closes()
                pause = self.seconds
            except Exception:  # noqa: BLE001 - a database or queue away: try again, less and less often
                logger.exception("could not queue the closes of due periods")
                pause = min(2 * pause, CHECK_MAX_SECONDS)
            finally:
                close_old_connections()
            time.sleep(pause)


class JobWorkers(Supervisor):
    """`count` worker processes, each in a session of its own, started again when one ends."""

    thread_name = "job-workers"

    def __init__(self, count: int, *, environment: dict[str, str] | None = None):
        super().__init__()
        self.count, self.environment = count, environment
        self.processes: dict[str, subprocess.Popen] = {}
        self._started = 0

    def start(self) -> None:
        for _n in range(self.count):
            self._start()

    def _start(self) -> None:
        self._started += 1
        name = f"speedrank-{os.getpid()}-{self._started}"
        command = [
            sys.executable, "-m", "django", "rqworker", QUEUE_NAME, "--with-scheduler", "--name", name,
            "--worker-class", f"{JobWorker.__module__}.{JobWorker.__qualname__}",
        ]  # fmt: skip
        environment = {**(self.environment or os.environ), SUPERVISOR_VARIABLE: str(os.getpid())}
        self.processes[name] = subprocess.Popen(command, env=environment, start_new_session=True)

    def keep_running(self) -> None:
        pause = CHECK_SECONDS
        while not self.stopping.wait(pause):
            ended = [(name, process) for name, process in self.processes.items() if process.poll() is not None]
            for name, process in ended:
                logger.warning("job worker %s ended (exit %s); starting another", name, process.returncode)
                del self.processes[name]
                _end_group(process)
                requeue_abandoned(name)
                self._start()
            # Workers that keep ending at once (a queue away, a job that kills them) are started
            # again less and less often.
            pause = min(2 * pause, CHECK_MAX_SECONDS) if ended else CHECK_SECONDS
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)  # RQ's warm shutdown: the job in hand finishes first
        for name, process in self.processes.items():
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:  # its job is cut short: queued again for the next start
                _end_group(process)
                process.wait()
                requeue_abandoned(name)


def requeue_abandoned(worker_name: str) -> str | None:
    """The job a dead worker held (its id, if it held one), queued again at once as one of its
    retries; failed, as abandoned, once it has none left, so a job that kills its worker every
    time is not run for ever."""
    queue = job_queue.queue()
    try:
        worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + worker_name, connection=queue.connection)
        job_id = worker.get_current_job_id() if worker is not None else None
        if job_id is None:
            return None
        job = Job.fetch(job_id, connection=queue.connection)
        with queue.connection.pipeline() as pipeline:
            queue.started_job_registry.remove_executions(job, pipeline=pipeline)
            queue.remove(job, pipeline=pipeline)  # never in the queue twice
            pipeline.execute()
        if job.retries_left:
            job.retries_left -= 1
            job.save()
            queue.enqueue_job(job)
            logger.warning("job %s of dead worker %s queued again", job_id, worker_name)
        else:
            reason = f"AbandonedJobError: its worker {worker_name} died while running it, and no retry was left"
            job.meta["error"] = reason  # a job that never ended has no result to hold it
            job.save_meta()
            job.set_status(JobStatus.FAILED)
            queue.failed_job_registry.add(job, ttl=job.failure_ttl, exc_string=reason)
            logger.warning("job %s of dead worker %s failed: no retry left", job_id, worker_name)
        worker.register_death()
    except (redis.RedisError, NoSuchJobError) as error:
        logger.warning("could not requeue the job of dead worker %s: %s", worker_name, error)
        return None
    return job_id


def _end_group(process: subprocess.Popen) -> None:
    """A worker and what it started (RQ's scheduler) end together."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
