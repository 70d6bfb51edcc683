"""Mounts the seed API (/api/), the v1 API (/v1/), the health check, the live page (/live/), and JSON
answers for unknown paths."""

from django.contrib.staticfiles.views import serve
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from leaderboard.api import health
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

handler404 = "leaderboard.api.errors.not_found"
handler500 = "leaderboard.api.errors.server_error"
