import os

from django.core.management.base import BaseCommand, CommandError

from leaderboard import services
from leaderboard.services import scores, write_server


class Command(BaseCommand):
    help = (
        "Write the seed API's submissions for every worker, on SQLite (python -m speedrank.serve starts one); "
        "runs until SIGTERM or until the process that started it (or --parent) ends."
    )

    def add_arguments(self, parser):
        parser.add_argument("--parent", type=int, help="stop when the process with this pid ends")

    def handle(self, *args, **options):
        path = write_server.socket_path()
        if path is None:
            raise CommandError("no write server for this database: it is not SQLite on a file with group commit")
        # A write server that ended may have committed scores it never mirrored: replay the
        # entries changed lately, as a starting worker does.
        services.schedule_catch_up(replay_recent=True)
        write_server.serve(scores.write_submissions, path, parent=options["parent"] or os.getppid())
