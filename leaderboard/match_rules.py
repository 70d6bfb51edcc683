"""A match's rules as pure functions: Connect-Four (7 columns, 6 rows, 4 in a row wins), the state
of a match as its moves, and what one more move makes of it."""

from dataclasses import dataclass, replace

from .exceptions import IllegalMove, MatchOver, NotYourTurn

COLUMNS, ROWS, CONNECT = 7, 6, 4
RULES = ("connect_four",)
PLAYING, WON, DRAW, ABANDONED = "playing", "won", "draw", "abandoned"
DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))


@dataclass(frozen=True, slots=True)
class MatchState:
    """A match as its players and the columns played, in order; `reason` says how a match that
    did not end on the board ended ("forfeit", "expired")."""

    match_id: str
    players: tuple[str, str]
    moves: tuple[int, ...] = ()
    status: str = PLAYING
    winner: str | None = None
    reason: str | None = None

    @property
    def turn(self) -> str | None:
        return self.players[len(self.moves) % 2] if self.status == PLAYING else None

    def board(self) -> list[list[str | None]]:
        """ROWS rows of COLUMNS cells, top row first: None or the player_id whose disc it is."""
        cells: list[list[str | None]] = [[None] * COLUMNS for _row in range(ROWS)]
        heights = [0] * COLUMNS
        for number, column in enumerate(self.moves):
            cells[ROWS - 1 - heights[column]][column] = self.players[number % 2]
            heights[column] += 1
        return cells

    @property
    def seq(self) -> int:
        """The changes applied since the match was made: its moves, and one more for an ending off
        the board (a forfeit, an expiry), so every state a client sees has a seq of its own."""
        return len(self.moves) + (self.reason is not None)

    def message(self) -> dict:
        """The STATE message: the same for every participant."""
        return {
            "type": "STATE", "seq": self.seq, "match_id": self.match_id, "board": self.board(),
            "turn": self.turn, "status": self.status, "winner": self.winner, "moves": len(self.moves),
            "players": list(self.players), "reason": self.reason,
        }  # fmt: skip


def played(state: MatchState, *, player_id: str, column: int) -> MatchState:
    """The state after `player_id` drops a disc in `column`; NotYourTurn, IllegalMove or MatchOver,
    and no new state, if the move breaks a rule."""
    if state.status != PLAYING:
        raise MatchOver(f"The match is over ({state.status}).")
    if player_id != state.turn:
        raise NotYourTurn(f"It is {state.turn}'s turn.")
    if not 0 <= column < COLUMNS:
        raise IllegalMove(f"column must be 0 to {COLUMNS - 1}; got {column}.")
    if state.moves.count(column) >= ROWS:
        raise IllegalMove(f"Column {column} is full.")
    after = replace(state, moves=(*state.moves, column))
    if _connects(after.board(), ROWS - after.moves.count(column), column):
        return replace(after, status=WON, winner=player_id)
    if len(after.moves) == ROWS * COLUMNS:
        return replace(after, status=DRAW)
    return after


def ended(state: MatchState, *, status: str, winner: str | None, reason: str) -> MatchState:
    """A match ended off the board: by forfeit (won, by the other player) or by expiry (abandoned)."""
    return replace(state, status=status, winner=winner, reason=reason)


def _connects(board: list[list[str | None]], row: int, column: int) -> bool:
    """Whether the disc at (row, column) makes CONNECT in a row in any direction."""
    player = board[row][column]
    for step_row, step_column in DIRECTIONS:
        run = 1
        for sign in (1, -1):
            r, c = row + sign * step_row, column + sign * step_column
            while 0 <= r < ROWS and 0 <= c < COLUMNS and board[r][c] == player:
                run, r, c = run + 1, r + sign * step_row, c + sign * step_column
        if run >= CONNECT:
            return True
    return False
