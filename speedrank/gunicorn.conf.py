"""Gunicorn settings, taken from the Django settings so the environment is read and checked in one place."""

import os
import shutil

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "speedrank.settings")

from django.conf import settings  # noqa: E402  (needs DJANGO_SETTINGS_MODULE first)

# Workers share their metrics through files in a directory of this master's own. It must be
# set before prometheus_client is first imported, here in the master, before workers fork.
_metrics_dir = settings.VAR_DIR / "prometheus" / str(os.getpid())
_metrics_dir.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)

from prometheus_client import multiprocess  # noqa: E402

_host = settings.SERVER_HOST
bind = f"[{_host}]:{settings.SERVER_PORT}" if ":" in _host else f"{_host}:{settings.SERVER_PORT}"
workers = settings.SERVER_WORKERS
worker_class = "sync"
timeout = 30
limit_request_line = 8190  # gunicorn's largest; /v1/ query strings are sized to fit
graceful_timeout = 10
errorlog = "-"


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    shutil.rmtree(os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""), ignore_errors=True)


def post_worker_init(worker):
    # A worker that starts after another died replays the scores Redis missed (queued ones, and
    # recent ones whose mirror may never have run), and republishes the games' rules.
    from leaderboard.services import publish_all_rules, schedule_catch_up

    schedule_catch_up(replay_recent=True)
    publish_all_rules()
