"""The v1 score submissions: through a play session (anti-cheat), or from a trusted server
(idempotent with a key: a retry gets the first answer and writes nothing)."""

import hashlib
import logging
import math
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime

import orjson
from django.db import IntegrityError, connection
from django.utils import timezone

from .. import redis_store, regional, writes
from ..exceptions import (
    BoardUnavailable,
    IdempotencyKeyReused,
    PlayerNotRanked,
    RegionMismatch,
    ScoreExceedsSessionMaximum,
    SessionAlreadyScored,
    TokenMismatch,
)
from ..models import IdempotencyRecord
from ..timestamps import iso_utc
from ..writes import AfterCommit, Work
from . import periods, rows
from .games import scoring_games
from .keys import Caller
from .scores import RecordedScore, check_points, check_region, record
from .sessions import SessionInPlay, TokenClaims, session_in_play

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Submission:
    """An accepted v1 score; `rank` is the player's rank after it, None if the board could not be read."""

    id: int
    player_id: str
    game_id: str
    score: int
    rank: int | None
    submitted_at: datetime

    def as_record(self) -> dict:
        """As an idempotency record keeps it, to answer a retry alike."""
        return {
            "id": str(self.id), "player_id": self.player_id, "game_id": self.game_id, "score": self.score,
            "rank": self.rank, "submitted_at": iso_utc(self.submitted_at),
        }  # fmt: skip

    @classmethod
    def from_record(cls, kept: dict) -> "Submission":
        submitted_at = datetime.fromisoformat(kept["submitted_at"].replace("Z", "+00:00"))
        return cls(int(kept["id"]), kept["player_id"], kept["game_id"], kept["score"], kept["rank"], submitted_at)


def _submission(score: RecordedScore, game_id: str, player_id: str) -> Submission:
    return Submission(score.id, player_id, game_id, score.points, score.rank, score.achieved_at)


# --- from a play session -------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordSessionScore(Work):
    claims: TokenClaims
    score: int
    region: str = ""

    def apply(self, after: AfterCommit) -> RecordedScore:
        with connection.cursor() as cursor:
            session = session_in_play(cursor, self.claims)
        if session.scored:
            raise SessionAlreadyScored(session.id)
        board = scoring_games.get(session.game_id)
        check_points(board, self.score)
        _check_session_rate(session, self.claims.player_id, self.score)
        region = _session_region(session, self.region)
        with connection.cursor() as cursor:
            started_in = periods.period_of_session(cursor, board.id, session.started_at)
            if started_in is not None:  # its period closed since: the score counts there
                return periods.record_in_closed_period(
                    cursor, board, started_in, session.player_key, self.score, session_id=session.id, region=region
                )
        return record(
            board, self.claims.player_id, self.score, after=after, session_id=session.id, player_id=session.player_key,
            region=region,
        )  # fmt: skip


def _session_region(session: SessionInPlay, named: str) -> str:
    """The region a score through the session goes to: the session's, if it named one."""
    if session.region and named and named != session.region:
        raise RegionMismatch(f"The session's region is {session.region!r}; this score names {named!r}.")
    return session.region or named


def submit_session_score(
    *, claims: TokenClaims, player_id: str, game_id: str, session_id: str, score: int, region: str = ""
) -> Submission:
    """Record the one score of a play session, checked against the time the session has run."""
    if (claims.player_id, claims.game_id, claims.session_id) != (player_id, game_id, session_id):
        raise TokenMismatch("The body's player_id, game_id and session_id must match the token's.")
    check_region(scoring_games.get(game_id), region)  # refused here, before anything is sent
    try:
        recorded = writes.commit(RecordSessionScore(claims, score, region))
    except IntegrityError:
        raise SessionAlreadyScored(session_id) from None  # a concurrent submission won the race
    return _submission(recorded, game_id, player_id)


def _check_session_rate(session: SessionInPlay, player_id: str, score: int) -> None:
    if session.max_points_per_second is None:
        return
    elapsed = (timezone.now() - session.started_at).total_seconds()
    max_possible = math.floor(elapsed * session.max_points_per_second)
    if score > max_possible:
        numbers = (
            f"session_duration={math.floor(elapsed * 10) / 10:g}s max_rate={session.max_points_per_second:g}pts/s "
            f"max_possible={max_possible} submitted={score}"
        )
        fields = {
            "event": "score_rejected", "reason": "score_exceeds_session_maximum", "game_id": session.game_id,
            "player_id": player_id, "session_id": session.id, "session_seconds": round(elapsed, 3),
            "max_rate": session.max_points_per_second, "max_possible": max_possible, "submitted": score,
        }  # fmt: skip
        logger.warning(
            "score_rejected reason=score_exceeds_session_maximum game=%s player=%s session=%s %s",
            session.game_id, player_id, session.id, numbers, extra=fields,
        )  # fmt: skip
        raise ScoreExceedsSessionMaximum(numbers)


