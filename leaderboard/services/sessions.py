"""Play sessions and their signed tokens, bound to one session, player and game."""

from dataclasses import dataclass
from datetime import timedelta

from django.core import signing
from django.db import transaction
from django.utils import timezone

from ..exceptions import InvalidToken
from ..models import Player, PlaySession
from .games import game

TOKEN_SALT = "speedrank.session-token"


@dataclass(frozen=True)
class TokenClaims:
    session_id: str
    player_id: str
    game_id: str


def start_session(*, player_id: str, game_id: str) -> tuple[PlaySession, str]:
    """Open a session for the player (created on first sight) on the game; return it and its token."""
    board = game(slug=game_id)
    started = timezone.now()
    with transaction.atomic():
        player, _created = Player.objects.get_or_create(username=player_id)
        session = PlaySession.objects.create(
            board=board, player=player, started_at=started,
            expires_at=started + timedelta(seconds=board.max_session_seconds),
        )  # fmt: skip
    claims = {"s": str(session.id), "p": player_id, "g": game_id}
    return session, signing.dumps(claims, salt=TOKEN_SALT, compress=True)


def read_token(token: str | None) -> TokenClaims:
    """The claims of a token this server signed; InvalidToken if it is missing or forged."""
    if not token:
        raise InvalidToken("An Authorization: Bearer <token> header is required.")
    try:
        claims = signing.loads(token, salt=TOKEN_SALT)
        return TokenClaims(claims["s"], claims["p"], claims["g"])
    except (signing.BadSignature, KeyError, TypeError) as error:
        raise InvalidToken("The session token is not valid.") from error


def open_session(claims: TokenClaims) -> PlaySession:
    """The token's session, locked for this transaction; InvalidToken if it is gone or expired."""
    session = PlaySession.objects.select_for_update().select_related("board").filter(id=claims.session_id).first()
    if session is None:
        raise InvalidToken("The session token is for no known session.")
    if timezone.now() >= session.expires_at:
        raise InvalidToken("The session has expired.")
    return session
