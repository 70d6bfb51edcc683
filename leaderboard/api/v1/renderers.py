"""The /v1/ answers' shapes, from the domain objects the services and selectors return (schema.py
describes the same shapes for the OpenAPI schema)."""

from ... import selectors, services
from ...models import Period
from ...timestamps import iso_utc


def entries(found: list[selectors.Standing]) -> list[dict]:
    """Standings as entries; on the global view of a game with regions, each names its region."""
    if found and found[0].region is not None:
        return [{"rank": s.rank, "player_id": s.player_id, "score": s.score, "region": s.region} for s in found]
    return [{"rank": rank, "player_id": player_id, "score": score} for rank, player_id, score, _region in found]


def page(game_id: str, found: selectors.Page) -> dict:
    return {"game_id": game_id, "entries": entries(found.standings), "total_players": found.total_players}


def neighbourhood(found: selectors.Neighbourhood) -> dict:
    rank, player_id, score, region = found.player
    player = {"rank": rank, "player_id": player_id, "score": score, "percentile": found.percentile}
    if found.regional_rank is not None:
        player |= {"region": region, "regional_rank": found.regional_rank}
    return {"player": player, "above": entries(found.above), "below": entries(found.below)}


def standings(game_id: str, found: list[selectors.Standing]) -> dict:
    return {"game_id": game_id, "entries": entries(found)}


def matchmaking(game_id: str, player_id: str, found: list[selectors.Standing]) -> dict:
    return {"game_id": game_id, "player_id": player_id, "players": entries(found)}


def game(found: services.GameView) -> dict:
    board, current = found.board, found.current
    return {
        "game_id": board.slug, "name": board.name, "order": board.order, "operator": board.operator,
        "min_score": board.min_points, "max_score": board.max_points,
        "max_points_per_second": board.max_points_per_second, "max_session_seconds": board.max_session_seconds,
        "regions": board.regions, "reset": board.reset,
        "current_period": _period_bounds(current) if current else None,
        "next_reset_at": _iso_or_none(found.next_reset_at), "created_at": iso_utc(board.created_at),
    }  # fmt: skip


def periods(game_id: str, found: services.ClosedPeriods) -> dict:
    shown = [_period_bounds(p) | {"players": p.players, "winners": p.winners} for p in found.periods]
    return {"game_id": game_id, "periods": shown, "next_before": found.next_before}


def closing(found: services.ClosingPeriod) -> dict:
    return {"job_id": found.job_id, "period_id": found.period_id}


def _period_bounds(period: Period) -> dict:
    return {"id": period.id, "starts_at": iso_utc(period.starts_at), "ends_at": _iso_or_none(period.ends_at)}


def _iso_or_none(moment) -> str | None:
    return iso_utc(moment) if moment is not None else None


def session(started: services.StartedSession) -> dict:
    return {
        "session_id": started.session_id, "token": started.token, "player_id": started.player_id,
        "game_id": started.game_id, "started_at": iso_utc(started.started_at),
        "expires_at": iso_utc(started.expires_at),
    }  # fmt: skip


def profile(found: services.Profile) -> dict:
    return {
        "player_id": found.player_id,
        "created_at": iso_utc(found.created_at),
        "games": [_profile_game(game) for game in found.games],
        "avatar": {"status": found.avatar.status, "urls": found.avatar.urls, "error": found.avatar.error},
    }


def _profile_game(game: services.GameEntry) -> dict:
    shown = {"game_id": game.game_id, "score": game.score, "rank": game.rank, "submissions": game.submissions}
    return shown if game.region is None else shown | {"region": game.region, "regional_rank": game.regional_rank}


def submission(accepted: services.Submission) -> dict:
    return {
        "id": str(accepted.id), "player_id": accepted.player_id, "game_id": accepted.game_id, "score": accepted.score,
        "rank": accepted.rank, "submitted_at": iso_utc(accepted.submitted_at),
    }  # fmt: skip


def regional_standing(found: services.RegionalStanding) -> dict:
    return {
        "game_id": found.game_id, "player_id": found.player_id, "region": found.region, "score": found.score,
        "rank": found.rank, "regional_rank": found.regional_rank,
    }  # fmt: skip
