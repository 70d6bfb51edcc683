"""OpenAPI descriptions of the answers, for drf-spectacular: success bodies and error bodies. The
answers themselves are rendered by api/v1/renderers.py and api/seed/views.py; the suite checks
them against this schema."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

ERROR_STATUSES = {
    400: "invalid_request: a field or parameter is missing or invalid (detail names each)",
    401: "invalid_token or invalid_api_key: missing, forged, expired or revoked credentials",
    403: "token_mismatch or forbidden: credentials that do not cover this request",
    404: "game_not_found, player_not_ranked, player_not_found or not_found",
    409: "session_already_scored, game_exists or rebuild_in_progress",
    411: "length_required: a body sent without Content-Length must be chunked",
    413: "request_too_large: the body is over 64 KiB",
    415: "unsupported_media_type: the body must be JSON",
    422: "score_exceeds_session_maximum, total_out_of_range or idempotency_key_reused",
    429: "rate_limited: see Retry-After and the RateLimit headers",
    503: "service_unavailable: Redis or the database cannot answer now; see Retry-After",
}

V1Error = inline_serializer(
    "V1Error",
    {"error": serializers.CharField(), "detail": serializers.JSONField(help_text="a message, or messages per field")},
)
LegacyError = inline_serializer("LegacyError", {"detail": serializers.CharField()})


def v1_errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The v1 error answers an operation can give, with the ones every operation can give."""
    return {code: OpenApiResponse(V1Error, description=ERROR_STATUSES[code]) for code in (*statuses, 429, 503)}


def legacy_errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {code: _legacy_error(code) for code in statuses}


def _legacy_error(code: int) -> OpenApiResponse:
    description = ERROR_STATUSES[code].split(":")[-1].strip()
    if code == 400:  # DRF's shape: each invalid field with its messages, or "detail"
        return OpenApiResponse(OpenApiTypes.OBJECT, description="each invalid field with its messages, or detail")
    return OpenApiResponse(LegacyError, description=description)


# Header values are visible ASCII and spaces: the HTTP server refuses others before the API sees them.
HEADER_VALUE = r"^[\x20-\x7e]*$"
API_KEY = OpenApiParameter(
    "X-API-Key", str, OpenApiParameter.HEADER, description="an admin or server API key", pattern=HEADER_VALUE
)
BEARER = OpenApiParameter(
    "Authorization", str, OpenApiParameter.HEADER, description="Bearer <token> from POST /v1/sessions",
    pattern=HEADER_VALUE,
)  # fmt: skip
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, pattern=HEADER_VALUE,
    description="with X-API-Key: makes a retry return the first answer",
)  # fmt: skip


class ResetOutput(serializers.Serializer):
    every = serializers.ChoiceField(choices=["day", "week", "month"])
    timezone = serializers.CharField(help_text="an IANA timezone name")
    at = serializers.CharField(help_text="the local time of the boundary, HH:MM")


class PeriodBoundsOutput(serializers.Serializer):
    id = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True, help_text="null: never, unless an operator closes it")


class WinnerOutput(serializers.Serializer):
    rank = serializers.IntegerField()
    player_id = serializers.CharField()
    score = serializers.IntegerField()


class ClosedPeriodOutput(PeriodBoundsOutput):
    players = serializers.IntegerField()
    winners = WinnerOutput(many=True)


class PeriodsOutput(serializers.Serializer):
    game_id = serializers.CharField()
    periods = ClosedPeriodOutput(many=True)
    next_before = serializers.IntegerField(allow_null=True, help_text="the `before` of the next page; null on the last")


class ClosingOutput(serializers.Serializer):
    job_id = serializers.CharField()
    period_id = serializers.IntegerField()


class GameOutput(serializers.Serializer):
    game_id = serializers.CharField()
    name = serializers.CharField()
    order = serializers.CharField()
    operator = serializers.CharField()
    min_score = serializers.IntegerField()
    max_score = serializers.IntegerField()
    max_points_per_second = serializers.FloatField(allow_null=True)
    max_session_seconds = serializers.IntegerField()
    regions = serializers.ListField(child=serializers.CharField(), allow_null=True)
    reset = ResetOutput(allow_null=True, help_text="null: the game never resets")
    current_period = PeriodBoundsOutput(allow_null=True)
    next_reset_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class RegionalStandingOutput(serializers.Serializer):
    game_id = serializers.CharField()
    player_id = serializers.CharField()
    region = serializers.CharField()
    score = serializers.IntegerField()
    rank = serializers.IntegerField(allow_null=True, help_text="across every region")
    regional_rank = serializers.IntegerField(allow_null=True)


class GamesOutput(serializers.Serializer):
    games = GameOutput(many=True)


class StandingOutput(serializers.Serializer):
    rank = serializers.IntegerField()
    player_id = serializers.CharField()
    score = serializers.IntegerField()
    region = serializers.CharField(required=False, help_text="on the global view of a game with regions")


class RankedPlayerOutput(StandingOutput):
    percentile = serializers.FloatField()
    regional_rank = serializers.IntegerField(required=False, help_text="on the global view of a game with regions")


