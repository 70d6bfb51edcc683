"""The v1 API: games, play sessions, score submission and the leaderboard reads."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..exceptions import BoardNotFound, BoardUnavailable
from ..limits import ENCODABLE_POINTS_MAX
from ..models import ApiKey, Board
from ..timestamps import iso_utc
from . import schema
from .fields import (
    QueryIntegerField,
    StrictCharField,
    StrictIntegerField,
    StrictNumberField,
    StrictSlugField,
    UsernameField,
)
from .throttling import ReadThrottle, WriteThrottle, limit_player_writes

PLAYER_IDS_MAX = 200


class V1View(APIView):
    """Base of /v1/ views: errors in the v1 shape, rate limits, RateLimit headers."""

    v1 = True
    throttle_classes = [ReadThrottle]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if limit := getattr(request, "rate_limit", None):
            response["RateLimit-Limit"], response["RateLimit-Remaining"], response["RateLimit-Reset"] = map(str, limit)
        return response

    def get_throttles(self):
        classes = [WriteThrottle] if self.request.method in ("POST", "PATCH") else self.throttle_classes
        return [throttle() for throttle in classes]

    def handle_exception(self, exc):
        # A read finds no rules for a game: unknown, or Redis lost them. The second is a 503.
        if isinstance(exc, BoardNotFound) and self.request.method == "GET" and services.restore_lost_rules(exc.slug):
            exc = BoardUnavailable(f"the rules of {exc.slug!r} were missing from Redis and are being restored")
        return super().handle_exception(exc)

    def require_key(self, scope: str) -> ApiKey:
        return services.authenticate_api_key(key=self.request.headers.get("X-API-Key"), scope=scope)

    def parse(self, serializer_class, data) -> dict:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        if data is self.request.query_params and (unknown := sorted(set(data) - set(serializer.fields))):
            raise serializers.ValidationError({name: ["unknown query parameter"] for name in unknown})
        return serializer.validated_data


def _standing(standing: selectors.Standing) -> dict:
    return {"rank": standing.rank, "player_id": standing.player_id, "score": standing.score}


# --- games -------------------------------------------------------------------------------


class GameOutput(serializers.Serializer):
    game_id = serializers.CharField(source="slug")
    name = serializers.CharField()
    order = serializers.CharField()
    operator = serializers.CharField()
    min_score = serializers.IntegerField(source="min_points")
    max_score = serializers.IntegerField(source="max_points")
    max_points_per_second = serializers.FloatField(allow_null=True)
    max_session_seconds = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class GamesOutput(serializers.Serializer):
    games = GameOutput(many=True)


class GameChanges(serializers.Serializer):
    name = StrictCharField(max_length=200)
    max_points_per_second = StrictNumberField(min_value=0.001, max_value=1e9, allow_null=True, default=None)
    max_session_seconds = serializers.IntegerField(min_value=1, max_value=30 * 86400, default=3600)


class GameInput(GameChanges):
    game_id = StrictSlugField(max_length=64)
    order = serializers.ChoiceField(choices=Board.Order.choices)
    operator = serializers.ChoiceField(choices=Board.Operator.choices)
    min_score = StrictIntegerField(min_value=-(2**52), max_value=2**52)
    max_score = StrictIntegerField(min_value=-(2**52), max_value=2**52)

    def validate(self, data):
        if data["max_score"] < data["min_score"]:
            raise serializers.ValidationError({"max_score": "must not be below min_score"})
        if data["max_score"] - data["min_score"] > ENCODABLE_POINTS_MAX:
            raise serializers.ValidationError(
                {"max_score": f"max_score - min_score must be at most {ENCODABLE_POINTS_MAX:,} (exact encoding)"}
            )
        return data


class Games(V1View):
    @extend_schema(operation_id="v1_games_list", responses={200: GamesOutput, **schema.v1_errors()})
    def get(self, request):
        return Response({"games": GameOutput(services.games(), many=True).data})

    @extend_schema(
        request=GameInput, parameters=[schema.API_KEY],
        responses={201: GameOutput, **schema.v1_errors(400, 401, 403, 409, 413, 415)},
    )  # fmt: skip
    def post(self, request):
        self.require_key(ApiKey.Scope.ADMIN)
        data = self.parse(GameInput, request.data)
        board = services.create_game(slug=data.pop("game_id"), **data)
        return Response(GameOutput(board).data, status=status.HTTP_201_CREATED)


# A game's rules, fixed once it exists; other unknown fields in a PATCH are ignored.
RULE_FIELDS = {"game_id", "order", "operator", "min_score", "max_score"}


class GameDetail(V1View):
    @extend_schema(responses={200: GameOutput, **schema.v1_errors(404)})
    def get(self, request, game_id):
        return Response(GameOutput(services.game(slug=game_id)).data)

    @extend_schema(
        request=GameChanges, parameters=[schema.API_KEY],
        responses={200: GameOutput, **schema.v1_errors(400, 401, 403, 404, 413, 415)},
    )  # fmt: skip
    def patch(self, request, game_id):
        self.require_key(ApiKey.Scope.ADMIN)
        changes = GameChanges(data=request.data, partial=True)
        changes.is_valid(raise_exception=True)
        fixed = sorted(RULE_FIELDS & set(request.data)) if isinstance(request.data, dict) else []
        if fixed:
            raise serializers.ValidationError({field: ["cannot be changed once the game exists"] for field in fixed})
        board = services.update_game(slug=game_id, **changes.validated_data)
        return Response(GameOutput(board).data)


# --- sessions and scores ---------------------------------------------------------------------


class SessionInput(serializers.Serializer):
    player_id = UsernameField()
    game_id = StrictSlugField(max_length=64)


class Sessions(V1View):
    @extend_schema(
        request=SessionInput, parameters=[schema.API_KEY],
        responses={201: schema.SessionOutput, **schema.v1_errors(400, 401, 403, 404, 413, 415)},
    )  # fmt: skip
    def post(self, request):
        if settings.SESSION_START_REQUIRES_KEY:
            self.require_key(ApiKey.Scope.SERVER)
        data = self.parse(SessionInput, request.data)
        session, token = services.start_session(**data)
        body = {
            "session_id": str(session.id),
            "token": token,
            "player_id": data["player_id"],
            "game_id": data["game_id"],
            "started_at": iso_utc(session.started_at),
            "expires_at": iso_utc(session.expires_at),
        }
        return Response(body, status=status.HTTP_201_CREATED)


class ServerScoreInput(serializers.Serializer):
    player_id = UsernameField()
    game_id = StrictSlugField(max_length=64)
    score = StrictIntegerField(min_value=-(2**52), max_value=2**52)


class SessionScoreInput(ServerScoreInput):
    session_id = StrictCharField(max_length=64)


class IdempotencyHeader(serializers.Serializer):
    key = serializers.CharField(max_length=255, allow_null=True, required=False)


class Scores(V1View):
    @extend_schema(
        description="With `Authorization: Bearer <token>` and a session_id: the session's one score. "
        "With `X-API-Key` (server scope) and no session_id: a trusted server's score; `Idempotency-Key` makes it "
        "retry-safe.",
        request=SessionScoreInput, parameters=[schema.BEARER, schema.API_KEY, schema.IDEMPOTENCY_KEY],
        responses={201: schema.SubmissionOutput, **schema.v1_errors(400, 401, 403, 404, 409, 413, 415, 422)},
    )  # fmt: skip
    def post(self, request):
        authorization = request.headers.get("Authorization", "")
        if not authorization and "X-API-Key" in request.headers:
            return self._from_server(request)
        scheme, _, token = authorization.partition(" ")
        claims = services.read_token(token.strip() if scheme.lower() == "bearer" else None)
        data = self.parse(SessionScoreInput, request.data)
        limit_player_writes(request, data["player_id"])
        body = services.submit_session_score(claims=claims, **data)
        return Response(body, status=status.HTTP_201_CREATED)

    def _from_server(self, request):
        api_key = self.require_key(ApiKey.Scope.SERVER)
        data = self.parse(ServerScoreInput, request.data)
        key = self.parse(IdempotencyHeader, {"key": request.headers.get("Idempotency-Key") or None})["key"]
        limit_player_writes(request, data["player_id"])
        body = services.submit_server_score(api_key=api_key, idempotency_key=key, **data)
        return Response(body, status=status.HTTP_201_CREATED)


# --- reads -----------------------------------------------------------------------------------


class LeaderboardQuery(serializers.Serializer):
    game_id = StrictSlugField(max_length=64)
    top = QueryIntegerField(min_value=1, max_value=100, default=10)
    offset = QueryIntegerField(min_value=0, max_value=10**9, default=0)


class Leaderboard(V1View):
    @extend_schema(
        parameters=[LeaderboardQuery], responses={200: schema.LeaderboardOutput, **schema.v1_errors(400, 404)}
    )
    def get(self, request):
        query = self.parse(LeaderboardQuery, request.query_params)
        standings, total = selectors.leaderboard_page(**query)
        entries = [_standing(s) for s in standings]
        return Response({"game_id": query["game_id"], "entries": entries, "total_players": total})


class RankQuery(serializers.Serializer):
    game_id = StrictSlugField(max_length=64)
    player_id = UsernameField()
    context = QueryIntegerField(min_value=0, max_value=50, default=5)


class LeaderboardRank(V1View):
    @extend_schema(parameters=[RankQuery], responses={200: schema.NeighbourhoodOutput, **schema.v1_errors(400, 404)})
    def get(self, request):
        found = selectors.neighbourhood(**self.parse(RankQuery, request.query_params))
        player = {**_standing(found.player), "percentile": found.percentile}
        return Response(
            {
                "player": player,
                "above": [_standing(s) for s in found.above],
                "below": [_standing(s) for s in found.below],
            }
        )


# In a query string, ids are limited to what fits the 8 KiB request line that common proxies accept even when
# every character is percent-encoded 4-byte UTF-8; longer friend lists go in a POST body.
PLAYER_IDS_QUERY_MAX_LENGTH = 600


class PlayersQuery(serializers.Serializer):
    game_id = StrictSlugField(max_length=64)
    player_ids = serializers.CharField(max_length=PLAYER_IDS_QUERY_MAX_LENGTH, help_text="comma-separated")

    def validate_player_ids(self, value):
        ids = list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
        if len(ids) > PLAYER_IDS_MAX:
            raise serializers.ValidationError(f"at most {PLAYER_IDS_MAX} player ids")
        return ids


class PlayersBody(serializers.Serializer):
    game_id = StrictSlugField(max_length=64)
    player_ids = serializers.ListField(child=UsernameField(), max_length=PLAYER_IDS_MAX)


class LeaderboardPlayers(V1View):
    @extend_schema(parameters=[PlayersQuery], responses={200: schema.PlayersOutput, **schema.v1_errors(400, 404)})
    def get(self, request):
        return self._standings(self.parse(PlayersQuery, request.query_params))

    @extend_schema(
        description="The same as GET, for friend lists too long for a query string.",
        request=PlayersBody, responses={200: schema.PlayersOutput, **schema.v1_errors(400, 404, 413, 415)},
    )  # fmt: skip
    def post(self, request):
        data = self.parse(PlayersBody, request.data)
        return self._standings({"game_id": data["game_id"], "player_ids": list(dict.fromkeys(data["player_ids"]))})

    def _standings(self, query: dict) -> Response:
        standings = selectors.standings_of(**query)
        return Response({"game_id": query["game_id"], "entries": [_standing(s) for s in standings]})

    def get_throttles(self):
        return [ReadThrottle()]  # a read, whichever the method


class MatchmakingQuery(serializers.Serializer):
    game_id = StrictSlugField(max_length=64)
    player_id = UsernameField()
    size = QueryIntegerField(min_value=1, max_value=50, default=10)


class Matchmaking(V1View):
    @extend_schema(
        parameters=[MatchmakingQuery], responses={200: schema.MatchmakingOutput, **schema.v1_errors(400, 404)}
    )
    def get(self, request):
        query = self.parse(MatchmakingQuery, request.query_params)
        players = selectors.similar_players(**query)
        return Response(
            {"game_id": query["game_id"], "player_id": query["player_id"], "players": [_standing(s) for s in players]}
        )


class ProfilePath(serializers.Serializer):
    player_id = UsernameField()


class PlayerProfile(V1View):
    @extend_schema(responses={200: schema.ProfileOutput, **schema.v1_errors(400, 404)})
    def get(self, request, player_id):
        return Response(services.player_profile(**self.parse(ProfilePath, {"player_id": player_id})))
