"""Routes of /v1/; a trailing slash is optional."""

from django.urls import re_path

from . import avatars, games, jobs, matches, reads, scores

urlpatterns = [
    re_path(r"^games/?$", games.Games.as_view(), name="v1-games"),
    re_path(r"^games/(?P<game_id>[-a-zA-Z0-9_]+)/?$", games.GameDetail.as_view(), name="v1-game"),
    re_path(
        r"^games/(?P<game_id>[-a-zA-Z0-9_]+)/players/(?P<player_id>[^/]+)/region/?$",
        games.PlayerRegion.as_view(),
        name="v1-player-region",
    ),  # fmt: skip
    re_path(r"^sessions/?$", scores.Sessions.as_view(), name="v1-sessions"),
    re_path(r"^scores/?$", scores.Scores.as_view(), name="v1-scores"),
    re_path(r"^leaderboard/?$", reads.Leaderboard.as_view(), name="v1-leaderboard"),
    re_path(r"^leaderboard/rank/?$", reads.LeaderboardRank.as_view(), name="v1-leaderboard-rank"),
    re_path(r"^leaderboard/players/?$", reads.LeaderboardPlayers.as_view(), name="v1-leaderboard-players"),
    re_path(r"^matchmaking/?$", reads.Matchmaking.as_view(), name="v1-matchmaking"),
    re_path(r"^matches/?$", matches.Matches.as_view(), name="v1-matches"),
    re_path(r"^matches/(?P<match_id>[-a-zA-Z0-9_]+)/?$", matches.MatchDetail.as_view(), name="v1-match"),
    re_path(r"^players/(?P<player_id>[^/]+)/?$", reads.PlayerProfile.as_view(), name="v1-player"),
    re_path(r"^players/(?P<player_id>[^/]+)/avatar/?$", avatars.PlayerAvatar.as_view(), name="v1-player-avatar"),
    re_path(r"^games/(?P<game_id>[-a-zA-Z0-9_]+)/periods/?$", games.GamePeriods.as_view(), name="v1-game-periods"),
    re_path(
        r"^games/(?P<game_id>[-a-zA-Z0-9_]+)/periods/close/?$",
        games.ClosePeriod.as_view(),
        name="v1-game-periods-close",
    ),
    re_path(r"^games/(?P<game_id>[-a-zA-Z0-9_]+)/exports/?$", jobs.GameExports.as_view(), name="v1-game-exports"),
    re_path(r"^exports/(?P<export_id>[-a-zA-Z0-9_]+)/?$", jobs.ExportDetail.as_view(), name="v1-export"),
    re_path(r"^exports/(?P<export_id>[-a-zA-Z0-9_]+)/download/?$", jobs.export_download, name="v1-export-download"),
    re_path(r"^jobs/(?P<job_id>[-a-zA-Z0-9_]+)/?$", jobs.JobDetail.as_view(), name="v1-job"),
]
