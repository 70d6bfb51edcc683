"""Connect-Four's rules as pure functions: turns, the board, wins in each direction, a full
column, a draw, and a match over."""

import random

import pytest

from leaderboard.exceptions import IllegalMove, MatchOver, NotYourTurn
from leaderboard.match_rules import COLUMNS, DRAW, PLAYING, ROWS, WON, MatchState, ended, played


def after(*columns: int) -> MatchState:
    state = MatchState("mch_test", ("amy", "bob"))
    for column in columns:
        state = played(state, player_id=state.turn, column=column)
    return state


def a_drawn_game() -> tuple[int, ...]:
    """42 moves that fill the board with nobody connecting four, found by a seeded random search."""
    chooser = random.Random(7)
    while True:
        state, moves = MatchState("mch_test", ("amy", "bob")), []
        while state.status == PLAYING:
            open_columns = [column for column in range(COLUMNS) if state.moves.count(column) < ROWS]
            column = chooser.choice(open_columns)
            state = played(state, player_id=state.turn, column=column)
            moves.append(column)
        if state.status == DRAW:
            return tuple(moves)


def test_a_new_match_is_empty_and_the_first_player_listed_moves_first():
    state = MatchState("mch_test", ("amy", "bob"))

    assert (state.turn, state.seq, state.status, state.winner) == ("amy", 0, PLAYING, None)
    assert state.board() == [[None] * COLUMNS for _row in range(ROWS)]


def test_discs_fall_to_the_lowest_free_cell_and_turns_alternate():
    state = after(3, 3, 0)

    board = state.board()
    assert (board[5][3], board[4][3], board[5][0], board[3][3]) == ("amy", "bob", "amy", None)
    assert (state.turn, state.seq) == ("bob", 3)


@pytest.mark.parametrize(
    "moves, direction",
    [
        ((0, 1, 0, 1, 0, 1, 0), "vertical"),
        ((0, 0, 1, 1, 2, 2, 3), "horizontal"),
        ((0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3), "rising diagonal"),
        ((6, 5, 5, 4, 4, 3, 4, 3, 3, 0, 3), "falling diagonal"),
    ],
)
def test_four_in_a_row_wins(moves, direction):
    state = after(*moves)

    assert (state.status, state.winner, state.turn) == (WON, "amy", None), direction


def test_three_in_a_row_does_not_win():
    assert after(0, 1, 0, 1, 0).status == PLAYING


def test_a_move_out_of_turn_out_of_range_or_into_a_full_column_is_refused():
    state = after(2, 2, 2, 2, 2, 2)

    with pytest.raises(NotYourTurn):
        played(state, player_id="bob", column=0)
    for column in (-1, COLUMNS, 2):
        with pytest.raises(IllegalMove):
            played(state, player_id="amy", column=column)


def test_a_full_board_without_four_in_a_row_is_a_draw():
    state = after(*a_drawn_game())

    assert (state.status, state.winner, state.seq) == (DRAW, None, ROWS * COLUMNS)
    assert all(cell is not None for row in state.board() for cell in row)


def test_no_move_is_taken_once_the_match_is_over():
    with pytest.raises(MatchOver):
        played(after(0, 1, 0, 1, 0, 1, 0), player_id="bob", column=1)


def test_an_ending_off_the_board_is_a_change_of_its_own():
    forfeited = ended(after(3, 4), status=WON, winner="bob", reason="forfeit")

    assert (forfeited.seq, forfeited.message()["moves"], forfeited.turn) == (3, 2, None)
