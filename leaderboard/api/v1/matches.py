"""/v1/matches: creating a match room (server keys) and reading its state."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from ... import services
from ...match_rules import RULES
from ...models import ApiKey
from .. import schema
from ..endpoints import Endpoint
from ..errors import Reply
from ..fields import StrictSlugField, UsernameField


class MatchInput(serializers.Serializer):
    game_id = StrictSlugField(max_length=64)
    players = serializers.ListField(child=UsernameField(), min_length=2, max_length=2)
    rules = serializers.ChoiceField(choices=RULES, default=RULES[0])


class Matches(Endpoint):
    @extend_schema(
        request=MatchInput, parameters=[schema.API_KEY],
        responses={201: schema.CreatedMatchOutput, **schema.v1_errors(400, 401, 403, 404, 411, 413, 415)},
    )  # fmt: skip
    def post(self, request) -> Reply:
        caller = self.require_key(ApiKey.Scope.SERVER)
        created = services.matches.create_match(caller=caller, **self.parse(MatchInput, request.data))
        match_id = created.state.match_id
        state_url = f"{live_url(request)}/v1/matches/{match_id}/state"
        return Reply(201, {"match_id": match_id, "tokens": created.tokens, "state_url": state_url})


class MatchDetail(Endpoint):
    @extend_schema(responses={200: schema.MatchStateOutput, **schema.v1_errors(404)})
    def get(self, request, match_id) -> Reply:
        state, _version = services.matches.match_state(match_id=match_id)
        return Reply(200, state.message())


def live_url(request) -> str:
    """Where clients reach the live server: LIVE_PUBLIC_URL, or the request's host on WS_PORT."""
    if settings.LIVE_PUBLIC_URL:
        return settings.LIVE_PUBLIC_URL.rstrip("/")
    host = request.get_host()
    host = host if host.endswith("]") else host.rsplit(":", 1)[0]  # without its port; [IPv6] kept whole
    return f"{'wss' if request.is_secure() else 'ws'}://{host}:{settings.WS_PORT}"
