"""/v1/ reads: the leaderboard, a player's rank with neighbours, chosen players, matchmaking, profiles."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from ... import selectors, services
from .. import fields, schema
from ..endpoints import Endpoint
from ..errors import Reply
from ..fields import PeriodField, PlayerIdsField, QueryIntegerField, StrictSlugField, UsernameField, UsernameListField
from . import renderers

PLAYER_IDS_MAX = 200
# In a query string, ids are limited to what fits the 8 KiB request line that common proxies accept even when
# every character is percent-encoded 4-byte UTF-8; longer friend lists go in a POST body.
PLAYER_IDS_QUERY_MAX_LENGTH = 600


def region_field() -> StrictSlugField:
    return fields.region_field(help_text="one of the game's regions: read that region's own board, with regional ranks")


class LeaderboardQuery(serializers.Serializer):
    game_id = StrictSlugField(max_length=64)
    region = region_field()
    period = PeriodField()
    top = QueryIntegerField(min_value=1, max_value=100, default=10)
    offset = QueryIntegerField(min_value=0, max_value=10**9, default=0)


class Leaderboard(Endpoint):
    @extend_schema(
        parameters=[LeaderboardQuery], responses={200: schema.LeaderboardOutput, **schema.v1_errors(400, 404)}
    )
    def get(self, request) -> Reply:
        query = self.parse(LeaderboardQuery, request.query_params)
        return Reply(200, renderers.page(query["game_id"], selectors.leaderboard_page(**query)))


class RankQuery(serializers.Serializer):
    game_id = StrictSlugField(max_length=64)
    region = region_field()
    period = PeriodField()
    player_id = UsernameField()
    context = QueryIntegerField(min_value=0, max_value=50, default=5)


class LeaderboardRank(Endpoint):
    @extend_schema(parameters=[RankQuery], responses={200: schema.NeighbourhoodOutput, **schema.v1_errors(400, 404)})
    def get(self, request) -> Reply:
        found = selectors.neighbourhood(**self.parse(RankQuery, request.query_params))
        return Reply(200, renderers.neighbourhood(found))


class PlayersQuery(serializers.Serializer):
    game_id = StrictSlugField(max_length=64)
    region = region_field()
    player_ids = PlayerIdsField(
        most=PLAYER_IDS_MAX, max_length=PLAYER_IDS_QUERY_MAX_LENGTH, help_text="comma-separated"
    )


class PlayersBody(serializers.Serializer):
    game_id = StrictSlugField(max_length=64)
    region = region_field()
    player_ids = UsernameListField(child=UsernameField(), max_length=PLAYER_IDS_MAX)


class LeaderboardPlayers(Endpoint):
    write_methods = frozenset()  # a read, whichever the method

    @extend_schema(parameters=[PlayersQuery], responses={200: schema.PlayersOutput, **schema.v1_errors(400, 404)})
    def get(self, request) -> Reply:
        return self._standings(self.parse(PlayersQuery, request.query_params))

    @extend_schema(
        description="The same as GET, for friend lists too long for a query string.",
        request=PlayersBody, responses={200: schema.PlayersOutput, **schema.v1_errors(400, 404, 411, 413, 415)},
    )  # fmt: skip
    def post(self, request) -> Reply:
        data = self.parse(PlayersBody, request.data)
        return self._standings(data | {"player_ids": list(dict.fromkeys(data["player_ids"]))})

    def _standings(self, query: dict) -> Reply:
        return Reply(200, renderers.standings(query["game_id"], selectors.standings_of(**query)))


class MatchmakingQuery(serializers.Serializer):
    game_id = StrictSlugField(max_length=64)
    region = region_field()
    player_id = UsernameField()
    size = QueryIntegerField(min_value=1, max_value=50, default=10)


class Matchmaking(Endpoint):
    @extend_schema(
        parameters=[MatchmakingQuery], responses={200: schema.MatchmakingOutput, **schema.v1_errors(400, 404)}
    )
    def get(self, request) -> Reply:
        query = self.parse(MatchmakingQuery, request.query_params)
        found = selectors.similar_players(**query)
        return Reply(200, renderers.matchmaking(query["game_id"], query["player_id"], found))


class ProfilePath(serializers.Serializer):
    player_id = UsernameField()


class PlayerProfile(Endpoint):
    @extend_schema(responses={200: schema.ProfileOutput, **schema.v1_errors(400, 404)})
    def get(self, request, player_id) -> Reply:
        found = services.player_profile(**self.parse(ProfilePath, {"player_id": player_id}))
        return Reply(200, renderers.profile(found))
