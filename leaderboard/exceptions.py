"""Domain errors of the leaderboard; api/errors.py turns them into HTTP answers."""


class LeaderboardError(Exception):
    """Base of every rule the leaderboard enforces."""

    def __reduce__(self):
        # Errors travel back from the write server pickled; the default would call __init__ with
        # the formatted message in place of the arguments it was made from.
        return _restored, (type(self), self.args, self.__dict__)


def _restored(kind: type, args: tuple, state: dict) -> LeaderboardError:
    error = kind.__new__(kind)
    error.args = args
    error.__dict__.update(state)
    return error


class BoardNotFound(LeaderboardError):
    def __init__(self, slug: str):
        super().__init__(f"No board named {slug!r}.")
        self.slug = slug


class PlayerNotRanked(LeaderboardError):
    def __init__(self, username: str):
        super().__init__(f"{username!r} has no score on this board.")
        self.username = username


class PointsOutOfRange(LeaderboardError):
    def __init__(self, points: int, minimum: int, maximum: int):
        super().__init__(f"Points must be between {minimum} and {maximum}; got {points}.")


class TotalOutOfRange(LeaderboardError):
    """An increment would take a running total outside the board's range."""

    def __init__(self, total: int, minimum: int, maximum: int):
        super().__init__(f"This score would make the total {total}, outside {minimum}..{maximum}.")


class BoardUnavailable(LeaderboardError):
    """Redis could not be reached in time; the board cannot be read or written now."""


class BoardNotBuilt(BoardUnavailable):
    """Redis does not hold the whole board (it lost its data); it is being rebuilt from SQL."""

    def __init__(self, board: str):
        super().__init__(f"board {board!r} is not built in redis; rebuilding it from SQL")
        self.board = board


class RateLimited(LeaderboardError):
    """A write over its call's rate limit, refused before anything was written; `verdict` is
    the count that refused it."""

    def __init__(self, verdict):
        super().__init__("Rate limit exceeded.")
        self.verdict = verdict


class WriteUnconfirmed(LeaderboardError):
    """The write server went away (or hung) before it answered: the submission may or may not be
    recorded."""


class RebuildInProgress(LeaderboardError):
    def __init__(self, board: str):
        super().__init__(f"A rebuild of board {board!r} is already running.")
        self.board = board


class GameAlreadyExists(LeaderboardError):
    def __init__(self, slug: str):
        super().__init__(f"A game with game_id {slug!r} already exists.")


class InvalidGame(LeaderboardError):
    """A game's settings break a rule; `problems` maps each field to what is wrong with it."""

    def __init__(self, problems: dict[str, list[str]]):
        super().__init__("; ".join(f"{field}: {' '.join(wrong)}" for field, wrong in problems.items()))
        self.problems = problems


class InvalidRegion(LeaderboardError):
    """A region the game does not have, or none where the game needs one."""

    @classmethod
    def not_the_games(cls, regions: tuple[str, ...]) -> "InvalidRegion":
        """A region named that is not one of these, the game's."""
        return cls(
            f"Must be one of the game's regions: {', '.join(regions)}." if regions else "This game has no regions."
        )


class GlobalViewTooDeep(LeaderboardError):
    """A page of a game's global view past GLOBAL_VIEW_DEPTH_MAX: each region would be read that deep."""

    def __init__(self, depth: int, deepest: int):
        super().__init__(
            f"offset + top is {depth}; the global view of a game with regions pages to rank {deepest} at most."
            " Read one region's board (region=) to page further."
        )


class RegionMismatch(LeaderboardError):
    """A score naming a region other than the player's on the game (or than its session's)."""


class PlayerNotFound(LeaderboardError):
    def __init__(self, username: str):
        super().__init__(f"No player {username!r}.")


class InvalidToken(LeaderboardError):
    """A session token that is missing, forged, expired, or for no known session."""


class TokenMismatch(LeaderboardError):
    """The body names a player, game or session other than the token's."""


class SessionAlreadyScored(LeaderboardError):
    def __init__(self, session_id):
        super().__init__(f"Session {session_id} already has its score.")


class ScoreExceedsSessionMaximum(LeaderboardError):
    """A score higher than the session's length allows at the game's maximum rate."""


class InvalidApiKey(LeaderboardError):
    """An API key that is missing, unknown or revoked."""


class ApiKeyScopeDenied(LeaderboardError):
    def __init__(self, needed: str):
        super().__init__(f"This call needs an API key with the '{needed}' scope.")


class IdempotencyKeyReused(LeaderboardError):
    def __init__(self, key: str):
        super().__init__(f"Idempotency-Key {key!r} was already used for a different request.")


class MatchNotFound(LeaderboardError):
    def __init__(self, match_id: str):
        super().__init__(f"No match {match_id!r}.")
        self.match_id = match_id


class InvalidMatch(LeaderboardError):
    """A match that cannot be created as asked (its game does not count wins, ...)."""


class MoveRefused(LeaderboardError):
    """A move that breaks the match's rules; `code` names which, as the live protocol does."""

    code = "illegal_move"


class NotYourTurn(MoveRefused):
    code = "not_your_turn"


class IllegalMove(MoveRefused):
    code = "illegal_move"


class MatchOver(MoveRefused):
    code = "match_over"


class JobsUnavailable(LeaderboardError):
    """The job queue cannot take or show jobs now (its Redis is away, or none is configured)."""


class JobNotFound(LeaderboardError):
    def __init__(self, job_id: str):
        super().__init__(f"No job {job_id}.")


class ExportNotFound(LeaderboardError):
    def __init__(self, export_id: str):
        super().__init__(f"No export {export_id!r}.")


class PeriodNotDue(LeaderboardError):
    """A period's close ran before the period was due (only a clock far behind makes one)."""

    def __init__(self, period_id: int):
        super().__init__(f"Period {period_id} is not due to close yet.")


class PeriodNotFound(LeaderboardError):
    def __init__(self, period: str):
        super().__init__(f"No period {period!r} of this game: name a closed period's id, or 'current'.")


class UnsupportedImage(LeaderboardError):
    """An avatar whose declared type is not accepted, or whose bytes are not of that type."""


class ImageTooLarge(LeaderboardError):
    def __init__(self, limit: int):
        super().__init__(f"The image is larger than {limit} bytes.")


class UnreadableImage(LeaderboardError):
    """An uploaded image that cannot be decoded safely (corrupt, truncated, or too many pixels):
    its avatar fails for good, with this as the reason."""
