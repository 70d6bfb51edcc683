"""manage.py revoke_api_key: stop a key from working, keeping its record."""

from django.core.management.base import BaseCommand, CommandError

from ... import services
from ...exceptions import LeaderboardError


class Command(BaseCommand):
    help = "Revoke the API key with this name."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)

    def handle(self, *args, name, **options):
        try:
            services.revoke_api_key(name=name)
        except LeaderboardError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"revoked {name}")
