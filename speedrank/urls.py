"""Mounts the seed API (/api/), the health check, and JSON answers for unknown paths."""

from django.urls import include, path

from leaderboard.api import health

urlpatterns = [
    path("api/", include("leaderboard.api.legacy_urls")),
    path("health/", health.HealthView.as_view(), name="health"),
]

handler404 = "leaderboard.api.errors.not_found"
handler500 = "leaderboard.api.errors.server_error"
