"""The seed API's three calls: submit a score, the top ten, a player's rank."""

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers

from ... import selectors, services
from ...limits import DEFAULT_BOARD_SLUG, POINTS_MAX, POINTS_MIN, TOP_PLAYERS_COUNT
from ...models import ApiKey
from .. import schema
from ..endpoints import Endpoint
from ..errors import Reply
from ..fields import StrictIntegerField, UsernameField

SUBMITTED = {"message": "Score submitted"}


def seed_rank(standing: selectors.Standing) -> dict:
    return {"username": standing.player_id, "rank": standing.rank, "points": standing.score}


class SeedEndpoint(Endpoint):
    v1 = False


class SubmitScore(SeedEndpoint):
    class Input(serializers.Serializer):
        username = UsernameField()
        points = StrictIntegerField(min_value=POINTS_MIN, max_value=POINTS_MAX)

    @extend_schema(
        request=Input, parameters=[schema.API_KEY],
        responses={201: schema.MessageOutput, **schema.legacy_errors(400, 401, 403, 411, 413, 415, 503)},
    )  # fmt: skip
    def post(self, request) -> Reply:
        if settings.SEED_SUBMIT_REQUIRES_KEY:
            self.require_key(ApiKey.Scope.SERVER)
        services.submit_score(**self.parse(self.Input, request.data))
        return Reply(201, SUBMITTED)


class TopPlayers(SeedEndpoint):
    @extend_schema(responses={200: schema.SeedStandingOutput(many=True), **schema.legacy_errors(503)})
    def get(self, request) -> Reply:
        page = selectors.leaderboard_page(
            game_id=DEFAULT_BOARD_SLUG, top=TOP_PLAYERS_COUNT, offset=0, count_players=False
        )
        return Reply(200, [{"rank": s.rank, "username": s.player_id, "points": s.score} for s in page.standings])


class MyRank(SeedEndpoint):
    class Input(serializers.Serializer):
        username = UsernameField()

    @extend_schema(
        parameters=[Input],
        responses={
            200: schema.SeedRankOutput, **schema.legacy_errors(400, 503),
            404: inline_serializer("PlayerNotFoundMessage", {"message": serializers.CharField()}),
        },
    )  # fmt: skip
    def get(self, request) -> Reply:
        username = self.parse(self.Input, request.query_params)["username"]
        return Reply(200, seed_rank(selectors.standing(game_id=DEFAULT_BOARD_SLUG, player_id=username)))
