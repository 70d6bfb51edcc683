"""Match rooms: creating a match, applying a move or a forfeit atomically in Redis (any process
may), and recording a finished match in SQL with its winner's win on the game's board.

The result rule: a win adds WIN_POINTS (1) to the winner's total on the match's game, which must
be an `increment` game without regions, so its board counts wins. A draw or an abandoned match
adds nothing.

A match that goes MATCH_IDLE_SECONDS without a change ends abandoned ("expired"), with its moves,
when it is next read, played or kept by a live server; Redis keeps its hash twice that long, so a
match nobody looks at in that time is gone from Redis and ends from SQL, without its moves."""

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass

import orjson
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import redis_store, writes
from ..exceptions import (
    InvalidMatch,
    InvalidToken,
    MatchNotFound,
    MatchOver,
    MoveRefused,
    PointsOutOfRange,
    TotalOutOfRange,
)
from ..match_rules import ABANDONED, PLAYING, WON, MatchState, ended, played
from ..models import Board, Match
from ..writes import AfterCommit, Work
from .games import game, scoring_games
from .keys import Caller
from .scores import record

logger = logging.getLogger(__name__)

WIN_POINTS = 1
EXPIRED = "expired"
TOKEN_SALT = "speedrank.match-token"
KEEP_FACTOR = 2  # Redis keeps a match's hash this many times MATCH_IDLE_SECONDS after its last change
CHANGE_ATTEMPTS = 20  # a change retried from a fresh read; each retry means another change applied


@dataclass(frozen=True, slots=True)
class CreatedMatch:
    state: MatchState
    tokens: dict[str, str]


@dataclass(frozen=True, slots=True)
class Change:
    """A state the match moved to, with its version, its STATE message as published, and when."""

    state: MatchState
    version: int
    message: str
    changed_at: float

    @property
    def finished(self) -> bool:
        return self.state.status != PLAYING


# --- creating ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateMatch(Work):
    match_id: str
    game_id: str
    rules: str
    players: tuple[str, str]
    api_key_id: int

    def apply(self, after: AfterCommit) -> None:
        board = game(slug=self.game_id)
        Match.objects.create(
            id=self.match_id, board=board, rules=self.rules, players=list(self.players), created_by_id=self.api_key_id
        )


def create_match(*, caller: Caller, game_id: str, players: list[str], rules: str) -> CreatedMatch:
    """A new match on a game that counts wins; the first player listed moves first."""
    _check_game_counts_wins(game(slug=game_id))
    if len(set(players)) != 2 or len(players) != 2:
        raise InvalidMatch("players: two different players.")
    state = MatchState(match_id=f"mch_{secrets.token_hex(8)}", players=tuple(players))
    writes.commit(CreateMatch(state.match_id, game_id, rules, state.players, caller.key_id))
    redis_store.matches.create_match(
        state.match_id, _stored(state), players=players, now=timezone.now().timestamp(), keep_seconds=_keep()
    )
    return CreatedMatch(state, {player: token_for(state.match_id, player) for player in players})


def _check_game_counts_wins(board: Board) -> None:
    if board.operator != Board.Operator.INCREMENT or board.regions:
        raise InvalidMatch(
            f"game_id: {board.slug!r} must be an increment game without regions: a match's win adds"
            f" {WIN_POINTS} to the winner's total there."
        )


def token_for(match_id: str, player_id: str) -> str:
    """The player's signed token for this match alone."""
    return signing.dumps([match_id, player_id], salt=TOKEN_SALT, compress=False)


