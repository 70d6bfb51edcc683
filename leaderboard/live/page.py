"""The live page, served by the HTTP app: a game's top 10 and one followed player, kept current in
the browser by the live server's leaderboard stream."""

from django.shortcuts import render
from django.urls import reverse

from .. import services
from ..exceptions import BoardNotFound
from .address import LEADERBOARD_PATH, live_url

TOP = 10
NEIGHBOURS = 2  # players shown above and below the followed one


def live_page(request, game_id: str):
    try:
        game = services.game(slug=game_id)
    except BoardNotFound:
        return render(request, "leaderboard/live_not_found.html", {"game_id": game_id}, status=404)
    config = {
        "game_id": game.slug,
        "socket_url": f"{live_url(request)}{LEADERBOARD_PATH}",
        "rank_url": reverse("v1-leaderboard-rank"),
        "top": TOP,
        "context": NEIGHBOURS,
    }
    return render(request, "leaderboard/live.html", {"game": game, "config": config})
