"""API keys: issued once, stored as a SHA-256, checked in constant time, revocable."""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection
from django.utils import timezone

from .. import writes
from ..exceptions import ApiKeyScopeDenied, InvalidApiKey, LeaderboardError
from ..models import ApiKey
from ..writes import AfterCommit, Work

KEY_PREFIX = "srk_"


@dataclass(frozen=True, slots=True)
class Caller:
    """The active key a request presented: its id and name, never the key."""

    key_id: int
    name: str
    scope: str


@dataclass(frozen=True)
class IssueKey(Work):
    name: str
    scope: str
    key_hash: str

    def apply(self, after: AfterCommit) -> ApiKey:
        return ApiKey.objects.create(name=self.name, scope=self.scope, key_hash=self.key_hash)


@dataclass(frozen=True)
class RevokeKey(Work):
    name: str

    def apply(self, after: AfterCommit) -> int:
        return ApiKey.objects.filter(name=self.name, revoked_at__isnull=True).update(revoked_at=timezone.now())


class CheckedKeys:
    """Keys checked lately, by digest, each trusted for API_KEY_CACHE_SECONDS: a game server sends
    hundreds of calls a second with one key, and each would otherwise read the key table. Only
    active keys are kept, so a new key works at once; a revoked one is forgotten at once here and
    within the cache's seconds in other processes."""

    MAX_KEYS = 10_000

    def __init__(self):
        self._callers: dict[str, tuple[Caller, float]] = {}

    def get(self, digest: str) -> Caller | None:
        found = self._callers.get(digest)
        if found is None or time.monotonic() >= found[1]:
            return None
        return found[0]

    def keep(self, digest: str, caller: Caller) -> None:
        seconds = settings.API_KEY_CACHE_SECONDS
        if seconds <= 0:
            return
        if len(self._callers) >= self.MAX_KEYS:
            self._callers.clear()
        self._callers[digest] = (caller, time.monotonic() + seconds)

    def clear(self) -> None:
        self._callers.clear()


checked_keys = CheckedKeys()


def create_api_key(*, name: str, scope: str) -> str:
    """Store a new key's hash and return the key itself: the only time it is ever shown."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    try:
        writes.commit(IssueKey(name, scope, _digest(key)))
    except IntegrityError:
        raise LeaderboardError(f"An API key named {name!r} already exists.") from None
    return key


def revoke_api_key(*, name: str) -> None:
    revoked = writes.commit(RevokeKey(name))
    checked_keys.clear()
    if not revoked:
        raise LeaderboardError(f"No active API key named {name!r}.")


def authenticate_api_key(*, key: str | None, scope: str) -> Caller:
    """The active key with this value; InvalidApiKey if none, ApiKeyScopeDenied if its scope differs."""
    if not key:
        raise InvalidApiKey("An X-API-Key header is required.")
    digest = _digest(key)
    caller = checked_keys.get(digest) or _active_key(digest)
    if caller.scope != scope:
        raise ApiKeyScopeDenied(scope)
    return caller


def _active_key(digest: str) -> Caller:
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_KEY_SQL, [digest])
        found = cursor.fetchone()
    # The lookup is by hash; the comparison of the stored hash is constant-time as well.
    if found is None or not hmac.compare_digest(found[1], digest):
        raise InvalidApiKey("The API key is not valid.")
    caller = Caller(found[0], found[2], found[3])
    checked_keys.keep(digest, caller)
    return caller


_ACTIVE_KEY_SQL = (
    f"SELECT id, key_hash, name, scope FROM {ApiKey._meta.db_table} WHERE key_hash = %s AND revoked_at IS NULL"
)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
