"""Settings: SQLite pragmas really take effect, and malformed environment values stop the start."""

import json
import os
import stat
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from speedrank.settings import secret_key_from_file

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite settings")


@sqlite_only
@pytest.mark.django_db
@pytest.mark.parametrize("pragma, value", [("journal_mode", "wal"), ("synchronous", 2), ("busy_timeout", 5000)])
def test_sqlite_pragmas_take_effect_on_every_connection(pragma, value):
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {pragma}")
        assert cursor.fetchone()[0] == value


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("PORT", "eighty", "PORT must be a whole number; got 'eighty'."),
        ("PORT", "70000", "PORT must be between 1 and 65535; got 70000."),
        ("DEBUG", "maybe", "DEBUG must be one of 1/0, true/false, yes/no, on/off; got 'maybe'."),
        ("DATABASE_URL", "nosuchdb://x", "DATABASE_URL is not a database URL"),
        ("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL must start with redis://, rediss:// or unix://"),
        ("REDIS_SOCKET_TIMEOUT", "soon", "REDIS_SOCKET_TIMEOUT must be a number; got 'soon'."),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be between 1 and 256; got 0."),
        ("REDIS_URL", "redis://127.0.0.1:notaport/0", "REDIS_URL has a malformed port"),
        ("HOST", "bad host", "HOST must be an IP address or a host name; got 'bad host'."),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; got 'loud'."),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be json or plain; got 'xml'."),
        ("AVATARS_URL", "avatars/", "AVATARS_URL must be a path or an http(s) URL ending with /; got 'avatars/'."),
        ("AVATARS_URL", "https://cdn.example.com/a", "AVATARS_URL must be a path or an http(s) URL ending with /"),
    ],
)
def test_a_malformed_value_stops_the_start_with_a_clear_message(name, value, message):
    env = {**os.environ, "SECRET_KEY": "test", name: value}

    result = subprocess.run(
        [sys.executable, "-c", "import speedrank.settings"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_the_secret_key_is_generated_once_and_kept_private(tmp_path):
    path = tmp_path / "var" / "secret_key"

    first, second = secret_key_from_file(path), secret_key_from_file(path)

    assert first == second
    assert len(first) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_debug_is_off_and_the_server_is_on_loopback_by_default():
    env = {name: value for name, value in os.environ.items() if name not in {"DEBUG", "HOST", "PORT"}}
    code = "import speedrank.settings as s; print(s.DEBUG, s.SERVER_HOST, s.SERVER_PORT)"

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={**env, "SECRET_KEY": "test"},
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "False 127.0.0.1 8000"


@pytest.mark.parametrize("host", ["0.0.0.0", "::1", "api.example.com", "localhost"])
def test_hosts_that_can_be_bound_are_accepted(host):
    result = subprocess.run(
        [sys.executable, "-c", "import speedrank.settings as s; print(s.SERVER_HOST)"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "SECRET_KEY": "test", "HOST": host},
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == host


def test_check_deploy_passes_with_the_production_settings(tmp_path):
    env = {name: value for name, value in os.environ.items() if name not in {"DEBUG", "SECRET_KEY"}}
    env |= {"BEHIND_TLS_PROXY": "1", "SECRET_KEY": secret_key_from_file(tmp_path / "secret_key")}

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_logs_are_one_json_object_per_line_with_the_events_fields():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('leaderboard.services')"
        ".warning('score rejected', extra={'event': 'score_rejected', 'submitted': 7})"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=settings.BASE_DIR, capture_output=True, text=True, check=True,
        env={**os.environ, "SECRET_KEY": "test", "DJANGO_SETTINGS_MODULE": "speedrank.settings", "LOG_FORMAT": "json"},
    )  # fmt: skip

    [line] = result.stderr.splitlines()
    logged = json.loads(line)
    assert {key: logged[key] for key in ("level", "logger", "message", "event", "submitted")} == {
        "level": "WARNING", "logger": "leaderboard.services", "message": "score rejected",
        "event": "score_rejected", "submitted": 7,
    }  # fmt: skip
