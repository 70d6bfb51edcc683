"""WSGI entry point: speedrank.serve (granian) serves `speedrank.wsgi:application`, Django with the
API's plain calls answered by their endpoints in front of it (leaderboard/api/fastpath.py), and
chunked bodies read for both."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedrank.settings")
django_application = get_wsgi_application()

# The app's modules need Django set up first.
from leaderboard import services  # noqa: E402
from leaderboard.api.fastpath import FastPath  # noqa: E402
from leaderboard.api.middleware import ChunkedBodies  # noqa: E402

application = ChunkedBodies(FastPath(django_application))

# Each server process loads this module once, at its start (granian's workers, runserver's child).
services.start_serving()
