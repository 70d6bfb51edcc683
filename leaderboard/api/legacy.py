"""The seed API under /api/: its paths and JSON shapes are a contract existing clients rely on."""

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from .. import selectors, services
from ..limits import POINTS_MAX, POINTS_MIN
from ..models import ApiKey
from . import schema
from .fields import StrictIntegerField, UsernameField
from .lean import LeanView, json_response, plain_json_object

SUBMITTED = {"message": "Score submitted"}


def plain_submission(body: dict | None) -> tuple[str, int] | None:
    """(username, points) of a submission valid at a glance, else None."""
    username = UsernameField.plainly_valid(body.get("username")) if body else None
    points = body.get("points") if body else None
    if username is None or type(points) is not int or not POINTS_MIN <= points <= POINTS_MAX:
        return None
    return username, points


def top_players_body() -> list[dict]:
    return [{"rank": p.rank, "username": p.username, "points": p.points} for p in selectors.top_players()]


def my_rank_body(username: str) -> dict:
    player = selectors.rank_for(username=username)
    return {"username": player.username, "rank": player.rank, "points": player.points}


class SubmitScore(LeanView):
    class Input(serializers.Serializer):
        username = UsernameField()
        points = StrictIntegerField(min_value=POINTS_MIN, max_value=POINTS_MAX)

    @extend_schema(
        request=Input, parameters=[schema.API_KEY],
        responses={201: schema.MessageOutput, **schema.legacy_errors(400, 401, 403, 413, 415, 503)},
    )  # fmt: skip
    def post(self, request):
        if settings.SEED_SUBMIT_REQUIRES_KEY:
            services.authenticate_api_key(key=request.headers.get("X-API-Key"), scope=ApiKey.Scope.SERVER)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        services.submit_score(**data.validated_data)
        return Response(SUBMITTED, status=status.HTTP_201_CREATED)

    def lean_post(self, request):
        body = None if settings.SEED_SUBMIT_REQUIRES_KEY else plain_json_object(request)
        submission = plain_submission(body)
        if submission is None:
            return None  # the serializer says what is wrong, or accepts what the glance did not
        services.submit_score(username=submission[0], points=submission[1])
        return json_response(SUBMITTED, status=status.HTTP_201_CREATED)


class TopPlayers(LeanView):
    @extend_schema(responses={200: schema.SeedStandingOutput(many=True), **schema.legacy_errors(503)})
    def get(self, request):
        return Response(top_players_body())

    def lean_get(self, request):
        return json_response(top_players_body())


class MyRank(LeanView):
    class Input(serializers.Serializer):
        username = UsernameField()

    @extend_schema(
        parameters=[Input],
        responses={
            200: schema.SeedRankOutput, **schema.legacy_errors(400, 503),
            404: inline_serializer("PlayerNotFoundMessage", {"message": serializers.CharField()}),
        },
    )  # fmt: skip
    def get(self, request):
        return Response(self._body(request.query_params))

    def lean_get(self, request):
        return json_response(self._body(request.GET))

    def _body(self, query_params) -> dict:
        username = UsernameField.plainly_valid(query_params.get("username"))
        if username is None:  # absent, or not plainly valid: the serializer says which, or accepts it
            query = self.Input(data=query_params)
            query.is_valid(raise_exception=True)
            username = query.validated_data["username"]
        return my_rank_body(username)
