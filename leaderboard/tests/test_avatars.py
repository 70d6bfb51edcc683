"""Avatars: PUT /v1/players/{player_id}/avatar with the image as the body, drawn by a real RQ
worker (a burst worker in this process) as square WebP files, shown on the player's profile."""

import io
import os
import struct
import zlib
from datetime import timedelta

import pytest
import redis
from django.forms.models import model_to_dict
from django.test import override_settings
from django.utils import timezone
from PIL import Image

from leaderboard import redis_store, services
from leaderboard.api.middleware import ChunkedBodies
from leaderboard.exceptions import ImageTooLarge
from leaderboard.jobs import job_queue, queue
from leaderboard.jobs.workers import JobWorker
from leaderboard.models import Avatar, Player, PlaySession
from leaderboard.services import avatars

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_queue")]

RED, BLUE = (220, 20, 20), (20, 20, 220)
MAKE = 0x010F  # the EXIF tag naming the camera's maker
ORIENTATION = 0x0112


@pytest.fixture(autouse=True)
def avatars_dir(tmp_path):
    with override_settings(AVATARS_DIR=tmp_path / "avatars"):
        yield tmp_path / "avatars"


@pytest.fixture
def server_key(default_board) -> str:
    return services.create_api_key(name="game-server", scope="server")


@pytest.fixture
def amy(default_board) -> Player:
    return Player.objects.create(username="amy")


def work_off() -> None:
    """Every job queued, run by a burst worker in this process."""
    JobWorker([job_queue.queue()], connection=job_queue.queue().connection).work(burst=True)


def image(media_type: str, size=(64, 48), color=RED, exif: dict | None = None) -> bytes:
    picture = Image.new("RGB", size, color)
    tags = Image.Exif()
    for tag, value in (exif or {}).items():
        tags[tag] = value
    out = io.BytesIO()
    picture.save(out, {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}[media_type], exif=tags)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_of(width: int, height: int, *, bit_depth: int = 8, color_type: int = 2, pixels: bytes = b"") -> bytes:
    """A PNG file of exactly these chunks: its header, one IDAT of the pixels compressed, its end."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    idat = zlib.compress(pixels, 9)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def bomb() -> bytes:
    """A valid 9500x9500 black PNG of a few KB: 90 million pixels, over Pillow's bomb warning."""
    side = 9500
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte, then 1 bit a pixel
    return png_of(side, side, bit_depth=1, color_type=0, pixels=row * side)


def put_avatar(api, body: bytes, content_type: str = "image/png", player_id: str = "amy", **headers):
    return api.put(f"/v1/players/{player_id}/avatar", body, content_type=content_type, **headers)


def upload(api, key: str, body: bytes, content_type: str = "image/png", player_id: str = "amy") -> str:
    """The upload's id, once answered 202."""
    answer = put_avatar(api, body, content_type, player_id, HTTP_X_API_KEY=key)
    assert answer.status_code == 202, answer.json()
    return answer.json()["job_id"].removeprefix("avatar-")


def avatar_shown(api, player_id: str = "amy") -> dict:
    answer = api.get(f"/v1/players/{player_id}")
    assert answer.status_code == 200, answer.json()
    return answer.json()["avatar"]


def file_of(avatars_dir, url: str):
    return avatars_dir / url.removeprefix("/avatars/")


def published(avatars_dir) -> list[str]:
    return sorted(str(path.relative_to(avatars_dir)) for path in avatars_dir.rglob("*.webp"))