# --- from a trusted server ----------------------------------------------------------------------


@dataclass(frozen=True)
class RecordServerScore(Work):
    """A server's score; with an idempotency key, recorded once per key: the first answer is kept
    beside the score, in the same transaction, and a retry gets it back instead of a second score."""

    game_id: str
    player_id: str
    score: int
    api_key_id: int
    idempotency_key: str | None = None
    request_hash: str = ""
    region: str = ""

    def apply(self, after: AfterCommit) -> RecordedScore | IdempotencyRecord:
        if self.idempotency_key:
            with connection.cursor() as cursor:
                kept = rows.kept_answer(cursor, self.api_key_id, self.idempotency_key)
            if kept is not None:
                return kept
        board = scoring_games.get(self.game_id)
        recorded = record(board, self.player_id, self.score, after=after, region=self.region)
        if self.idempotency_key:
            answer = IdempotencyRecord(
                api_key_id=self.api_key_id, key=self.idempotency_key, request_hash=self.request_hash, status_code=201,
                response=_submission(recorded, self.game_id, self.player_id).as_record(),
            )  # fmt: skip
            with connection.cursor() as cursor:
                rows.keep_answer(cursor, answer)
        return recorded


@dataclass(frozen=True)
class KeepRank(Work):
    """The first answer kept again with its rank, known only once its score was mirrored."""

    api_key_id: int
    idempotency_key: str
    answer: dict

    def apply(self, after: AfterCommit) -> None:
        with connection.cursor() as cursor:
            rows.replace_kept_response(cursor, self.api_key_id, self.idempotency_key, self.answer)


def submit_server_score(
    *, caller: Caller, player_id: str, game_id: str, score: int, idempotency_key: str | None, region: str = ""
) -> Submission:
    """Record a score from a trusted server; with an idempotency key, a retry gets the first answer."""
    board = scoring_games.get(game_id)
    check_points(board, score)  # refused here, before anything is sent
    check_region(board, region)
    request_hash = _request_hash(player_id, game_id, score, region) if idempotency_key else ""
    work = RecordServerScore(game_id, player_id, score, caller.key_id, idempotency_key, request_hash, region)
    try:
        outcome = writes.commit(work)
    except IntegrityError:
        # A concurrent request with the same key committed first (PostgreSQL): answer as it did.
        with connection.cursor() as cursor:
            outcome = rows.kept_answer(cursor, caller.key_id, idempotency_key) if idempotency_key else None
        if outcome is None:
            raise
    if isinstance(outcome, IdempotencyRecord):
        return _replay(outcome, request_hash)
    submission = _submission(outcome, game_id, player_id)
    if idempotency_key and outcome.rank is not None:
        _keep_rank(KeepRank(caller.key_id, idempotency_key, submission.as_record()))
    return submission


def _keep_rank(work: KeepRank) -> None:
    # The score is committed and the answer stands; without its rank, a retry reads it afresh.
    try:
        writes.commit(work)
    except Exception as error:  # noqa: BLE001
        logger.warning("could not keep the rank of idempotent request %s: %s", work.idempotency_key, error)


def _replay(kept: IdempotencyRecord, request_hash: str) -> Submission:
    if kept.request_hash != request_hash:
        raise IdempotencyKeyReused(kept.key)
    submission = Submission.from_record(kept.response)
    if submission.rank is not None:
        return submission
    # Replayed before the first answer kept its rank, perhaps before its mirror ran.
    with suppress(BoardUnavailable):
        writes.write_current_entries([submission.id])
    return replace(submission, rank=_rank_now(submission.game_id, submission.player_id))


def _rank_now(game_id: str, player_id: str) -> int | None:
    regions = scoring_games.get(game_id).rules.regions
    try:
        if regions:
            return regional.around(game_id, regions, player_id, 0, total=False).rank
        _rules, _total, found = redis_store.around(game_id, player_id, 0, total=False)
    except (BoardUnavailable, PlayerNotRanked):
        return None
    return found[0] + 1 if found else None


def _request_hash(player_id: str, game_id: str, score: int, region: str) -> str:
    # A request naming no region hashes as it did before regions existed.
    request = {"player_id": player_id, "game_id": game_id, "score": score} | ({"region": region} if region else {})
    canonical = orjson.dumps(request, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()
