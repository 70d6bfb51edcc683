"""manage.py create_api_key: issue an admin or server key and print it once."""

from django.core.management.base import BaseCommand, CommandError

from ... import services
from ...exceptions import LeaderboardError
from ...models import ApiKey


class Command(BaseCommand):
    help = "Create an API key and print it; only its hash is stored, so this is the only time it is shown."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="a unique name for the key (who or what uses it)")
        parser.add_argument("--scope", required=True, choices=ApiKey.Scope.values)

    def handle(self, *args, name, scope, **options):
        try:
            key = services.create_api_key(name=name, scope=scope)
        except LeaderboardError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(key)
