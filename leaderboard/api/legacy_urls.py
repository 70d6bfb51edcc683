"""Routes of the seed API; the trailing slash is optional, and top-10/ and rank/ are aliases."""

from django.urls import re_path

from . import legacy

urlpatterns = [
    re_path(r"^score/?$", legacy.SubmitScore.as_view(), name="submit-score"),
    re_path(r"^(?:top-players|top-10)/?$", legacy.TopPlayers.as_view(), name="top-players"),
    re_path(r"^(?:my-rank|rank)/?$", legacy.MyRank.as_view(), name="my-rank"),
]
