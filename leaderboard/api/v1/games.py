"""/v1/games: creating, listing, reading and changing games (admin keys for the changes)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from ... import services
from ...models import ApiKey, Board
from .. import schema
from ..endpoints import Endpoint
from ..errors import Reply
from ..fields import (
    QueryIntegerField,
    StrictCharField,
    StrictIntegerField,
    StrictNumberField,
    StrictSlugField,
    region_field,
)
from . import renderers
from .reads import ProfilePath


def reset_field() -> serializers.JSONField:
    # As sent: the service says what is wrong with it.
    return serializers.JSONField(
        required=False, allow_null=True, default=None,
        help_text='{"every": "day"|"week"|"month", "timezone": an IANA name (UTC), "at": "HH:MM" (00:00)}; '
        "null: never reset. A change applies from the open period's end on",
    )  # fmt: skip


class GameChanges(serializers.Serializer):
    name = StrictCharField(max_length=200)
    max_points_per_second = StrictNumberField(min_value=0.001, max_value=1e9, allow_null=True, default=None)
    max_session_seconds = serializers.IntegerField(min_value=1, max_value=30 * 86400, default=3600)
    reset = reset_field()


class GameInput(GameChanges):
    """The fields' own checks; the rules across them (the range) are the service's."""

    game_id = StrictSlugField(max_length=64)
    order = serializers.ChoiceField(choices=Board.Order.choices)
    operator = serializers.ChoiceField(choices=Board.Operator.choices)
    min_score = StrictIntegerField(min_value=-(2**52), max_value=2**52)
    max_score = StrictIntegerField(min_value=-(2**52), max_value=2**52)
    # As sent: the service says what is wrong with it.
    regions = serializers.JSONField(
        required=False, allow_null=True, default=None, help_text="2 to 16 distinct lowercase region slugs"
    )
    reset = reset_field()


class Games(Endpoint):
    @extend_schema(operation_id="v1_games_list", responses={200: schema.GamesOutput, **schema.v1_errors()})
    def get(self, request) -> Reply:
        return Reply(200, {"games": [renderers.game(found) for found in services.game_views(services.games())]})

    @extend_schema(
        request=GameInput, parameters=[schema.API_KEY],
        responses={201: schema.GameOutput, **schema.v1_errors(400, 401, 403, 409, 411, 413, 415)},
    )  # fmt: skip
    def post(self, request) -> Reply:
        self.require_key(ApiKey.Scope.ADMIN)
        data = self.parse(GameInput, request.data)
        created = services.create_game(slug=data.pop("game_id"), **data)
        return Reply(201, renderers.game(services.game_view(created.slug)))


class GameDetail(Endpoint):
    @extend_schema(responses={200: schema.GameOutput, **schema.v1_errors(404)})
    def get(self, request, game_id) -> Reply:
        return Reply(200, renderers.game(services.game_view(game_id)))

    @extend_schema(
        request=GameChanges, parameters=[schema.API_KEY],
        responses={200: schema.GameOutput, **schema.v1_errors(400, 401, 403, 404, 411, 413, 415)},
    )  # fmt: skip
    def patch(self, request, game_id) -> Reply:
        self.require_key(ApiKey.Scope.ADMIN)
        changes = GameChanges(data=request.data, partial=True)
        changes.is_valid(raise_exception=True)
        # The game's rules are the service's to refuse; any other field the body names is ignored.
        rules_named = services.RULE_FIELDS.intersection(request.data)
        services.update_game(slug=game_id, rules_named=rules_named, **changes.validated_data)
        return Reply(200, renderers.game(services.game_view(game_id)))


class PeriodsQuery(serializers.Serializer):
    limit = QueryIntegerField(min_value=1, max_value=100, default=20)
    before = QueryIntegerField(
        min_value=1, max_value=2**62, required=False, help_text="a period's id: the periods that began before it"
    )


class GamePeriods(Endpoint):
    @extend_schema(parameters=[PeriodsQuery], responses={200: schema.PeriodsOutput, **schema.v1_errors(400, 404)})
    def get(self, request, game_id) -> Reply:
        query = self.parse(PeriodsQuery, request.query_params)
        return Reply(200, renderers.periods(game_id, services.closed_periods(game_id=game_id, **query)))


class ClosePeriod(Endpoint):
    @extend_schema(
        request=None, parameters=[schema.API_KEY],
        description="Close the open period now, as a reset at a boundary does (through the same job).",
        responses={202: schema.ClosingOutput, **schema.v1_errors(401, 403, 404)},
    )  # fmt: skip
    def post(self, request, game_id) -> Reply:
        self.require_key(ApiKey.Scope.ADMIN)
        return Reply(202, renderers.closing(services.request_close(game_id=game_id)))


class MoveInput(serializers.Serializer):
    region = region_field(required=True)


class PlayerRegion(Endpoint):
    @extend_schema(
        request=MoveInput, parameters=[schema.API_KEY],
        responses={200: schema.RegionalStandingOutput, **schema.v1_errors(400, 401, 403, 404, 411, 413, 415)},
    )  # fmt: skip
    def post(self, request, game_id, player_id) -> Reply:
        self.require_key(ApiKey.Scope.ADMIN)
        player_id = self.parse(ProfilePath, {"player_id": player_id})["player_id"]
        region = self.parse(MoveInput, request.data)["region"]
        return Reply(
            200, renderers.regional_standing(services.move_player(game_id=game_id, player_id=player_id, region=region))
        )
