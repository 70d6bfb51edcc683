"""Durable truth in SQL: boards, players and the append-only history of scores."""

import uuid

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from .calendar import ResetRule
from .limits import (
    ENCODABLE_POINTS_MAX,
    REGION_MAX_LENGTH,
    SEQUENCE_LIMIT,
    SESSION_SECONDS_DEFAULT,
    USERNAME_MAX_LENGTH,
)
from .rules import BoardRules


class Board(models.Model):
    """A leaderboard (one per game); the seed API serves the 'default' board.

    Its rules (order, operator, score range) are fixed once created: the encoded entries in
    Redis depend on them.
    """

    class Order(models.TextChoices):
        DESC = "desc", "higher is better"
        ASC = "asc", "lower is better"

    class Operator(models.TextChoices):
        BEST = "best", "keep each player's best"
        LATEST = "latest", "keep each player's latest"
        INCREMENT = "increment", "add to each player's running total"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    order = models.CharField(max_length=8, choices=Order.choices, default=Order.DESC)
    operator = models.CharField(max_length=16, choices=Operator.choices, default=Operator.BEST)
    min_points = models.BigIntegerField(default=0)
    max_points = models.BigIntegerField(default=ENCODABLE_POINTS_MAX)
    max_points_per_second = models.FloatField(null=True, blank=True)
    max_session_seconds = models.PositiveIntegerField(default=SESSION_SECONDS_DEFAULT)
    # The region slugs a game's board is sharded by, fixed once created; None: one board.
    regions = models.JSONField(null=True, blank=True, default=None)
    # When the board starts afresh: {"every", "timezone", "at"} (calendar.ResetRule); None: never.
    reset = models.JSONField(null=True, blank=True, default=None)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(max_points__gte=F("min_points"), max_points__lte=F("min_points") + ENCODABLE_POINTS_MAX),
                name="board_score_range_encodable",
            ),
            models.CheckConstraint(
                condition=Q(max_points_per_second__isnull=True) | Q(max_points_per_second__gt=0),
                name="board_rate_positive",
            ),
            models.CheckConstraint(condition=Q(max_session_seconds__gte=1), name="board_session_seconds_positive"),
        ]

    def __str__(self) -> str:
        return self.slug

    def save(self, *args, **kwargs):
        """A new board opens its first period as it is created, however it is created."""
        adding = self._state.adding
        super().save(*args, **kwargs)
        if adding:
            rule = self.reset_rule
            Period.objects.create(
                board=self, starts_at=self.created_at, opened_at=self.created_at,
                ends_at=rule.next_boundary(self.created_at) if rule else None,
            )  # fmt: skip

    @property
    def rules(self) -> BoardRules:
        return BoardRules(self.order, self.operator, self.min_points, self.max_points, tuple(self.regions or ()))

    @property
    def reset_rule(self) -> ResetRule | None:
        return ResetRule(**self.reset) if self.reset else None


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
    # One session, one score: the unique constraint holds however concurrent the submissions.
    session = models.OneToOneField("PlaySession", null=True, blank=True, on_delete=models.PROTECT, related_name="score")

    class Meta:
        indexes = [
            # Covers the rebuild's best-per-player scan of a board.
            models.Index(fields=["board", "player", "points", "id"], name="score_board_best_idx"),
            models.Index(fields=["player", "achieved_at"], name="score_player_history_idx"),
        ]
        constraints = [models.CheckConstraint(condition=Q(id__lt=SEQUENCE_LIMIT), name="score_id_encodable")]

    def __str__(self) -> str:
        return f"{self.player_id} scored {self.points} on board {self.board_id}"


class BoardEntry(models.Model):
    """A player's current entry on a board, as the board's operator made it: the truth Redis mirrors.

    reached_seq is the id of the Score that brought the entry to its value; it breaks ties.
    """

    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="entries")
    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="entries")
    value = models.BigIntegerField()
    reached_seq = models.BigIntegerField()
    submissions = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(db_default=Now(), db_index=True)
    # The player's region on a game with regions (its first score named it); "" on other games.
    region = models.CharField(max_length=REGION_MAX_LENGTH, blank=True, default="", db_default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["board", "player"], name="board_entry_unique")]

    def __str__(self) -> str:
        return f"{self.player_id} holds {self.value} on board {self.board_id}"


class PlaySession(models.Model):
    """A play session issued by the server; a score submitted through it is checked against it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="sessions")
    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="sessions")
    started_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # The region the session's score goes to, if the session named one.
    region = models.CharField(max_length=REGION_MAX_LENGTH, blank=True, default="", db_default="")

    def __str__(self) -> str:
        return str(self.id)


class ApiKey(models.Model):
    """A credential for admin or trusted-server calls; only a SHA-256 of the key is stored."""

    class Scope(models.TextChoices):
        ADMIN = "admin", "manage games"
        SERVER = "server", "submit scores without a session"

    name = models.CharField(max_length=100, unique=True)
    scope = models.CharField(max_length=16, choices=Scope.choices)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.scope})"


class IdempotencyRecord(models.Model):
    """The answer to a keyed request, replayed to retries of the same request."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique")]

    def __str__(self) -> str:
        return self.key


