"""Avatars: an image a player (or a game server) uploads, kept durably, then drawn by a job as
square WebP files of 256, 128 and 64 px, named by their content and served at AVATARS_URL.

The upload is written under AVATARS_DIR/uploads/ and recorded in SQL before the answer, and its
job queued after that commit. The job is idempotent: an upload finished already, or replaced by a
newer one, is left as it is; the files are named by their bytes, so drawing an upload again
writes the same names. An image that cannot be decoded fails for good, without retries."""

import hashlib
import os
import re
import secrets
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .. import images, redis_store, writes
from ..exceptions import (
    BoardUnavailable,
    ImageTooLarge,
    InvalidToken,
    JobNotFound,
    JobsUnavailable,
    PlayerNotFound,
    TokenMismatch,
    UnreadableImage,
    UnsupportedImage,
)
from ..jobs import job_queue
from ..models import Avatar, Player, PlaySession
from ..writes import AfterCommit, Work
from . import rows
from .sessions import TokenClaims

SIZES = (256, 128, 64)
UPLOAD_MAX_BYTES = 10 * 1024 * 1024
AVATAR_TIMEOUT_SECONDS = 120
ERROR_MAX = 500
# A published file's name under AVATARS_DIR: a directory of 256 by the hash's first two digits.
FILE_NAME = r"[0-9a-f]{2}/[0-9a-f]{32}\.webp"
_FILE_NAME = re.compile(FILE_NAME)


@dataclass(frozen=True, slots=True)
class AvatarView:
    """An avatar as a profile shows it."""

    status: str  # none, processing, ready, failed
    urls: dict[str, str] | None  # once ready: each size's URL, by the size as text
    error: str | None  # once failed: why


NO_AVATAR = AvatarView("none", None, None)
PROCESSING = AvatarView(Avatar.Status.PROCESSING, None, None)


@dataclass(frozen=True, slots=True)
class AvatarUpload:
    upload_id: str
    job_id: str


@dataclass(frozen=True)
class RecordUpload(Work):
    """The player's avatar, now this upload's, processing; PlayerNotFound for an unknown player."""

    player_id: str
    upload_id: str
    upload_sha256: str
    content_type: str

    def apply(self, after: AfterCommit) -> None:
        player = Player.objects.filter(username=self.player_id).values_list("id", flat=True).first()
        if player is None:
            raise PlayerNotFound(self.player_id)
        with connection.cursor() as cursor:
            rows.lock_player(cursor, player)  # one player's uploads are recorded one at a time
        fields = {
            "upload_id": self.upload_id, "upload_sha256": self.upload_sha256, "content_type": self.content_type,
            "job_id": job_id_of(self.upload_id), "status": Avatar.Status.PROCESSING, "files": {}, "error": "",
            "uploaded_at": timezone.now(), "finished_at": None,
        }  # fmt: skip
        if not Avatar.objects.filter(player_id=player).update(**fields):
            Avatar.objects.create(player_id=player, **fields)


@dataclass(frozen=True)
class FinishAvatar(Work):
    """The upload's outcome, once, and only while it is the player's latest."""

    upload_id: str
    status: str
    files: dict[str, str] = field(default_factory=dict)
    error: str = ""

    def apply(self, after: AfterCommit) -> bool:
        pending = Avatar.objects.filter(upload_id=self.upload_id, status=Avatar.Status.PROCESSING)
        return bool(pending.update(status=self.status, files=self.files, error=self.error, finished_at=timezone.now()))


def check_player_session(*, claims: TokenClaims, player_id: str) -> None:
    """A session token speaks for its player while its session lasts: the session must exist,
    be this player's, and not have expired (InvalidToken, TokenMismatch)."""
    if claims.player_id != player_id:
        raise TokenMismatch(f"The session token is for player {claims.player_id!r}, not {player_id!r}.")
    found = PlaySession.objects.filter(id=claims.session_id).values_list("player__username", "expires_at").first()
    if found is None:
        raise InvalidToken("The session token is for no known session.")
    if found[0] != player_id:
        raise TokenMismatch(f"The session is not player {player_id!r}'s.")
    if timezone.now() >= found[1]:
        raise InvalidToken("The session has expired.")


def accepted_type(content_type: str) -> str:
    """The media type of a Content-Type header, if avatars accept it; UnsupportedImage if not."""
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type not in images.FORMATS:
        shown = repr(media_type) if media_type else "none"
        raise UnsupportedImage(f"Content-Type {shown} is not accepted: send image/jpeg, image/png or image/webp.")
    return media_type


