"""Routes of the seed API; the trailing slash is optional, and top-10/ and rank/ are aliases."""

from django.urls import re_path
from drf_spectacular.utils import extend_schema

from . import views


def alias(view_class):
    """The same view under another path, left out of the schema (it documents the main path)."""
    return extend_schema(exclude=True)(type(f"{view_class.__name__}Alias", (view_class,), {})).as_view()


urlpatterns = [
    re_path(r"^score/?$", views.SubmitScore.as_view(), name="submit-score"),
    re_path(r"^top-players/?$", views.TopPlayers.as_view(), name="top-players"),
    re_path(r"^top-10/?$", alias(views.TopPlayers), name="top-10"),
    re_path(r"^my-rank/?$", views.MyRank.as_view(), name="my-rank"),
    re_path(r"^rank/?$", alias(views.MyRank), name="rank"),
]
