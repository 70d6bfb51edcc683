"""Play sessions and their signed tokens, bound to one session, player and game."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.utils import timezone

from .. import writes
from ..exceptions import InvalidToken
from ..models import Player, PlaySession
from ..writes import AfterCommit, Work
from .games import game, scoring_games

TOKEN_SALT = "speedrank.session-token"


@dataclass(frozen=True)
class TokenClaims:
    session_id: str
    player_id: str
    game_id: str


@dataclass(frozen=True, slots=True)
class StartedSession:
    session_id: str
    token: str
    player_id: str
    game_id: str
    started_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class OpenSession(Work):
    player_id: str
    game_id: str

    def apply(self, after: AfterCommit) -> PlaySession:
        board = game(slug=self.game_id)
        player, _created = Player.objects.get_or_create(username=self.player_id)
        started = timezone.now()
        expires = started + timedelta(seconds=board.max_session_seconds)
        return PlaySession.objects.create(
            id=uuid.uuid4(), board=board, player=player, started_at=started, expires_at=expires
        )


def start_session(*, player_id: str, game_id: str) -> StartedSession:
    """Open a session for the player (created on first sight) on the game, with its token."""
    scoring_games.get(game_id)  # BoardNotFound here, before anything is sent
    session = writes.commit(OpenSession(player_id, game_id))
    claims = {"s": str(session.id), "p": player_id, "g": game_id}
    token = signing.dumps(claims, salt=TOKEN_SALT, compress=True)
    return StartedSession(str(session.id), token, player_id, game_id, session.started_at, session.expires_at)


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
    session = PlaySession.objects.select_for_update().select_related("board", "player").filter(id=claims.session_id)
    found = session.first()
    if found is None:
        raise InvalidToken("The session token is for no known session.")
    if timezone.now() >= found.expires_at:
        raise InvalidToken("The session has expired.")
    return found
