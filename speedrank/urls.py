"""Mounts the seed API (/api/), the v1 API (/v1/), the health check, the live page (/live/), the
avatars' files (AVATARS_URL), and JSON answers for unknown paths."""

import re

from django.conf import settings
from django.contrib.staticfiles.views import serve
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from leaderboard.api import health
from leaderboard.api.v1 import avatars
from leaderboard.live.page import live_page

urlpatterns = [
    path("api/", include("leaderboard.api.seed.urls")),
    path("v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("v1/", include("leaderboard.api.v1.urls")),
    path("health/", health.HealthView.as_view(), name="health"),
    path("metrics", health.metrics_view, name="metrics"),
    re_path(r"^live/(?P<game_id>[-a-zA-Z0-9_]+)/?$", live_page, name="live-page"),
]

# Swagger UI's files, served by Django itself even with DEBUG off: they are few, and only the
# docs page asks for them.
urlpatterns += [re_path(r"^static/(?P<path>.+)$", serve, {"insecure": True})]

# Avatars' files, when AVATARS_URL is a path here (a CDN's or the front server's URL otherwise).
if settings.AVATARS_URL.startswith("/"):
    prefix = re.escape(settings.AVATARS_URL[1:])
    urlpatterns += [re_path(rf"^{prefix}(?P<name>{avatars.FILE_NAME})$", avatars.avatar_file, name="avatar-file")]

handler404 = "leaderboard.api.errors.not_found"
handler500 = "leaderboard.api.errors.server_error"