def uploads(avatars_dir) -> list[str]:
    return sorted(path.name for path in (avatars_dir / "uploads").glob("*"))


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg", "image/webp"])
def test_an_image_is_202_then_drawn_as_square_webp_files_of_three_sizes_without_exif(
    api, amy, server_key, avatars_dir, media_type
):
    body = image(media_type, size=(300, 200), exif={MAKE: "SpyCam"})
    answer = put_avatar(api, body, media_type, HTTP_X_API_KEY=server_key)
    before = avatar_shown(api)

    work_off()
    after = avatar_shown(api)

    assert answer.status_code == 202
    assert answer.json() == {"status": "processing", "job_id": answer.json()["job_id"]}
    assert answer.json()["job_id"].startswith("avatar-")
    assert before == {"status": "processing", "urls": None, "error": None}
    assert (after["status"], after["error"], sorted(after["urls"])) == ("ready", None, ["128", "256", "64"])
    for size, url in after["urls"].items():
        assert url.startswith("/avatars/")
        written = file_of(avatars_dir, url).read_bytes()
        with Image.open(io.BytesIO(written)) as drawn:
            assert (drawn.format, drawn.size) == ("WEBP", (int(size), int(size)))
            assert "exif" not in drawn.info and not drawn.getexif()
            assert drawn.convert("RGB").getpixel((int(size) // 2, int(size) // 2))[0] > 150  # red
        assert b"SpyCam" not in written
    assert uploads(avatars_dir) == []  # the upload is let go once drawn
    assert job_queue.view(answer.json()["job_id"]).state == "finished"


def test_a_drawn_file_is_served_with_a_long_cache_and_other_paths_are_not(api, amy, server_key, avatars_dir):
    upload(api, server_key, image("image/png"))
    work_off()
    url = avatar_shown(api)["urls"]["64"]

    served = api.get(url)
    unknown = api.get(f"/avatars/00/{'0' * 32}.webp")
    traversal = api.get("/avatars/../secret_key")
    an_upload = api.get("/avatars/uploads/0123456789abcdef")

    assert (served.status_code, served["Content-Type"]) == (200, "image/webp")
    assert served["Cache-Control"] == "public, max-age=31536000, immutable"
    assert b"".join(served.streaming_content) == file_of(avatars_dir, url).read_bytes()
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not found."})
    assert traversal.status_code == an_upload.status_code == 404


def test_an_exif_rotated_jpeg_comes_out_upright(api, amy, server_key, avatars_dir):
    stored = Image.new("RGB", (600, 300), BLUE)
    stored.paste(RED, (0, 0, 300, 300))  # red on the left as stored: on top once turned upright
    tags = Image.Exif()
    tags[ORIENTATION] = 6  # shown turned 90 degrees clockwise
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=95, exif=tags)
    upload(api, server_key, out.getvalue(), "image/jpeg")

    work_off()

    with Image.open(file_of(avatars_dir, avatar_shown(api)["urls"]["256"])) as drawn:
        pixels = drawn.convert("RGB")
        top_right, bottom_left = pixels.getpixel((250, 5)), pixels.getpixel((5, 250))
    assert top_right[0] > 150 and top_right[2] < 100  # red
    assert bottom_left[2] > 150 and bottom_left[0] < 100  # blue


@pytest.mark.parametrize(
    "body, content_type, detail",
    [
        (image("image/png"), "image/jpeg", "The body is not image/jpeg: its bytes are image/png."),
        (b"hello, avatar", "text/plain", "Content-Type 'text/plain' is not accepted: send image/jpeg, image/png or "
         "image/webp."),
        (b"GIF89a" + b"\x00" * 20, "image/gif", "Content-Type 'image/gif' is not accepted: send image/jpeg, "
         "image/png or image/webp."),
        (b"not an image at all", "image/webp", "The body is not image/webp: its bytes are no JPEG, PNG or WebP image."),
        (b"", "image/png", "The body is not image/png: its bytes are no JPEG, PNG or WebP image."),
    ],
)  # fmt: skip
def test_a_type_not_accepted_or_bytes_not_of_the_declared_type_are_415_and_nothing_is_kept(
    api, amy, server_key, avatars_dir, body, content_type, detail
):
    answer = put_avatar(api, body, content_type, HTTP_X_API_KEY=server_key)

    assert answer.status_code == 415
    assert answer.json() == {"error": "unsupported_media_type", "detail": detail}
    assert not Avatar.objects.exists()
    assert not avatars_dir.exists() or uploads(avatars_dir) == []


def test_a_body_over_10_mib_is_413_while_other_routes_keep_their_64_kib(api, amy, server_key, avatars_dir):
    limit = avatars.UPLOAD_MAX_BYTES
    over = b"\x89PNG\r\n\x1a\n" + b"\x00" * (limit - 7)
    large_but_allowed = image("image/png", size=(400, 400)) + b"\x00" * 100_000  # trailing bytes: still a PNG

    refused = put_avatar(api, over, HTTP_X_API_KEY=server_key)
    accepted = put_avatar(api, large_but_allowed, HTTP_X_API_KEY=server_key)
    score = api.post("/v1/scores", b"{" + b" " * (64 * 1024), content_type="application/json")

    assert (refused.status_code, refused.json()) == (
        413,
        {"error": "request_too_large", "detail": f"Request body is larger than {limit} bytes."},
    )
    assert accepted.status_code == 202
    assert (score.status_code, score.json()["error"]) == (413, "request_too_large")
    with pytest.raises(ImageTooLarge):  # the rule holds whatever the stream held
        avatars.upload_avatar(player_id="amy", media_type="image/png", content=over)


def test_a_chunked_body_is_read_up_to_its_routes_limit():
    seen = {}

    def app(environ, start_response):
        seen[environ["PATH_INFO"]] = int(environ["CONTENT_LENGTH"])
        return []

    for path in ("/v1/players/amy/avatar", "/v1/scores"):
        environ = {"PATH_INFO": path, "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b"x" * 200_000)}
        ChunkedBodies(app)(environ, None)

    assert seen == {"/v1/players/amy/avatar": 200_000, "/v1/scores": 64 * 1024 + 1}


@pytest.mark.parametrize(
    "body, reason",
    [
        (png_of(100_000, 100_000, pixels=b"\x00" * 64), "The image has too many pixels to decode safely: Image size "
         "(10000000000 pixels) exceeds limit"),
        (bomb(), "The image has too many pixels to decode safely: Image size (90250000 pixels) exceeds limit of "
         "89478485 pixels, could be decompression bomb DOS attack."),
        (image("image/png", size=(5000, 10)), "The image is 5000x10 pixels; at most 4096x4096 are accepted."),
        (image("image/png", size=(64, 64))[:-40], "The image could not be decoded: "),
        (b"\x89PNG\r\n\x1a\n" + b"\x13" * 200, "The image could not be decoded: cannot identify image file"),
    ],
    ids=["huge-header", "decompression-bomb", "over-4096", "truncated", "corrupt"],
)  # fmt: skip
def test_an_image_that_cannot_be_decoded_safely_fails_for_good_and_the_worker_goes_on(
    api, amy, server_key, avatars_dir, body, reason
):
    job_id = f"avatar-{upload(api, server_key, body)}"
    Player.objects.create(username="bob")
    upload(api, server_key, image("image/png"), player_id="bob")

    work_off()  # one worker, both jobs

    failed, next_one = avatar_shown(api), avatar_shown(api, "bob")
    assert (failed["status"], failed["urls"]) == ("failed", None)
    assert failed["error"].startswith(reason)
    job = job_queue.view(job_id)
    assert (job.state, job.attempts) == ("finished", 1)  # recorded, not retried
    assert next_one["status"] == "ready"
    assert uploads(avatars_dir) == []


def test_a_second_delivery_of_a_job_changes_nothing_and_the_same_image_gives_the_same_files(
    api, amy, server_key, avatars_dir
):
    body = image("image/webp", size=(120, 90))
    upload_id = upload(api, server_key, body, "image/webp")
    work_off()
    row, files = model_to_dict(Avatar.objects.get()), published(avatars_dir)
    times = {name: (avatars_dir / name).stat().st_mtime_ns for name in files}

    assert avatars.process_avatar(upload_id) is None  # delivered again
    job_queue.enqueue(avatars.process_avatar, upload_id, job_id=f"avatar-{upload_id}", timeout=60)
    work_off()
    Player.objects.create(username="bob")
    upload(api, server_key, body, "image/webp", player_id="bob")
    work_off()

    assert model_to_dict(Avatar.objects.get(player=amy)) == row
    assert published(avatars_dir) == files and len(files) == 3
    assert {name: (avatars_dir / name).stat().st_mtime_ns for name in files} == times
    assert avatar_shown(api, "bob")["urls"] == avatar_shown(api)["urls"]
    assert job_queue.view(f"avatar-{upload_id}").attempts == 1


def test_a_newer_upload_supersedes_an_older_one_whichever_job_runs_first(api, amy, server_key, avatars_dir):
    older = upload(api, server_key, image("image/png", color=RED))
    newer = upload(api, server_key, image("image/png", color=BLUE))

    assert avatars.process_avatar(newer) == "ready"
    assert avatars.process_avatar(older) is None  # late: it finds nothing left to finish
    work_off()  # both again, in the order they were queued

    shown = avatar_shown(api)
    with Image.open(file_of(avatars_dir, shown["urls"]["64"])) as drawn:
        assert drawn.convert("RGB").getpixel((32, 32))[2] > 150  # blue: the newer one
    assert Avatar.objects.get().upload_id == newer
    assert len(published(avatars_dir)) == 3  # the older one was never drawn
    assert uploads(avatars_dir) == []


def test_uploads_need_the_players_own_session_or_a_server_key(api, amy, server_key, avatars_dir):
    own = services.start_session(player_id="amy", game_id="default")
    bobs = services.start_session(player_id="bob", game_id="default")
    admin = services.create_api_key(name="studio-admin", scope="admin")
    body = image("image/png")

    nothing = put_avatar(api, body)
    forged = put_avatar(api, body, HTTP_AUTHORIZATION="Bearer not-a-token")
    another_players = put_avatar(api, body, HTTP_AUTHORIZATION=f"Bearer {bobs.token}")
    admin_key = put_avatar(api, body, HTTP_X_API_KEY=admin)
    with_own_session = put_avatar(api, body, HTTP_AUTHORIZATION=f"Bearer {own.token}")
    PlaySession.objects.filter(id=own.session_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = put_avatar(api, body, HTTP_AUTHORIZATION=f"Bearer {own.token}")

    assert (nothing.status_code, nothing.json()) == (
        401,
        {"error": "invalid_token", "detail": "An Authorization: Bearer <token> header is required."},
    )
    assert (forged.status_code, forged.json()["error"]) == (401, "invalid_token")
    assert (another_players.status_code, another_players.json()) == (
        403,
        {"error": "token_mismatch", "detail": "The session token is for player 'bob', not 'amy'."},
    )
    assert (admin_key.status_code, admin_key.json()["error"]) == (403, "forbidden")
    assert with_own_session.status_code == 202
    assert (expired.status_code, expired.json()) == (
        401,
        {"error": "invalid_token", "detail": "The session has expired."},
    )
    assert Avatar.objects.count() == 1


def test_an_unknown_player_is_404_and_nothing_is_kept(api, server_key, avatars_dir):
    answer = put_avatar(api, image("image/png"), player_id="ghost", HTTP_X_API_KEY=server_key)

    assert (answer.status_code, answer.json()) == (404, {"error": "player_not_found", "detail": "No player 'ghost'."})
    assert not Avatar.objects.exists()
    assert uploads(avatars_dir) == []
    assert job_queue.counts()["queued"] == 0


def test_a_player_without_an_avatar_shows_none(api, amy):
    assert avatar_shown(api) == {"status": "none", "urls": None, "error": None}


def test_the_cached_profile_is_dropped_when_the_avatar_changes_and_not_cached_while_processing(api, amy, server_key):
    assert avatar_shown(api)["status"] == "none"  # cached
    assert redis_store.cached_profile("amy") is not None

    upload(api, server_key, image("image/png"))
    processing = avatar_shown(api)
    cached_while_processing = redis_store.cached_profile("amy")
    work_off()
    ready = avatar_shown(api)

    assert processing["status"] == "processing"
    assert cached_while_processing is None
    assert ready["status"] == "ready"
    assert services.player_profile(player_id="amy").avatar.status == "ready"  # from the cache now
    assert redis_store.cached_profile("amy") is not None


def test_without_a_reachable_queue_an_upload_is_503_and_its_avatar_failed(api, amy, server_key, avatars_dir):
    with override_settings(QUEUE_REDIS_URL="redis://127.0.0.1:1/0"):
        answer = put_avatar(api, image("image/png"), HTTP_X_API_KEY=server_key)

    assert (answer.status_code, answer.json()["error"]) == (503, "service_unavailable")
    shown = avatar_shown(api)
    assert (shown["status"], shown["error"].startswith("Could not be queued")) == ("failed", True)
    assert uploads(avatars_dir) == []


def test_an_avatar_whose_job_failed_for_good_or_is_gone_shows_failed(
    api, amy, server_key, avatars_dir, queue_redis_url, monkeypatch
):
    monkeypatch.setattr(queue, "RETRY_BACKOFF", [0, 0])  # retried at once, not after seconds
    upload_id = upload(api, server_key, image("image/png"))
    os.remove(avatars_dir / "uploads" / upload_id)  # as if its storage lost it
    work_off()
    failed = avatar_shown(api)
    job = job_queue.view(f"avatar-{upload_id}")
    upload(api, server_key, image("image/png"))
    redis.Redis.from_url(queue_redis_url).flushdb()  # its job lost
    gone = avatar_shown(api)

    assert failed == {"status": "failed", "urls": None, "error": "The image could not be processed: upload it again."}
    assert (job.state, job.attempts) == ("failed", 3)
    assert "FileNotFoundError" in job.error  # for operators, at /v1/jobs/{job_id}
    assert gone == {"status": "failed", "urls": None, "error": "Its job is gone: upload the image again."}
