"""manage.py run_write_server: commit every worker's writes in one process, on SQLite."""

import os

from django.core.management.base import BaseCommand, CommandError

from leaderboard import writes


class Command(BaseCommand):
    help = (
        "Commit the writes of every worker, on SQLite (python -m speedrank.serve starts one); "
        "runs until SIGTERM or until the process that started it (or --parent) ends."
    )

    def add_arguments(self, parser):
        parser.add_argument("--parent", type=int, help="stop when the process with this pid ends")

    def handle(self, *args, **options):
        path = writes.socket_path()
        if path is None:
            raise CommandError("no write server for this database: it is not SQLite on a file with group commit")
        # A write server that ended may have committed scores it never mirrored: replay them.
        writes.process_boundary.start()
        server = writes.WriteServer(path, writes.process_boundary.commit_now, parent=options["parent"] or os.getppid())
        server.serve()
