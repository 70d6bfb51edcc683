"""Routes of /v1/; a trailing slash is optional."""

from django.urls import re_path

from . import v1

urlpatterns = [
    re_path(r"^games/?$", v1.Games.as_view(), name="v1-games"),
    re_path(r"^games/(?P<game_id>[-a-zA-Z0-9_]+)/?$", v1.GameDetail.as_view(), name="v1-game"),
    re_path(r"^sessions/?$", v1.Sessions.as_view(), name="v1-sessions"),
    re_path(r"^scores/?$", v1.Scores.as_view(), name="v1-scores"),
    re_path(r"^leaderboard/?$", v1.Leaderboard.as_view(), name="v1-leaderboard"),
    re_path(r"^leaderboard/rank/?$", v1.LeaderboardRank.as_view(), name="v1-leaderboard-rank"),
    re_path(r"^leaderboard/players/?$", v1.LeaderboardPlayers.as_view(), name="v1-leaderboard-players"),
    re_path(r"^matchmaking/?$", v1.Matchmaking.as_view(), name="v1-matchmaking"),
    re_path(r"^players/(?P<player_id>[^/]+)/?$", v1.PlayerProfile.as_view(), name="v1-player"),
]
