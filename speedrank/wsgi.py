"""WSGI entry point: speedrank.serve (granian) serves `speedrank.wsgi:application`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedrank.settings")
application = get_wsgi_application()

# Each server process loads this module once, at its start (granian's workers, runserver's child).
from leaderboard.services import start_serving_process  # noqa: E402

start_serving_process()