class PendingMirror(models.Model):
    """A committed score whose Redis mirror failed; the catch-up replays and deletes it."""

    score = models.OneToOneField(Score, on_delete=models.CASCADE, primary_key=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"score {self.score_id} awaiting its mirror"


class Match(models.Model):
    """A match between two players, created by a game server: its state lives in Redis while it is
    played; here, its players from the start, and its moves and result once it is over."""

    class Status(models.TextChoices):
        PLAYING = "playing"
        WON = "won"
        DRAW = "draw"
        ABANDONED = "abandoned"

    id = models.CharField(max_length=32, primary_key=True)
    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="matches")
    rules = models.CharField(max_length=32)
    players = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLAYING)
    winner = models.CharField(max_length=USERNAME_MAX_LENGTH, blank=True, default="")  # "": none
    reason = models.CharField(max_length=16, blank=True, default="")  # forfeit, expired; "": on the board
    moves = models.JSONField(default=list)
    created_by = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status="won") & ~Q(winner="") | ~Q(status="won") & Q(winner=""),
                name="match_winner_only_when_won",
            ),
        ]

    def __str__(self) -> str:
        return self.id


class Export(models.Model):
    """A CSV file of a board's standings (rank,player_id,score,reached_at), written by a job."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        READY = "ready"
        FAILED = "failed"

    id = models.CharField(max_length=32, primary_key=True)
    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="exports")
    # A closed period's final standings; None: the board as it stands.
    period = models.ForeignKey("Period", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.id


class Avatar(models.Model):
    """A player's avatar: the latest upload, kept under AVATARS_DIR/uploads/ until its job has
    drawn it as square WebP files (named by their content) or failed for good. A newer upload
    replaces upload_id, so the job of an older one finds nothing left to finish."""

    class Status(models.TextChoices):
        PROCESSING = "processing"
        READY = "ready"
        FAILED = "failed"

    player = models.OneToOneField(Player, on_delete=models.CASCADE, primary_key=True, related_name="avatar")
    upload_id = models.CharField(max_length=32, unique=True)
    upload_sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=32)
    job_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROCESSING)
    # Once ready, each size's file under AVATARS_DIR: {"256": "ab/ab12....webp", "128": ..., "64": ...}.
    files = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    uploaded_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"avatar of player {self.player_id} ({self.status})"


class Period(models.Model):
    """A span of a board's life: the open one is what its entries (and Redis) hold; a closed one
    keeps its final standings in PeriodStanding.

    starts_at and ends_at are the calendar's boundaries (ends_at: when the open period is due to
    close, None if never); opened_at and closed_at are when the board actually swapped, a moment
    after them. A score belongs to the period open when it is committed; a session's score, to the
    period open when the session started."""

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="periods")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    players = models.PositiveBigIntegerField(default=0)
    # On a game with regions, the players of each region: {region: count}.
    region_players = models.JSONField(default=dict, blank=True)
    # The top three: [{"rank", "player_id", "score"}].
    winners = models.JSONField(default=list, blank=True)
    # Once closed: whether the board in Redis has been swapped for the next period's since.
    swapped = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # The closing job makes the next period; a second run of it cannot make another.
            models.UniqueConstraint(fields=["board", "starts_at"], name="period_start_unique"),
            models.UniqueConstraint(fields=["board"], condition=Q(status="open"), name="period_one_open"),
        ]
        indexes = [models.Index(fields=["status", "ends_at"], name="period_due_idx")]

    def __str__(self) -> str:
        return f"{self.board_id}/{self.id}"


class PeriodStanding(models.Model):
    """A player's final entry in a closed period, with its rank (and regional rank on a game with
    regions) stored, so a page or a neighbourhood is an index range."""

    # No index of their own: the unique constraints below lead with the period, and players are
    # never deleted. Every index is written once per row when a period closes, inside its lock.
    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="standings", db_index=False)
    player = models.ForeignKey(Player, on_delete=models.PROTECT, related_name="+", db_index=False)
    rank = models.BigIntegerField()
    region = models.CharField(max_length=REGION_MAX_LENGTH, blank=True, default="")
    region_rank = models.BigIntegerField(null=True, blank=True)
    value = models.BigIntegerField()
    reached_seq = models.BigIntegerField()
    submissions = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["period", "rank"], name="period_standing_rank_unique"),
            models.UniqueConstraint(fields=["period", "player"], name="period_standing_player_unique"),
        ]
        indexes = [models.Index(fields=["period", "region", "region_rank"], name="period_standing_region_idx")]

    def __str__(self) -> str:
        return f"{self.player_id} ranked {self.rank} in period {self.period_id}"
