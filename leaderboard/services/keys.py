"""API keys: issued once, stored as a SHA-256, checked in constant time, revocable."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.db import IntegrityError
from django.utils import timezone

from .. import writes
from ..exceptions import ApiKeyScopeDenied, InvalidApiKey, LeaderboardError
from ..models import ApiKey
from ..writes import AfterCommit, Work

KEY_PREFIX = "srk_"


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


def create_api_key(*, name: str, scope: str) -> str:
    """Store a new key's hash and return the key itself: the only time it is ever shown."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    try:
        writes.commit(IssueKey(name, scope, _digest(key)))
    except IntegrityError:
        raise LeaderboardError(f"An API key named {name!r} already exists.") from None
    return key


def revoke_api_key(*, name: str) -> None:
    if not writes.commit(RevokeKey(name)):
        raise LeaderboardError(f"No active API key named {name!r}.")


def authenticate_api_key(*, key: str | None, scope: str) -> ApiKey:
    """The active key with this value; InvalidApiKey if none, ApiKeyScopeDenied if its scope differs."""
    if not key:
        raise InvalidApiKey("An X-API-Key header is required.")
    digest = _digest(key)
    found = ApiKey.objects.filter(key_hash=digest, revoked_at__isnull=True).first()
    # The lookup is by hash; the comparison of the stored hash is constant-time as well.
    if found is None or not hmac.compare_digest(found.key_hash, digest):
        raise InvalidApiKey("The API key is not valid.")
    if found.scope != scope:
        raise ApiKeyScopeDenied(scope)
    return found


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