def upload_avatar(*, player_id: str, media_type: str, content: bytes) -> AvatarUpload:
    """Keep the image as the player's avatar, processing, and queue its job after the commit.
    ImageTooLarge, UnsupportedImage (bytes that are not of the declared type), PlayerNotFound."""
    if len(content) > UPLOAD_MAX_BYTES:
        raise ImageTooLarge(UPLOAD_MAX_BYTES)
    found = images.sniffed_type(content)
    if found != media_type:
        raise UnsupportedImage(f"The body is not {media_type}: its bytes are {found or 'no JPEG, PNG or WebP image'}.")
    upload_id = secrets.token_hex(8)
    path = _write_file(_upload_path(upload_id), content, mode=0o600)
    try:
        writes.commit(RecordUpload(player_id, upload_id, hashlib.sha256(content).hexdigest(), media_type))
    except BaseException:
        path.unlink(missing_ok=True)  # nothing refers to it
        raise
    _forget_profile(player_id)
    try:
        job_queue.enqueue(process_avatar, upload_id, job_id=job_id_of(upload_id), timeout=AVATAR_TIMEOUT_SECONDS)
    except JobsUnavailable as error:
        _finish(player_id, upload_id, Avatar.Status.FAILED, error=f"Could not be queued: {error}"[:ERROR_MAX])
        raise
    return AvatarUpload(upload_id, job_id_of(upload_id))


def avatar_of(row: Avatar | None) -> AvatarView:
    """The avatar as it stands. One still processing whose job failed for good (its retries
    spent), or is gone, is failed."""
    if row is None:
        return NO_AVATAR
    if row.status == Avatar.Status.READY:
        return AvatarView(row.status, {size: settings.AVATARS_URL + name for size, name in row.files.items()}, None)
    if row.status == Avatar.Status.FAILED:
        return AvatarView(row.status, None, row.error or "Failed.")
    try:
        job = job_queue.view(row.job_id)
    except JobNotFound:
        return AvatarView(Avatar.Status.FAILED, None, "Its job is gone: upload the image again.")
    except JobsUnavailable:
        return PROCESSING  # the queue is away: as the database says
    if job.state == "failed":  # its reason, for operators, is at /v1/jobs/{job_id}
        return AvatarView(Avatar.Status.FAILED, None, "The image could not be processed: upload it again.")
    return PROCESSING


def published_path(name: str) -> Path | None:
    """The published file of this name (as an avatar's URL ends), if there is one."""
    path = settings.AVATARS_DIR / name
    return path if _FILE_NAME.fullmatch(name) and path.is_file() else None


def job_id_of(upload_id: str) -> str:
    return f"avatar-{upload_id}"


# --- the job -------------------------------------------------------------------------------------


def process_avatar(upload_id: str) -> str | None:
    """The avatar job: the upload drawn and the avatar ready, or failed for good if the image
    cannot be decoded (a retry would fail alike). An upload finished already, or replaced by a
    newer one, is left as it is (None). A missing upload or a failed write raises: retried."""
    row = Avatar.objects.select_related("player").filter(upload_id=upload_id).first()
    if row is None or row.status != Avatar.Status.PROCESSING:
        _upload_path(upload_id).unlink(missing_ok=True)
        return None
    content = _upload_path(upload_id).read_bytes()
    try:
        drawn = images.square_webps(content, row.content_type, SIZES)
    except UnreadableImage as error:
        return _finish(row.player.username, upload_id, Avatar.Status.FAILED, error=str(error)[:ERROR_MAX])
    files = {str(size): _publish(data) for size, data in drawn.items()}
    return _finish(row.player.username, upload_id, Avatar.Status.READY, files=files)


def _finish(player_id: str, upload_id: str, status: str, *, files: dict | None = None, error: str = "") -> str:
    writes.commit(FinishAvatar(upload_id, status, files or {}, error))
    _forget_profile(player_id)
    _upload_path(upload_id).unlink(missing_ok=True)
    return status


def _publish(data: bytes) -> str:
    """The file's name under AVATARS_DIR, written once: named by its bytes, it never changes."""
    digest = hashlib.sha256(data).hexdigest()[:32]
    name = f"{digest[:2]}/{digest}.webp"
    if not (settings.AVATARS_DIR / name).exists():
        _write_file(settings.AVATARS_DIR / name, data, mode=0o644)
    return name


def _forget_profile(player_id: str) -> None:
    # A profile Redis cannot drop now lapses within PROFILE_CACHE_SECONDS.
    with suppress(BoardUnavailable):
        redis_store.forget_profiles([player_id])


def _upload_path(upload_id: str) -> Path:
    return settings.AVATARS_DIR / "uploads" / upload_id


def _write_file(path: Path, data: bytes, *, mode: int) -> Path:
    """The file written beside its name, synced, and renamed into place: whole or absent, and
    still there after a crash once this returns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself
    finally:
        os.close(directory)
    return path
