"""/v1/sessions and /v1/scores: play sessions, and scores through a session or from a trusted server."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from ... import services
from ...models import ApiKey
from .. import fields, schema
from ..endpoints import Endpoint
from ..errors import Reply
from ..fields import HeaderField, StrictCharField, StrictIntegerField, StrictSlugField, UsernameField
from ..throttling import limit_player_writes
from . import renderers


def region_field() -> StrictSlugField:
    return fields.region_field(default="", help_text="one of the game's regions: the player's, once named")


class SessionInput(serializers.Serializer):
    player_id = UsernameField()
    game_id = StrictSlugField(max_length=64)
    region = region_field()


class Sessions(Endpoint):
    @extend_schema(
        request=SessionInput, parameters=[schema.API_KEY],
        responses={201: schema.SessionOutput, **schema.v1_errors(400, 401, 403, 404, 411, 413, 415)},
    )  # fmt: skip
    def post(self, request) -> Reply:
        if settings.SESSION_START_REQUIRES_KEY:
            self.require_key(ApiKey.Scope.SERVER)
        started = services.start_session(**self.parse(SessionInput, request.data))
        return Reply(201, renderers.session(started))


class ServerScoreInput(serializers.Serializer):
    player_id = UsernameField()
    game_id = StrictSlugField(max_length=64)
    score = StrictIntegerField(min_value=-(2**52), max_value=2**52)
    region = region_field()


class SessionScoreInput(ServerScoreInput):
    session_id = StrictCharField(max_length=64)


class IdempotencyHeader(serializers.Serializer):
    key = HeaderField(max_length=255)


class Scores(Endpoint):
    @extend_schema(
        description="With `Authorization: Bearer <token>` and a session_id: the session's one score. "
        "With `X-API-Key` (server scope) and no session_id: a trusted server's score; `Idempotency-Key` makes it "
        "retry-safe.",
        request=SessionScoreInput, parameters=[schema.BEARER, schema.API_KEY, schema.IDEMPOTENCY_KEY],
        responses={201: schema.SubmissionOutput, **schema.v1_errors(400, 401, 403, 404, 409, 411, 413, 415, 422)},
    )  # fmt: skip
    def post(self, request) -> Reply:
        authorization = request.headers.get("Authorization", "")
        if not authorization and "X-API-Key" in request.headers:
            return self._from_server(request)
        scheme, _, token = authorization.partition(" ")
        claims = services.read_token(token.strip() if scheme.lower() == "bearer" else None)
        data = self.parse(SessionScoreInput, request.data)
        limit_player_writes(request, data["player_id"])
        return Reply(201, renderers.submission(services.submit_session_score(claims=claims, **data)))

    def _from_server(self, request) -> Reply:
        caller = self.require_key(ApiKey.Scope.SERVER)
        data = self.parse(ServerScoreInput, request.data)
        key = self.parse(IdempotencyHeader, {"key": request.headers.get("Idempotency-Key") or None})["key"]
        limit_player_writes(request, data["player_id"])
        accepted = services.submit_server_score(caller=caller, idempotency_key=key, **data)
        return Reply(201, renderers.submission(accepted))
