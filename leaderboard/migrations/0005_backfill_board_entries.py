"""Fills BoardEntry from the score history: until now every board kept each player's best."""
from django.db import migrations
from django.db.models import Count, F, Max

SPAN = 2**33  # leaderboard.limits.SEQUENCE_LIMIT when this migration was written


def backfill(apps, schema_editor):
    Score = apps.get_model("leaderboard", "Score")
    BoardEntry = apps.get_model("leaderboard", "BoardEntry")
    best = (
        Score.objects.values("board_id", "player_id")
        .annotate(encoded=Max(F("points") * SPAN + (SPAN - 1) - F("id")), submissions=Count("id"))
        .order_by()
    )
    entries = (
        BoardEntry(
            board_id=row["board_id"],
            player_id=row["player_id"],
            value=row["encoded"] // SPAN,
            reached_seq=SPAN - 1 - row["encoded"] % SPAN,
            submissions=row["submissions"],
        )
        for row in best.iterator(chunk_size=10_000)
    )
    BoardEntry.objects.bulk_create(entries, batch_size=10_000)


class Migration(migrations.Migration):
    dependencies = [("leaderboard", "0004_games_sessions_keys")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
