"""`manage.py jobs failed` lists the failed jobs (kept 30 days); `manage.py jobs retry ID [ID ...]`
queues them again (`--all`: every failed job). A job's task is idempotent, so a retry of work
already done changes nothing."""

from django.core.management.base import BaseCommand, CommandError

from leaderboard.exceptions import JobNotFound, JobsUnavailable
from leaderboard.jobs import job_queue


class Command(BaseCommand):
    help = "List the failed jobs, or retry them."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("failed", help="list the failed jobs, newest first")
        retry = actions.add_parser("retry", help="queue failed jobs again")
        retry.add_argument("job_ids", nargs="*", help="the jobs to retry")
        retry.add_argument("--all", action="store_true", help="every failed job")

    def handle(self, *args, action: str, job_ids=(), all=False, **options):  # noqa: A002  the option's name
        try:
            if action == "failed":
                return self._list()
            ids = [job.job_id for job in job_queue.failed()] if all else list(job_ids)
            if not ids:
                raise CommandError("name the jobs to retry, or --all")
            for job_id in ids:
                job = job_queue.retry(job_id)
                self.stdout.write(f"{job.job_id}: {job.state}")
        except (JobNotFound, JobsUnavailable) as error:
            raise CommandError(str(error)) from error

    def _list(self) -> None:
        failed = job_queue.failed()
        for job in failed:
            last_line = (job.error or "").strip().splitlines()[-1:] or [""]
            self.stdout.write(f"{job.job_id}\t{job.task}\tattempts {job.attempts}\t{last_line[0]}")
        self.stdout.write(f"{len(failed)} failed job(s)")
