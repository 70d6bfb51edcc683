"""The leaderboard app: durable scores in SQL, boards mirrored in Redis."""

from django.apps import AppConfig


class LeaderboardConfig(AppConfig):
    name = "leaderboard"
    default_auto_field = "django.db.models.BigAutoField"
