"""SpeedRank settings: the one module that reads the environment.

Every variable is listed in the README's configuration table. A malformed value
stops the process at start with ImproperlyConfigured naming the variable.
"""

import ipaddress
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
import orjson
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # git-ignored runtime state: SQLite file, local Redis, generated secret
VAR_DIR.mkdir(exist_ok=True)

_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}.")
    return value in _TRUE


def env_int(name: str, default: int, *, minimum: int, maximum: int) -> int:
    return _env_number(name, default, int, "a whole number", minimum, maximum)


def env_float(name: str, default: float, *, minimum: float, maximum: float) -> float:
    return _env_number(name, default, float, "a number", minimum, maximum)


def _env_number(name, default, parse, kind: str, minimum, maximum):
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {kind}; got {raw!r}.") from None
    if not minimum <= value <= maximum:
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}; got {value}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def secret_key_from_file(path: Path) -> str:
    """Read the generated secret, creating it once; O_EXCL keeps concurrent starters to one writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def database_from_url(url: str) -> dict:
    try:
        config = dj_database_url.parse(url, conn_max_age=600, conn_health_checks=True)
    except ValueError as error:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {error}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = SQLITE_OPTIONS
        config["TEST"] = {"NAME": str(Path(config["NAME"]).with_suffix(".test.sqlite3"))}
    return config


def redis_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://; got {url!r}.")
    try:
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError:
        raise ImproperlyConfigured(f"REDIS_URL has a malformed port; got {url!r}.") from None
    return url


def url_prefix(name: str, url: str) -> str:
    """A path or an http(s) URL that names are appended to: it ends with a slash."""
    is_path = url.startswith("/") and not url.startswith("//")
    if not url.endswith("/") or not (is_path or urlsplit(url).scheme in {"http", "https"}):
        raise ImproperlyConfigured(f"{name} must be a path or an http(s) URL ending with /; got {url!r}.")
    return url


def bind_host(host: str) -> str:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.fullmatch(host):
            raise ImproperlyConfigured(f"HOST must be an IP address or a host name; got {host!r}.") from None
    return host


def log_level(level: str) -> str:
    if level.upper() not in _LOG_LEVELS:
        raise ImproperlyConfigured(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}; got {level!r}.")
    return level.upper()


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "") or secret_key_from_file(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

# Where and how granian serves (read by speedrank/serve.py): worker processes, each running the
# application on a few threads, so one waiting on Redis or SQLite holds up no other. One more
# worker than cores, and 4 threads: more serve slightly more but wait longer for the GIL, and the
# writer holding SQLite's lock waits with them (`make bench-http` on 2 cores).
SERVER_HOST = bind_host(env_str("HOST", "127.0.0.1"))
SERVER_PORT = env_int("PORT", 8000, minimum=1, maximum=65535)
SERVER_WORKERS = env_int("WEB_CONCURRENCY", (os.cpu_count() or 1) + 1, minimum=1, maximum=256)
SERVER_THREADS = env_int("SERVER_THREADS", 4, minimum=1, maximum=64)

# The live server (WebSockets, leaderboard/live) beside the REST API, on its own port.
LIVE_SERVER = env_bool("LIVE_SERVER", True)
WS_PORT = env_int("WS_PORT", 8001, minimum=1, maximum=65535)
# At most one new top per board per this many seconds, to each client following it.
LIVE_COALESCE_SECONDS = env_float("LIVE_COALESCE_SECONDS", 0.1, minimum=0.0, maximum=60.0)
# WebSockets open at once from one client address (TRUSTED_PROXY_COUNT applies), and the largest
# message a client may send.
LIVE_CONNECTIONS_PER_IP = env_int("LIVE_CONNECTIONS_PER_IP", 50, minimum=1, maximum=100_000)
LIVE_MESSAGE_MAX_BYTES = env_int("LIVE_MESSAGE_MAX_BYTES", 4096, minimum=64, maximum=1_048_576)
# A client whose connection takes no message in for this long is closed (4408): its close frame
# waits behind what it has not read for as long again, then the connection is dropped.
LIVE_SLOW_CLIENT_SECONDS = env_float("LIVE_SLOW_CLIENT_SECONDS", 5.0, minimum=0.1, maximum=300.0)
# Threads of the live server's process for its blocking work (reads of boards, match moves).
LIVE_THREADS = env_int("LIVE_THREADS", 32, minimum=1, maximum=256)
# Match rooms: a match is kept this long after its last change (then it is abandoned); a player
# away this long while the other is connected forfeits.
MATCH_IDLE_SECONDS = env_int("MATCH_IDLE_SECONDS", 600, minimum=5, maximum=7 * 86400)
MATCH_FORFEIT_SECONDS = env_float("MATCH_FORFEIT_SECONDS", 30.0, minimum=0.5, maximum=86400.0)
# How clients reach the live server, as match creation names it (state_url): ws://HOST:WS_PORT of
# the request's host unless set (behind a proxy, e.g. wss://games.example.com).
LIVE_PUBLIC_URL = env_str("LIVE_PUBLIC_URL", "")

# WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN,
# so concurrent writers queue on busy_timeout instead of failing to upgrade a read lock.
# synchronous=FULL syncs the WAL on every commit: an acknowledged score survives power loss.
SQLITE_BUSY_TIMEOUT_SECONDS = env_float("SQLITE_BUSY_TIMEOUT", 5.0, minimum=0.1, maximum=60.0)
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL",
}
DATABASES = {
    "default": database_from_url(env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'speedrank.sqlite3'}")),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# On SQLite, writes arriving together are committed together, up to this many per transaction
# (leaderboard/writes/group.py): one lock turn and one sync for all. 1 turns it off.
GROUP_COMMIT_MAX = env_int("GROUP_COMMIT_MAX", 64, minimum=1, maximum=1000)
# On SQLite, `python -m speedrank.serve` runs a write server process that commits the workers'
# writes (leaderboard/writes/server.py); off, each worker commits its own.
WRITE_SERVER = env_bool("WRITE_SERVER", True)

REDIS_URL = redis_url(env_str("REDIS_URL", f"unix://{VAR_DIR / 'redis.sock'}"))
# REDIS_URL names any one node of a Redis Cluster; the client finds the others.
REDIS_CLUSTER = env_bool("REDIS_CLUSTER", False)
if REDIS_CLUSTER and not REDIS_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(f"REDIS_CLUSTER needs a redis:// or rediss:// REDIS_URL; got {REDIS_URL!r}.")
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "speedrank")
# Short timeouts: a dead or hung Redis must cost a request well under a second.
REDIS_CONNECT_TIMEOUT = env_float("REDIS_CONNECT_TIMEOUT", 0.25, minimum=0.01, maximum=10.0)
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 0.5, minimum=0.01, maximum=30.0)
# The job queue (RQ): a single Redis, REDIS_URL's unless QUEUE_REDIS_URL names another. RQ's
# commands span keys in many slots, so on a Redis Cluster the queue needs a Redis of its own.
# Without one on a cluster, jobs are refused (503) and `make run` starts no job workers.
QUEUE_REDIS_URL = env_str("QUEUE_REDIS_URL", "") or ("" if REDIS_CLUSTER else REDIS_URL)
if QUEUE_REDIS_URL:
    QUEUE_REDIS_URL = redis_url(QUEUE_REDIS_URL)
# Job worker processes `make run` starts and supervises (each with RQ's scheduler, for retries).
JOB_WORKERS = env_int("JOB_WORKERS", 1, minimum=0, maximum=64)
# django-rq's worker command (`manage.py rqworker speedrank`) reads the queue from here.
RQ_QUEUES = {"speedrank": {"URL": QUEUE_REDIS_URL}} if QUEUE_REDIS_URL else {}
# Files the jobs write (exports), served to admin keys.
EXPORTS_DIR = Path(env_str("EXPORTS_DIR", str(VAR_DIR / "exports")))
# Avatars: uploads wait under AVATARS_DIR/uploads/ for their job, which writes square WebP files
# named by their content beside them; their URLs are AVATARS_URL + name. A path (the default) is
# served by the app; in production, a CDN's or the front server's URL serving AVATARS_DIR.
AVATARS_DIR = Path(env_str("AVATARS_DIR", str(VAR_DIR / "avatars")))
AVATARS_URL = url_prefix("AVATARS_URL", env_str("AVATARS_URL", "/avatars/"))
# Seconds a client is told to wait (Retry-After) when the board cannot be read.
RETRY_AFTER_SECONDS = 1
# Seconds a player's profile stays cached in Redis (it is also dropped when the player scores).
PROFILE_CACHE_SECONDS = env_int("PROFILE_CACHE_SECONDS", 60, minimum=1, maximum=86400)
# Seconds between attempts to replay scores whose Redis mirror failed.
MIRROR_CATCH_UP_INTERVAL = env_float("MIRROR_CATCH_UP_INTERVAL", 1.0, minimum=0.05, maximum=60.0)
# A starting worker writes the entries changed in this many past seconds to Redis again, in case
# a worker was killed between a commit and its mirror.
MIRROR_REPLAY_SECONDS = env_int("MIRROR_REPLAY_SECONDS", 120, minimum=0, maximum=86400)

# /v1/ rate limits: requests per RATE_LIMIT_WINDOW seconds (the seed API has none).
RATE_LIMITS_ENABLED = env_bool("RATE_LIMITS_ENABLED", True)
RATE_LIMIT_WINDOW = env_int("RATE_LIMIT_WINDOW", 60, minimum=1, maximum=86400)
RATE_LIMIT_READS_PER_IP = env_int("RATE_LIMIT_READS_PER_IP", 1200, minimum=1, maximum=10**9)
RATE_LIMIT_WRITES_PER_IP = env_int("RATE_LIMIT_WRITES_PER_IP", 600, minimum=1, maximum=10**9)
RATE_LIMIT_WRITES_PER_PLAYER = env_int("RATE_LIMIT_WRITES_PER_PLAYER", 60, minimum=1, maximum=10**9)
# Prometheus metrics at /metrics. Off by default: turn it on where the port is not public, or
# block /metrics at the proxy.
METRICS_ENABLED = env_bool("METRICS_ENABLED", False)
# When on, the seed API's POST /api/score/ needs a server-scope X-API-Key (off: its existing
# clients send none).
SEED_SUBMIT_REQUIRES_KEY = env_bool("SEED_SUBMIT_REQUIRES_KEY", False)
# When on, POST /v1/sessions needs a server-scope X-API-Key: only the studio's backend opens
# sessions, so nobody else can score as any player id.
SESSION_START_REQUIRES_KEY = env_bool("SESSION_START_REQUIRES_KEY", False)
# Seconds a worker trusts a key it has checked before it reads the key table again: a key revoked
# elsewhere stops working within this time (at once in the process that revokes it). 0: every call
# reads the table.
API_KEY_CACHE_SECONDS = env_float("API_KEY_CACHE_SECONDS", 1.0, minimum=0.0, maximum=300.0)
# Reverse proxies in front of the server; X-Forwarded-For is ignored unless this is set.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_rq",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaderboard.apps.LeaderboardConfig",
]

MIDDLEWARE = [
    "leaderboard.api.middleware.MetricsMiddleware",
    "leaderboard.api.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Production behind a TLS-terminating proxy: trust its X-Forwarded-Proto, redirect plain HTTP,
# send HSTS, and mark cookies secure. `manage.py check --deploy` passes with this on.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0, maximum=10**9)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # /health/ and /metrics are probed over plain HTTP from inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^metrics$"]
# The API sets no cookies and authenticates by header (API keys, bearer tokens), so there is
# no session for a cross-site request to ride on: CSRF protection has nothing to protect.
SILENCED_SYSTEM_CHECKS = ["security.W003"]

ROOT_URLCONF = "speedrank.urls"
WSGI_APPLICATION = "speedrank.wsgi.application"
APPEND_SLASH = False

# The API accepts JSON bodies of at most this many bytes.
REQUEST_BODY_MAX_BYTES = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["drf_orjson_renderer.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["leaderboard.api.parsing.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "leaderboard.api.errors.handle_exception",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Validation errors of list items are keyed by their index: integers as JSON object keys.
    "ORJSON_RENDERER_OPTIONS": (orjson.OPT_NON_STR_KEYS,),
}

# The OpenAPI schema (/v1/schema/) and Swagger UI (/v1/docs/), its assets served from the
# sidecar package rather than a CDN.
SPECTACULAR_SETTINGS = {
    "TITLE": "SpeedRank API",
    "DESCRIPTION": "Leaderboards for games: the seed API under /api/ and the v1 API under /v1/.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
# Templates only render the Swagger UI page.
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# One JSON object per line (LOG_FORMAT=json, the default), or plain text for a terminal.
# Events carry their numbers as fields: {"message": "score rejected", "event": "score_rejected", ...}.
LOG_FORMAT = env_str("LOG_FORMAT", "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain; got {LOG_FORMAT!r}.")
LOG_LEVEL = log_level(env_str("LOG_LEVEL", "INFO"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # A 4xx is the client's mistake and answered as JSON; logging each one would flood the log under load.
    "loggers": {"django.request": {"level": "ERROR"}},
}
