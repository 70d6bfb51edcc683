"""Play sessions and their signed tokens, bound to one session, player and game."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.db import connection
from django.utils import timezone

from .. import writes
from ..exceptions import InvalidToken
from ..writes import AfterCommit, Work
from . import rows
from .games import scoring_games
from .scores import check_region

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


@dataclass(frozen=True, slots=True)
class OpenedSession:
    id: str
    started_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class OpenSession(Work):
    player_id: str
    game_id: str
    region: str = ""

    def apply(self, after: AfterCommit) -> OpenedSession:
        board = scoring_games.get(self.game_id)
        started = timezone.now()
        session_id = uuid.uuid4()
        with connection.cursor() as cursor:
            # The session length may change while the game runs: read it in this transaction,
            # with the player's id, who is seldom new.
            cursor.execute(_BOARD_AND_PLAYER_SQL, [self.player_id, board.id])
            seconds, player = cursor.fetchone()
            if player is None:
                player = rows.player_id(cursor, self.player_id, started, lock=False)
            expires = started + timedelta(seconds=seconds)
            cursor.execute(
                f"INSERT INTO {rows.SESSIONS} (id, board_id, player_id, started_at, expires_at, region) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [rows.session_key(session_id), board.id, player, rows.to_db(started), rows.to_db(expires), self.region],
            )
        return OpenedSession(str(session_id), started, expires)


_BOARD_AND_PLAYER_SQL = (
    f"SELECT b.max_session_seconds, p.id FROM {rows.BOARDS} b LEFT JOIN {rows.PLAYERS} p ON p.username = %s "
    "WHERE b.id = %s"
)


def start_session(*, player_id: str, game_id: str, region: str = "") -> StartedSession:
    """Open a session for the player (created on first sight) on the game, with its token; a
    region named is where the session's score goes."""
    check_region(scoring_games.get(game_id), region)  # BoardNotFound or InvalidRegion here, before anything is sent
    session = writes.commit(OpenSession(player_id, game_id, region))
    claims = {"s": session.id, "p": player_id, "g": game_id}
    token = signing.dumps(claims, salt=TOKEN_SALT, compress=True)
    return StartedSession(session.id, token, player_id, game_id, session.started_at, session.expires_at)


def read_token(token: str | None) -> TokenClaims:
    """The claims of a token this server signed; InvalidToken if it is missing or forged."""
    if not token:
        raise InvalidToken("An Authorization: Bearer <token> header is required.")
    try:
        claims = signing.loads(token, salt=TOKEN_SALT)
        return TokenClaims(claims["s"], claims["p"], claims["g"])
    except (signing.BadSignature, KeyError, TypeError) as error:
        raise InvalidToken("The session token is not valid.") from error


@dataclass(frozen=True, slots=True)
class SessionInPlay:
    """A token's session as a score through it is checked: when it started, its game's slug and
    rate limit now, and whether it has a score already."""

    id: str
    player_key: int
    game_id: str
    started_at: datetime
    max_points_per_second: float | None
    scored: bool
    region: str


def session_in_play(cursor, claims: TokenClaims) -> SessionInPlay:
    """The token's session, locked for this transaction; InvalidToken if it is gone or expired."""
    cursor.execute(_SESSION_SQL + rows.for_update(of="s"), [rows.session_key(claims.session_id)])
    found = cursor.fetchone()
    if found is None:
        raise InvalidToken("The session token is for no known session.")
    player_key, started_at, expires_at, game_id, max_points_per_second, scored, region = found
    if timezone.now() >= rows.from_db(expires_at):
        raise InvalidToken("The session has expired.")
    started_at = rows.from_db(started_at)
    return SessionInPlay(
        claims.session_id, player_key, game_id, started_at, max_points_per_second, bool(scored), region
    )


_SESSION_SQL = (
    "SELECT s.player_id, s.started_at, s.expires_at, b.slug, b.max_points_per_second, "
    f"EXISTS (SELECT 1 FROM {rows.SCORES} WHERE session_id = s.id), s.region "
    f"FROM {rows.SESSIONS} s JOIN {rows.BOARDS} b ON b.id = s.board_id WHERE s.id = %s"
)
