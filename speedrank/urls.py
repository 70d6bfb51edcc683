"""Mounts the seed API (/api/), the v1 API (/v1/), the health check, and JSON answers for unknown paths."""

from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from leaderboard.api import health

urlpatterns = [
    path("api/", include("leaderboard.api.legacy_urls")),
    path("v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("v1/", include("leaderboard.api.v1_urls")),
    path("health/", health.HealthView.as_view(), name="health"),
]

# Swagger UI's assets; served by Django itself, as they are few and only the docs page uses them.
urlpatterns += staticfiles_urlpatterns()

handler404 = "leaderboard.api.errors.not_found"
handler500 = "leaderboard.api.errors.server_error"
