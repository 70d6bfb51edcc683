"""The /v1/ answers' shapes, from the domain objects the services and selectors return (schema.py
describes the same shapes for the OpenAPI schema)."""

from ... import selectors, services
from ...models import Board
from ...timestamps import iso_utc


def entries(found: list[selectors.Standing]) -> list[dict]:
    return [{"rank": rank, "player_id": player_id, "score": score} for rank, player_id, score in found]


def page(game_id: str, found: selectors.Page) -> dict:
    return {"game_id": game_id, "entries": entries(found.standings), "total_players": found.total_players}


def neighbourhood(found: selectors.Neighbourhood) -> dict:
    rank, player_id, score = found.player
    return {
        "player": {"rank": rank, "player_id": player_id, "score": score, "percentile": found.percentile},
        "above": entries(found.above),
        "below": entries(found.below),
    }


def standings(game_id: str, found: list[selectors.Standing]) -> dict:
    return {"game_id": game_id, "entries": entries(found)}


def matchmaking(game_id: str, player_id: str, found: list[selectors.Standing]) -> dict:
    return {"game_id": game_id, "player_id": player_id, "players": entries(found)}


def game(board: Board) -> dict:
    return {
        "game_id": board.slug, "name": board.name, "order": board.order, "operator": board.operator,
        "min_score": board.min_points, "max_score": board.max_points,
        "max_points_per_second": board.max_points_per_second, "max_session_seconds": board.max_session_seconds,
        "regions": board.regions, "created_at": iso_utc(board.created_at),
    }  # fmt: skip


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
        "games": [
            {"game_id": game.game_id, "score": game.score, "rank": game.rank, "submissions": game.submissions}
            for game in found.games
        ],
    }


def submission(accepted: services.Submission) -> dict:
    return {
        "id": str(accepted.id), "player_id": accepted.player_id, "game_id": accepted.game_id, "score": accepted.score,
        "rank": accepted.rank, "submitted_at": iso_utc(accepted.submitted_at),
    }  # fmt: skip