class LeaderboardOutput(serializers.Serializer):
    game_id = serializers.CharField()
    entries = StandingOutput(many=True)
    total_players = serializers.IntegerField()


class NeighbourhoodOutput(serializers.Serializer):
    player = RankedPlayerOutput()
    above = StandingOutput(many=True)
    below = StandingOutput(many=True)


class PlayersOutput(serializers.Serializer):
    game_id = serializers.CharField()
    entries = StandingOutput(many=True)


class MatchmakingOutput(serializers.Serializer):
    game_id = serializers.CharField()
    player_id = serializers.CharField()
    players = StandingOutput(many=True)


class ProfileGameOutput(serializers.Serializer):
    game_id = serializers.CharField()
    score = serializers.IntegerField()
    rank = serializers.IntegerField(allow_null=True)
    submissions = serializers.IntegerField()
    region = serializers.CharField(required=False, help_text="on a game with regions")
    regional_rank = serializers.IntegerField(required=False, allow_null=True, help_text="on a game with regions")


AvatarUrlsOutput = inline_serializer(
    "AvatarUrls", {str(size): serializers.CharField() for size in (256, 128, 64)}, allow_null=True,
    help_text="once ready: square WebP images of 256, 128 and 64 px, by size; null before",
)  # fmt: skip


class AvatarOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=["none", "processing", "ready", "failed"])
    urls = AvatarUrlsOutput
    error = serializers.CharField(allow_null=True, help_text="once failed: why")


class ProfileOutput(serializers.Serializer):
    player_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    games = ProfileGameOutput(many=True)
    avatar = AvatarOutput()


class AvatarUploadOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=["processing"])
    job_id = serializers.CharField(help_text="the job drawing it; the profile shows the outcome")


class SessionOutput(serializers.Serializer):
    session_id = serializers.CharField()
    token = serializers.CharField()
    player_id = serializers.CharField()
    game_id = serializers.CharField()
    started_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class SubmissionOutput(serializers.Serializer):
    id = serializers.CharField()
    player_id = serializers.CharField()
    game_id = serializers.CharField()
    score = serializers.IntegerField()
    rank = serializers.IntegerField(allow_null=True, help_text="null only if the board could not be read")
    submitted_at = serializers.DateTimeField()


class MessageOutput(serializers.Serializer):
    message = serializers.CharField()


class SeedStandingOutput(serializers.Serializer):
    rank = serializers.IntegerField()
    username = serializers.CharField()
    points = serializers.IntegerField()


class SeedRankOutput(serializers.Serializer):
    username = serializers.CharField()
    rank = serializers.IntegerField()
    points = serializers.IntegerField()


class ClusterShardOutput(serializers.Serializer):
    slots = serializers.CharField(help_text="the hash slots the master serves, e.g. 0-5460")
    master = serializers.CharField()
    replicas = serializers.ListField(child=serializers.CharField())


class ClusterOutput(serializers.Serializer):
    state = serializers.CharField(help_text="the cluster's own state: ok or fail")
    shards = ClusterShardOutput(many=True)


class HealthOutput(serializers.Serializer):
    status = serializers.CharField()
    database = serializers.CharField()
    redis = serializers.CharField()
    redis_cluster = ClusterOutput(allow_null=True, help_text="null on a single Redis")


class MatchStateOutput(serializers.Serializer):
    type = serializers.CharField(help_text="STATE, as the live server sends it")
    seq = serializers.IntegerField(help_text="the number of moves applied")
    match_id = serializers.CharField()
    board = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(allow_null=True)),
        help_text="6 rows of 7 cells, top row first: null or the player_id whose disc it is",
    )
    turn = serializers.CharField(allow_null=True, help_text="the player to move; null once the match is over")
    status = serializers.ChoiceField(choices=["playing", "won", "draw", "abandoned"])
    winner = serializers.CharField(allow_null=True)
    moves = serializers.IntegerField()
    players = serializers.ListField(child=serializers.CharField())
    reason = serializers.CharField(allow_null=True, help_text="forfeit or expired, if not ended on the board")


class CreatedMatchOutput(serializers.Serializer):
    match_id = serializers.CharField()
    tokens = serializers.DictField(child=serializers.CharField(), help_text="each player's token for state_url")
    state_url = serializers.CharField()


class CreatedExportOutput(serializers.Serializer):
    export_id = serializers.CharField()
    job_id = serializers.CharField(help_text="the job writing it: GET /v1/jobs/{job_id}")


class ExportOutput(serializers.Serializer):
    export_id = serializers.CharField()
    game_id = serializers.CharField()
    job_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["queued", "ready", "failed"])
    rows = serializers.IntegerField(allow_null=True, help_text="players in the file, once ready")
    error = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    download_url = serializers.CharField(required=False, help_text="once ready: the CSV, for the same admin key")


class JobOutput(serializers.Serializer):
    job_id = serializers.CharField()
    task = serializers.CharField()
    state = serializers.CharField(help_text="queued, started, scheduled (waiting to retry), finished, failed, ...")
    attempts = serializers.IntegerField(help_text="times a worker started it")
    error = serializers.CharField(allow_null=True, help_text="the last failure, if it failed")
    enqueued_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
