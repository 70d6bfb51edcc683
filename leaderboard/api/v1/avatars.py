"""/v1/players/{player_id}/avatar: a player's avatar uploaded as an image body, drawn by a job; and
the drawn files, served at AVATARS_URL when it is a path of this server."""

from django.http import FileResponse, Http404
from django.views.decorators.http import require_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers

from ... import services
from ...models import ApiKey
from ...services import avatars
from .. import schema
from ..endpoints import Endpoint
from ..errors import Reply
from ..fields import UsernameField
from ..throttling import limit_player_writes

FILE_NAME = avatars.FILE_NAME  # the files' names, as their URLs end
# Their names are their contents' hashes: a file never changes, so caches keep it for a year.
IMMUTABLE = "public, max-age=31536000, immutable"
UPLOAD_DESCRIPTION = (
    f"The image is the body: image/jpeg, image/png or image/webp, at most {avatars.UPLOAD_MAX_BYTES} bytes. "
    "It is kept, and a job draws it as square WebP files of 256, 128 and 64 px: the player's profile "
    "(GET /v1/players/{player_id}) shows the avatar's status and, once ready, their URLs."
)


class AvatarPath(serializers.Serializer):
    player_id = UsernameField()


class PlayerAvatar(Endpoint):
    """Credentials: a server-scope `X-API-Key` for any known player, or the player's own session
    token, `Authorization: Bearer <token>` as POST /v1/sessions gave it. A token speaks for the
    player its session was opened for, for as long as that session lasts: its session must still
    exist and not have expired, and be this player's (another player's is 403 token_mismatch)."""

    write_methods = frozenset({"PUT"})
    body_max_bytes = avatars.UPLOAD_MAX_BYTES

    @extend_schema(
        description=UPLOAD_DESCRIPTION,
        request={media_type: OpenApiTypes.BINARY for media_type in ("image/jpeg", "image/png", "image/webp")},
        parameters=[schema.BEARER, schema.API_KEY],
        responses={
            202: schema.AvatarUploadOutput, **schema.v1_errors(400, 401, 403, 404, 411),
            413: OpenApiResponse(schema.V1Error, description="request_too_large: the image is over 10 MiB"),
            415: OpenApiResponse(schema.V1Error, description="unsupported_media_type: not a JPEG, PNG or WebP image, "
                                 "or bytes that are not of the type the Content-Type names"),
        },
    )  # fmt: skip
    def put(self, request, player_id) -> Reply:
        player_id = self.parse(AvatarPath, {"player_id": player_id})["player_id"]
        self._authenticate(request, player_id)
        media_type = avatars.accepted_type(request.content_type or "")
        limit_player_writes(request, player_id)
        upload = avatars.upload_avatar(player_id=player_id, media_type=media_type, content=_body(request))
        return Reply(202, {"status": "processing", "job_id": upload.job_id})

    def _authenticate(self, request, player_id: str) -> None:
        authorization = request.headers.get("Authorization", "")
        if not authorization and "X-API-Key" in request.headers:
            self.require_key(ApiKey.Scope.SERVER)
            return
        scheme, _, token = authorization.partition(" ")
        claims = services.read_token(token.strip() if scheme.lower() == "bearer" else None)
        avatars.check_player_session(claims=claims, player_id=player_id)


def _body(request) -> bytes:
    """The body, read one byte past the limit at most (the middleware refused a longer
    Content-Length; this holds whatever the stream holds)."""
    stream = request.stream  # DRF's: None for an empty body
    return stream.read(avatars.UPLOAD_MAX_BYTES + 1) if stream is not None else b""


@require_safe
def avatar_file(request, name: str):
    """A drawn avatar file (a file, not JSON: not an Endpoint)."""
    path = avatars.published_path(name)
    if path is None:
        raise Http404("No such avatar file.")
    response = FileResponse(path.open("rb"), content_type="image/webp")
    response["Cache-Control"] = IMMUTABLE
    return response
