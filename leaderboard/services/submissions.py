"""The v1 score submissions: through a play session (anti-cheat), or from a trusted server (idempotent)."""

import hashlib
import logging
import math
from contextlib import suppress

import orjson
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from .. import redis_store
from ..exceptions import (
    BoardUnavailable,
    IdempotencyKeyReused,
    PointsOutOfRange,
    ScoreExceedsSessionMaximum,
    SessionAlreadyScored,
    TokenMismatch,
)
from ..models import ApiKey, Board, IdempotencyRecord, PlaySession, Score
from ..timestamps import iso_utc
from .games import scoring_game
from .mirror import mirror_current_entry
from .scores import RecordedScore, record_score
from .sessions import TokenClaims, open_session

logger = logging.getLogger(__name__)


def submit_session_score(*, claims: TokenClaims, player_id: str, game_id: str, session_id: str, score: int) -> dict:
    """Record the one score of a play session, checked against the time the session has run."""
    if (claims.player_id, claims.game_id, claims.session_id) != (player_id, game_id, session_id):
        raise TokenMismatch("The body's player_id, game_id and session_id must match the token's.")
    with transaction.atomic():
        session = open_session(claims)
        if Score.objects.filter(session=session).exists():
            raise SessionAlreadyScored(session.id)
        _check_session_rate(session, score)
        try:
            with transaction.atomic():
                stored = record_score(board=session.board, username=player_id, points=score, session=session)
        except IntegrityError:
            raise SessionAlreadyScored(session.id) from None  # a concurrent submission won the race
    return submission_body(stored, session.board, player_id)


def submit_server_score(
    *, api_key: ApiKey, player_id: str, game_id: str, score: int, idempotency_key: str | None
) -> dict:
    """Record a score from a trusted server; with an idempotency key, a retry gets the first answer."""
    if not idempotency_key:
        return _record_from_server(game_id, player_id, score)
    request_hash = _request_hash(player_id, game_id, score)
    try:
        return _record_once(api_key, idempotency_key, request_hash, game_id, player_id, score)
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it did.
        return _replay(IdempotencyRecord.objects.get(api_key=api_key, key=idempotency_key), request_hash)


def _record_once(api_key, key, request_hash, game_id, player_id, score) -> dict:
    with transaction.atomic():
        existing = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
        if existing is not None:
            return _replay(existing, request_hash)
        body = _record_from_server(game_id, player_id, score, rank=False)
        record = IdempotencyRecord.objects.create(
            api_key=api_key, key=key, request_hash=request_hash, status_code=201, response=body
        )
    body["rank"] = _rank_after_write(game_id, player_id)
    try:
        IdempotencyRecord.objects.filter(pk=record.pk).update(response=body)
    except DatabaseError as error:
        # The score is committed and the answer stands; a replay reads the rank afresh.
        logger.warning("could not store the rank of idempotent request %s: %s", key, error)
    return body


def _record_from_server(game_id: str, player_id: str, score: int, rank: bool = True) -> dict:
    board = scoring_game(slug=game_id)
    with transaction.atomic():
        stored = record_score(board=board, username=player_id, points=score)
    return submission_body(stored, board, player_id, rank=rank)


def _replay(record: IdempotencyRecord, request_hash: str) -> dict:
    if record.request_hash != request_hash:
        raise IdempotencyKeyReused(record.key)
    body = dict(record.response)
    if body["rank"] is None:
        # Replayed before the first answer stored its rank, perhaps before its mirror ran.
        with suppress(BoardUnavailable):
            mirror_current_entry(score_id=int(body["id"]))
        body["rank"] = _rank_after_write(body["game_id"], body["player_id"])
    return body


def _request_hash(player_id: str, game_id: str, score: int) -> str:
    canonical = orjson.dumps({"player_id": player_id, "game_id": game_id, "score": score}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _check_session_rate(session: PlaySession, score: int) -> None:
    board = session.board
    if not board.rules.accepts(score):
        raise PointsOutOfRange(score, board.min_points, board.max_points)
    if board.max_points_per_second is None:
        return
    elapsed = (timezone.now() - session.started_at).total_seconds()
    max_possible = math.floor(elapsed * board.max_points_per_second)
    if score > max_possible:
        numbers = (
            f"session_duration={math.floor(elapsed * 10) / 10:g}s max_rate={board.max_points_per_second:g}pts/s "
            f"max_possible={max_possible} submitted={score}"
        )
        fields = {
            "event": "score_rejected", "reason": "score_exceeds_session_maximum", "game_id": board.slug,
            "player_id": session.player.username, "session_id": str(session.id), "session_seconds": round(elapsed, 3),
            "max_rate": board.max_points_per_second, "max_possible": max_possible, "submitted": score,
        }  # fmt: skip
        logger.warning(
            "score_rejected reason=score_exceeds_session_maximum game=%s player=%s session=%s %s",
            board.slug, session.player.username, session.id, numbers, extra=fields,
        )  # fmt: skip
        raise ScoreExceedsSessionMaximum(numbers)


def submission_body(stored: RecordedScore, board: Board, player_id: str, *, rank: bool = True) -> dict:
    return {
        "id": str(stored.id),
        "player_id": player_id,
        "game_id": board.slug,
        "score": stored.points,
        "rank": _rank_after_write(board.slug, player_id) if rank else None,
        "submitted_at": iso_utc(stored.achieved_at),
    }


def _rank_after_write(game_id: str, player_id: str) -> int | None:
    # Read after the commit, and so after the mirror: the player sees their own write.
    try:
        found = redis_store.rank_for(game_id, player_id)
    except BoardUnavailable:
        return None
    return found[0] if found else None
