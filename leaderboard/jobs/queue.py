"""The job queue: RQ on QUEUE_REDIS_URL. The one place jobs are enqueued (after the commit that
asks for them), looked up, listed and retried.

Every job has a timeout and retries with backoff (RETRY_BACKOFF, run by a worker's scheduler),
and its task is idempotent: a second run changes nothing. A job's id is chosen by whoever asks
for it, so asking twice enqueues it once."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import redis
from django.conf import settings
from django.db import close_old_connections
from rq import Queue, Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from ..exceptions import JobNotFound, JobsUnavailable

QUEUE_NAME = "speedrank"
RETRY_BACKOFF = [5, 30, 120]  # seconds before the 1st, 2nd and 3rd retry
ERROR_MAX = 500  # characters of a failed job's error shown
QUEUE_SOCKET_TIMEOUT = 2.0  # a queue that stops answering is a 503, not a hung request
KEEP_SECONDS = 30 * 86400  # a finished or failed job is kept this long


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as operators see it: its state, how many times it started, and its last error."""

    job_id: str
    task: str
    state: str  # queued, started, deferred, scheduled (waiting for a retry), finished, failed, canceled, stopped
    attempts: int
    error: str | None
    enqueued_at: datetime | None
    ended_at: datetime | None


class JobQueue:
    """The queue, connected on first use and again when QUEUE_REDIS_URL changes."""

    def __init__(self):
        self._queue: Queue | None = None
        self._url: str | None = None

    def queue(self) -> Queue:
        url = settings.QUEUE_REDIS_URL
        if not url:
            raise JobsUnavailable("No job queue: QUEUE_REDIS_URL is not set (a Redis Cluster needs one).")
        if self._queue is None or self._url != url:
            connection = redis.Redis.from_url(
                url, socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT, socket_timeout=QUEUE_SOCKET_TIMEOUT
            )
            self._queue, self._url = Queue(QUEUE_NAME, connection=connection), url
        return self._queue

    def enqueue(self, task, *args, job_id: str, timeout: int) -> str:
        """Queue task(*args) as job_id, unless a job of that id is queued, running or done already.
        Call it after the commit that asks for the job: a worker may run it at once."""
        with _reachable():
            queue = self.queue()
            try:
                existing = Job.fetch(job_id, connection=queue.connection)
            except NoSuchJobError:
                existing = None
            if existing is not None and existing.get_status(refresh=False) != JobStatus.FAILED:
                return job_id
            queue.enqueue(
                attempted, task, *args, job_id=job_id, job_timeout=timeout, meta={"task": _name(task)},
                retry=Retry(max=len(RETRY_BACKOFF), interval=RETRY_BACKOFF), result_ttl=KEEP_SECONDS,
                failure_ttl=KEEP_SECONDS,
            )  # fmt: skip
        return job_id

    def view(self, job_id: str) -> JobView:
        with _reachable():
            try:
                return _viewed(Job.fetch(job_id, connection=self.queue().connection))
            except NoSuchJobError:
                raise JobNotFound(job_id) from None

    def failed(self) -> list[JobView]:
        """The failed jobs, kept for KEEP_SECONDS, newest first."""
        with _reachable():
            queue = self.queue()
            ids = queue.failed_job_registry.get_job_ids(desc=True)
            return [_viewed(job) for job in Job.fetch_many(ids, connection=queue.connection) if job is not None]

    def retry(self, job_id: str) -> JobView:
        """A failed job queued again (its task is idempotent, so a retry that finds its work done
        changes nothing)."""
        with _reachable():
            registry = self.queue().failed_job_registry
            if job_id not in registry:
                raise JobNotFound(f"{job_id} (no failed job of that id)")
            registry.requeue(job_id)
        return self.view(job_id)

    def counts(self) -> dict[str, int]:
        """Jobs by state: waiting in the queue, running, scheduled (for a retry), failed, finished."""
        with _reachable():
            queue = self.queue()
            return {
                "queued": queue.count,
                "started": queue.started_job_registry.count,
                "scheduled": queue.scheduled_job_registry.count,
                "failed": queue.failed_job_registry.count,
                "finished": queue.finished_job_registry.count,
            }


@contextmanager
def _reachable() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as error:
        raise JobsUnavailable(f"The job queue cannot be reached: {error}") from error


def attempted(task, *args):
    """What a worker runs: the task, with its attempt counted first (and a database connection
    that went stale between jobs let go, as a request's end would)."""
    close_old_connections()
    job = get_current_job()
    if job is not None:
        job.meta["attempts"] = int(job.meta.get("attempts", 0)) + 1
        job.save_meta()
    return task(*args)


def _name(task) -> str:
    return f"{task.__module__}.{task.__qualname__}"


def _viewed(job: Job) -> JobView:
    error = None
    if job.get_status(refresh=False) == JobStatus.FAILED:
        result = job.latest_result()
        found = result.exc_string if result is not None and result.exc_string else job.meta.get("error")
        error = (found or "failed")[-ERROR_MAX:]
    status, attempts = job.get_status(refresh=False), int(job.meta.get("attempts", 0))
    state = status.value if status is not None else "unknown"
    return JobView(job.id, job.meta.get("task", job.func_name), state, attempts, error, job.enqueued_at, job.ended_at)


job_queue = JobQueue()
