from django.core.management.base import BaseCommand, CommandError

from leaderboard.services import scores, write_server


class Command(BaseCommand):
    help = (
        "Write the seed API's submissions for every worker, on SQLite (python -m speedrank.serve starts one); "
        "runs until the process that started it ends."
    )

    def handle(self, *args, **options):
        path = write_server.socket_path()
        if path is None:
            raise CommandError("no write server for this database: it is not SQLite on a file with group commit")
        write_server.serve(scores.write_submissions, path)
