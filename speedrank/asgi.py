"""ASGI entry point: the live server's WebSocket application (leaderboard/live), which
`python -m speedrank.serve` runs with granian on WS_PORT beside the REST API's WSGI server."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedrank.settings")
django.setup()

from leaderboard.live.app import LiveApplication  # noqa: E402  (needs Django set up first)

application = LiveApplication()
