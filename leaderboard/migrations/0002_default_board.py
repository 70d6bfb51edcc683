"""Creates the built-in default board that the seed API serves: highest first, best kept, 0..1,000,000."""
from django.db import migrations

from leaderboard.limits import DEFAULT_BOARD_NAME, DEFAULT_BOARD_SLUG, POINTS_MAX, POINTS_MIN


def create_default_board(apps, schema_editor):
    Board = apps.get_model("leaderboard", "Board")
    Board.objects.get_or_create(
        slug=DEFAULT_BOARD_SLUG,
        defaults={"name": DEFAULT_BOARD_NAME, "min_points": POINTS_MIN, "max_points": POINTS_MAX},
    )


class Migration(migrations.Migration):
    dependencies = [("leaderboard", "0001_initial")]

    operations = [migrations.RunPython(create_default_board, migrations.RunPython.noop)]