def player_of_token(token: str, *, match_id: str) -> str:
    """The player a token was made for; InvalidToken if forged or made for another match."""
    try:
        signed_match, player_id = signing.loads(token, salt=TOKEN_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidToken("The token is not valid.") from None
    if signed_match != match_id:
        raise InvalidToken("The token is for another match.")
    return player_id


# --- reading -------------------------------------------------------------------------------------


def match_state(*, match_id: str) -> tuple[MatchState, int | None]:
    """The match's state and version (None once Redis no longer keeps it: then from SQL). A match
    idle past its time is ended now; one Redis finished that SQL has not recorded yet is recorded
    now; one Redis let go unfinished is recorded abandoned."""
    kept = redis_store.matches.match_record(match_id)
    if kept is not None:
        state = _loaded(match_id, kept.state)
        if _idle(state, kept.changed_at, time.time()):
            expired = expire_idle(match_id=match_id)
            return match_state(match_id=match_id) if expired is None else (expired.state, expired.version)
        if state.status != PLAYING:
            record_result(state)
        return state, kept.version
    row = Match.objects.filter(id=match_id).first()
    if row is None:
        raise MatchNotFound(match_id)
    state = _from_row(row)
    if state.status == PLAYING:
        state = ended(state, status=ABANDONED, winner=None, reason=EXPIRED)
        record_result(state)
    return state, None


async def match_state_on_loop(*, match_id: str) -> tuple[MatchState, int | None]:
    """match_state() on the live server's event loop: a match in play as Redis keeps it is read
    there; any other (idle past its time, finished, or no longer kept) in a thread, as it may need
    SQL."""
    kept = await redis_store.converse_on_loop(redis_store.single(redis_store.matches.reading_match(match_id)))
    if kept is not None:
        state = _loaded(match_id, kept.state)
        if state.status == PLAYING and not _idle(state, kept.changed_at, time.time()):
            return state, kept.version
    return await asyncio.to_thread(match_state, match_id=match_id)


def _from_row(row: Match) -> MatchState:
    return MatchState(row.id, tuple(row.players), tuple(row.moves), row.status, row.winner or None, row.reason or None)


# --- changing ------------------------------------------------------------------------------------


def play(*, match_id: str, player_id: str, column: int) -> Change:
    """Apply the player's move: NotYourTurn, IllegalMove or MatchOver, and nothing changed, if it
    breaks a rule. Of two moves made at once, one applies; the other is judged again after it.
    A move on a match idle past its time ends the match instead (MatchOver)."""
    change = redis_store.converse(_playing(match_id, player_id, column))
    record_if_finished(change)
    return _refused_if_expired(change)


async def play_on_loop(*, match_id: str, player_id: str, column: int, known: Change | None = None) -> Change:
    """play() on the live server's event loop, with no thread hop. Given the last change this
    process applied (`known`), the move is judged on its state and applied from its version in one
    round trip; if the match moved on since, or the move is refused, it is judged again on the state
    read from Redis. A move that finishes the match is returned before it is recorded in SQL: the
    caller broadcasts it, then records it (record_if_finished, in a thread)."""
    change = await redis_store.converse_on_loop(_playing(match_id, player_id, column, known))
    if change.state.reason == EXPIRED:
        await asyncio.to_thread(record_if_finished, change)
    return _refused_if_expired(change)


def _playing(match_id: str, player_id: str, column: int, known: Change | None = None):
    return _changing(match_id, lambda state, seen: played(state, player_id=player_id, column=column), known)


def _refused_if_expired(change: Change) -> Change:
    if change.state.reason == EXPIRED:
        raise MatchOver(f"The match expired: no move for {settings.MATCH_IDLE_SECONDS} s.")
    return change


async def forfeit_absent_on_loop(*, match_id: str, connected: set[str], now: float) -> Change | None:
    """If a player of a match in play has been away MATCH_FORFEIT_SECONDS while the other is
    connected, the one away forfeits: the change, or None if nobody forfeits. On the live server's
    event loop: the caller broadcasts the change, then records it (record_if_finished)."""

    def forfeited(state: MatchState, seen: dict[str, float]) -> MatchState | None:
        away = [player for player in state.players if now - seen.get(player, 0) > settings.MATCH_FORFEIT_SECONDS]
        if state.status != PLAYING or len(away) != 1 or away[0] in connected:
            return None
        winner = next(player for player in state.players if player != away[0])
        return ended(state, status=WON, winner=winner, reason="forfeit")

    return await redis_store.converse_on_loop(_changing(match_id, forfeited))


def expire_idle(*, match_id: str) -> Change | None:
    """End the match if it has gone MATCH_IDLE_SECONDS without a change: the change, or None."""
    return _change(match_id, _unchanged)


async def expire_idle_on_loop(*, match_id: str) -> Change | None:
    """expire_idle() on the live server's event loop: the caller broadcasts the change, then
    records it (record_if_finished)."""
    return await redis_store.converse_on_loop(_changing(match_id, _unchanged))


def _unchanged(state: MatchState, seen: dict[str, float]) -> None:
    return None  # _changing ends a match idle past its time first


def _change(match_id: str, change) -> Change | None:
    applied = redis_store.converse(_changing(match_id, change))
    if applied is not None:
        record_if_finished(applied)
    return applied


def _changing(match_id: str, change, known: Change | None = None):
    """Apply change(state, seen) to the match as kept (or end it first if it is idle past its
    time), unless another change came first: then again, from the new state. A conversation with
    Redis (redis_store.converse): the change applied, or None if change() made none. Given `known`,
    the match's last change as this process made it, the first attempt starts from it, unread; a
    refusal there is judged again on the state as read."""
    for _attempt in range(CHANGE_ATTEMPTS):
        if known is not None:
            current, known = _Current(known.state, known.version, known.changed_at, {}), None
            now = time.time()
            try:
                new = _judged(current, change, now)
            except MoveRefused:
                continue  # perhaps on a state the match has left: judged again as read
        else:
            kept = yield redis_store.matches.reading_match(match_id)
            if kept is None:
                raise MatchNotFound(match_id)
            current = _Current(_loaded(match_id, kept.state), kept.version, kept.changed_at, kept.seen)
            now = time.time()
            new = _judged(current, change, now)
        if new is None:
            return None
        message = orjson.dumps(new.message()).decode()
        version = yield redis_store.matches.changing_match(
            match_id, version=current.version, state=_stored(new), message=message, keep_seconds=_keep(), now=now
        )
        if version is not None:
            return Change(new, version, message, now)
    raise InvalidMatch(f"Match {match_id} changed {CHANGE_ATTEMPTS} times while this change was made; try again.")


@dataclass(frozen=True, slots=True)
class _Current:
    """The state a change is made from, with its version, when it was made, and who was seen when."""

    state: MatchState
    version: int
    changed_at: float
    seen: dict[str, float]


def _judged(current: _Current, change, now: float) -> MatchState | None:
    if _idle(current.state, current.changed_at, now):
        return ended(current.state, status=ABANDONED, winner=None, reason=EXPIRED)
    return change(current.state, current.seen)


def _idle(state: MatchState, changed_at: float, now: float) -> bool:
    return state.status == PLAYING and now - changed_at > settings.MATCH_IDLE_SECONDS


def mark_connected(connected: dict[str, list[str]], *, now: float) -> tuple[list[str], list[str]]:
    """The players connected to each match, seen now: (the matches Redis no longer keeps, the
    matches idle past their time)."""
    if not connected:
        return [], []
    return redis_store.converse(_marking(connected, now))


async def mark_connected_on_loop(connected: dict[str, list[str]], *, now: float) -> tuple[list[str], list[str]]:
    """mark_connected() on the live server's event loop."""
    return await redis_store.converse_on_loop(_marking(connected, now))


def _marking(connected: dict[str, list[str]], now: float):
    idle_seconds = settings.MATCH_IDLE_SECONDS
    return redis_store.single(redis_store.matches.marking_seen(connected, now=now, idle_seconds=idle_seconds))


# --- recording -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordMatchResult(Work):
    """A finished match's moves and result, and its winner's win, in one transaction, once: a
    match already recorded is left as it is."""

    state: MatchState

    def apply(self, after: AfterCommit) -> bool:
        row = Match.objects.select_for_update().select_related("board").filter(id=self.state.match_id).first()
        if row is None or row.status != Match.Status.PLAYING:
            return False
        state = self.state
        row.status, row.moves = state.status, list(state.moves)
        row.winner, row.reason = state.winner or "", state.reason or ""
        row.finished_at = timezone.now()
        row.save(update_fields=["status", "winner", "reason", "moves", "finished_at"])
        if state.winner is not None:
            _credit_win(row.board.slug, state.winner, after)
        return True


def _credit_win(game_id: str, winner: str, after: AfterCommit) -> None:
    try:
        with transaction.atomic():  # a savepoint: a win the board cannot take leaves the record
            record(scoring_games.get(game_id), winner, WIN_POINTS, after=after)
    except (TotalOutOfRange, PointsOutOfRange) as error:
        logger.warning("match win of %s on %s not counted: %s", winner, game_id, error)


def record_if_finished(change: Change) -> None:
    if change.finished:
        record_result(change.state)


def record_result(state: MatchState) -> None:
    """Record the finished match, unless SQL has it already (a read first: most calls, from
    reads of a finished match, find it recorded and need no write)."""
    if not Match.objects.filter(id=state.match_id, status=Match.Status.PLAYING).exists():
        return
    try:
        writes.commit(RecordMatchResult(state))
    except IntegrityError as error:  # a concurrent recording of the same match won
        logger.info("match %s already recorded: %s", state.match_id, error)


# --- stored form ---------------------------------------------------------------------------------


def _stored(state: MatchState) -> str:
    return orjson.dumps(
        {"players": state.players, "moves": state.moves, "status": state.status, "winner": state.winner,
         "reason": state.reason}
    ).decode()  # fmt: skip


def _loaded(match_id: str, stored: str) -> MatchState:
    fields = orjson.loads(stored)
    return MatchState(
        match_id, tuple(fields["players"]), tuple(fields["moves"]), fields["status"], fields["winner"], fields["reason"]
    )


def _keep() -> int:
    return KEEP_FACTOR * settings.MATCH_IDLE_SECONDS
