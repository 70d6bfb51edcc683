"""Settings: SQLite pragmas really take effect, and malformed environment values stop the start."""
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


@sqlite_only
@pytest.mark.django_db
def test_sqlite_transactions_take_the_write_lock_at_begin():
    assert connection.transaction_mode == "IMMEDIATE"


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
    ],
)
def test_a_malformed_value_stops_the_start_with_a_clear_message(name, value, message):
    env = {**os.environ, "SECRET_KEY": "test", name: value}

    result = subprocess.run(
        [sys.executable, "-c", "import speedrank.settings"], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
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


def test_debug_is_off_unless_asked_for():
    assert settings.DEBUG is False
