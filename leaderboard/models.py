"""Durable truth in SQL: boards, players and the append-only history of scores."""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from .limits import ENCODABLE_POINTS_MAX, SEQUENCE_LIMIT, USERNAME_MAX_LENGTH


class Board(models.Model):
    """A leaderboard (one per game); the seed API serves the 'default' board."""

    class Order(models.TextChoices):
        DESC = "desc", "higher is better"

    class Operator(models.TextChoices):
        BEST = "best", "keep each player's best"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    order = models.CharField(max_length=8, choices=Order.choices, default=Order.DESC)
    operator = models.CharField(max_length=16, choices=Operator.choices, default=Operator.BEST)
    min_points = models.BigIntegerField(default=0)
    max_points = models.BigIntegerField(default=ENCODABLE_POINTS_MAX)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(min_points__gte=0, max_points__lte=ENCODABLE_POINTS_MAX, min_points__lte=F("max_points")),
                name="board_points_range_encodable",
            ),
            # The rules the services implement today; more orders and operators come as they do.
            models.CheckConstraint(condition=Q(order="desc", operator="best"), name="board_rules_supported"),
        ]

    def __str__(self) -> str:
        return self.slug


class Player(models.Model):
    username = models.CharField(max_length=USERNAME_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["username"], name="player_username_unique")]

    def __str__(self) -> str:
        return self.username


class Score(models.Model):
    """One submission, never updated: a board is rebuilt from these rows.

    The id orders submissions as they were stored, so it decides ties: at equal points the
    lower id reached the score first.
    """

    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="scores")
    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="scores")
    points = models.BigIntegerField()
    achieved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Covers the rebuild's best-per-player scan of a board.
            models.Index(fields=["board", "player", "points", "id"], name="score_board_best_idx"),
            models.Index(fields=["player", "achieved_at"], name="score_player_history_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gte=0, points__lte=ENCODABLE_POINTS_MAX), name="score_points_encodable"
            ),
            models.CheckConstraint(condition=Q(id__lt=SEQUENCE_LIMIT), name="score_id_encodable"),
        ]

    def __str__(self) -> str:
        return f"{self.player_id} scored {self.points} on board {self.board_id}"


class PendingMirror(models.Model):
    """A committed score whose Redis mirror failed; the catch-up replays and deletes it."""

    score = models.OneToOneField(Score, on_delete=models.CASCADE, primary_key=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"score {self.score_id} awaiting its mirror"
