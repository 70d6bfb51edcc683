"""Background jobs on RQ: the queue (queue.py, the one place jobs are enqueued), and the workers
`make run` supervises (workers.py)."""

from .queue import JobView, job_queue

__all__ = ["JobView", "job_queue"]
