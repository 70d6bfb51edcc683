"""WSGI entry point: speedrank.serve (granian) serves `speedrank.wsgi:application`, Django with
the seed API's hot calls answered in front of it (leaderboard/api/front.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedrank.settings")
django_application = get_wsgi_application()

from leaderboard.api.front import SeedFront  # noqa: E402  (needs Django set up first)

application = SeedFront(django_application)

# Each server process loads this module once, at its start (granian's workers, runserver's child).
from leaderboard.services import start_serving_process  # noqa: E402

start_serving_process()
