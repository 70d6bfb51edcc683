"""WSGI entry point: speedrank.serve (granian) serves `speedrank.wsgi:application`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedrank.settings")
application = get_wsgi_application()

# Each serving process, at its start, replays the scores Redis may have missed (queued ones, and
# recent ones whose mirror may never have run, if the process before it died) and republishes
# the games' rules.
from leaderboard.services import publish_all_rules, schedule_catch_up  # noqa: E402

schedule_catch_up(replay_recent=True)
publish_all_rules()
