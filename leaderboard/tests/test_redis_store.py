"""The score encoding and the board commands, against a real Redis."""

import time

import pytest
import redis
from django.conf import settings

from leaderboard import redis_store
from leaderboard.exceptions import RebuildInProgress
from leaderboard.limits import ENCODABLE_POINTS_MAX, POINTS_MAX, SEQUENCE_LIMIT
from leaderboard.redis_store import MirroredEntry
from leaderboard.redis_store.client import IDLE_CHECK_SECONDS
from leaderboard.rules import BoardRules

from .boards import rank_and_score

LAST_SEQUENCE = SEQUENCE_LIMIT - 1


RULES = BoardRules("desc", "best", 0, ENCODABLE_POINTS_MAX)


@pytest.fixture(autouse=True)
def _boards_built():
    for board in ("b", "exact", "other"):
        redis_store.publish_board(board, RULES)


def top(board: str) -> list[tuple[str, int]]:
    """(member, rank value) of the board's best ten."""
    _rules, _total, rows = redis_store.page(board, 0, 10)
    return rows


@pytest.mark.parametrize("points", [0, 1, POINTS_MAX, ENCODABLE_POINTS_MAX])
@pytest.mark.parametrize("sequence", [1, 2, 123_456_789, LAST_SEQUENCE])
def test_every_encodable_score_survives_redis_exactly(points, sequence):
    redis_store.set_entry("exact", "p", redis_store.encode(points, sequence))

    stored = redis_store.encoded_scores("exact", ["p"])[0]

    assert stored == redis_store.encode(points, sequence)
    assert redis_store.decode_rank_value(stored) == points
    assert stored < 2**53


def test_more_points_outrank_any_earlier_sequence():
    assert redis_store.encode(1, LAST_SEQUENCE) > redis_store.encode(0, 1)
    assert redis_store.encode(POINTS_MAX, LAST_SEQUENCE) > redis_store.encode(POINTS_MAX - 1, 1)


def test_at_equal_points_the_earlier_sequence_outranks_the_later():
    assert redis_store.encode(500, 1) > redis_store.encode(500, 2)
    assert redis_store.encode(500, LAST_SEQUENCE - 1) > redis_store.encode(500, LAST_SEQUENCE)


@pytest.mark.parametrize("points, sequence", [(-1, 1), (ENCODABLE_POINTS_MAX + 1, 1), (1, 0), (1, SEQUENCE_LIMIT)])
def test_values_outside_the_bit_budget_are_refused(points, sequence):
    with pytest.raises(ValueError):
        redis_store.encode(points, sequence)


def test_an_entry_only_moves_to_newer_states():
    redis_store.set_entry("b", "p", redis_store.encode(500, 10))
    redis_store.set_entry("b", "p", redis_store.encode(400, 12))  # a later state, lower: latest/increment
    redis_store.set_entry("b", "p", redis_store.encode(900, 11))  # an older state, replayed late

    assert redis_store.encoded_scores("b", ["p"]) == [redis_store.encode(400, 12)]


def test_replaying_the_same_state_changes_nothing():
    redis_store.set_entry("b", "p", redis_store.encode(500, 10))
    redis_store.set_entry("b", "p", redis_store.encode(500, 10))

    assert rank_and_score("p", "b") == (1, 500)


def test_swap_in_replaces_the_live_board_and_releases_the_rebuild():
    redis_store.set_entry("b", "old", redis_store.encode(1, 1))
    redis_store.start_rebuild("b")
    redis_store.load_entries("b", [(redis_store.encode(2, 2), "new")])

    redis_store.swap_in("b", RULES)

    assert top("b") == [("new", 2)]
    assert redis_store.client().exists(redis_store.rebuild_key("b"), redis_store.rebuild_lock_key("b")) == 0
    assert redis_store.client().ttl(redis_store.board_key("b")) == -1


def test_swapping_in_a_rebuild_with_no_entries_empties_the_board():
    redis_store.set_entry("b", "old", redis_store.encode(1, 1))
    redis_store.start_rebuild("b")

    redis_store.swap_in("b", RULES)

    assert redis_store.total_members("b") == 0


def test_writes_during_a_rebuild_reach_the_rebuilt_board():
    redis_store.start_rebuild("b")
    redis_store.load_entries("b", [(redis_store.encode(5, 1), "amy")])
    redis_store.set_entry("b", "amy", redis_store.encode(9, 3))  # a score committed mid-rebuild
    redis_store.set_entry("b", "bob", redis_store.encode(7, 4))  # a new player mid-rebuild
    redis_store.load_entries("b", [(redis_store.encode(6, 2), "bob")])  # SQL's older view of bob

    redis_store.swap_in("b", RULES)

    assert top("b") == [("amy", 9), ("bob", 7)]


def test_only_one_rebuild_of_a_board_runs_at_a_time():
    redis_store.start_rebuild("b")

    with pytest.raises(RebuildInProgress):
        redis_store.start_rebuild("b")
    redis_store.start_rebuild("other")  # other boards are not held up


def test_outside_a_rebuild_writes_touch_only_the_live_board():
    redis_store.set_entry("b", "amy", redis_store.encode(1, 1))

    assert redis_store.client().exists(redis_store.rebuild_key("b")) == 0


def test_a_board_and_its_rebuild_keys_share_a_cluster_hash_tag():
    assert redis_store.board_key("chess").startswith("speedrank-test:board:{chess}")
    assert "{chess}" in redis_store.rebuild_key("chess")


def test_a_late_mirror_of_an_older_state_during_a_rebuild_does_not_win_the_swap():
    redis_store.set_entry("b", "amy", redis_store.encode(500, 12))
    redis_store.start_rebuild("b")
    redis_store.set_entry("b", "amy", redis_store.encode(100, 10))  # an older state, mirrored late
    redis_store.load_entries("b", [(redis_store.encode(500, 12), "amy")])  # SQL's current state

    redis_store.swap_in("b", RULES)

    assert redis_store.encoded_scores("b", ["amy"]) == [redis_store.encode(500, 12)]


def test_a_batch_of_submissions_lands_even_after_redis_lost_its_scripts():
    redis_store.mirror([MirroredEntry("b", RULES, "amy", redis_store.encode(70, 1))])
    redis_store.client().script_flush()  # as a restarted Redis forgets them

    ranks = redis_store.mirror(
        [
            MirroredEntry("b", RULES, "amy", redis_store.encode(90, 2)),
            MirroredEntry("b", RULES, "bob", redis_store.encode(80, 3)),
        ]
    )

    assert redis_store.encoded_scores("b", ["amy", "bob"]) == [redis_store.encode(90, 2), redis_store.encode(80, 3)]
    assert ranks == [0, 1]


def test_a_mirror_reports_each_players_rank_after_the_batch_even_when_the_entry_did_not_change():
    ranks = redis_store.mirror(
        [
            MirroredEntry("b", RULES, "amy", redis_store.encode(70, 1)),
            MirroredEntry("b", RULES, "bob", redis_store.encode(90, 2)),
        ]
    )
    unchanged = redis_store.mirror([MirroredEntry("b", RULES, "amy", None)])

    assert (ranks, unchanged) == ([1, 0], [1])  # read once the whole batch is on the board


def test_a_rider_goes_with_the_next_round_trip_once():
    class Rider:
        sent = False

        def __init__(self):
            self.replies = []

        def commands(self):
            return [("INCR", "speedrank-test:counter")]

        def take(self, replies):
            self.replies.append(replies)
            self.sent = True

        def failed(self, error):
            raise AssertionError(error)

    rider = Rider()
    with redis_store.riding(rider):
        redis_store.total_members("b")
        redis_store.total_members("b")

    assert rider.replies == [[1]]
    assert redis_store.client().get("speedrank-test:counter") == "1"


def test_a_connection_redis_closed_while_it_was_idle_is_replaced_rather_than_failing_a_call():
    redis_store.set_entry("b", "amy", redis_store.encode(5, 1))
    killer = redis.Redis.from_url(settings.REDIS_URL)
    killer.client_kill_filter(_type="normal", skipme=True)  # as a restart or Redis's idle timeout would
    time.sleep(IDLE_CHECK_SECONDS + 0.1)

    assert top("b") == [("amy", 5)]


def test_a_rider_sent_on_its_own_does_not_go_again_with_the_next_round_trip():
    charge = redis_store.Charge([("write-ip", "127.0.0.1", 10)], 3600)
    with redis_store.riding(charge):
        charge.settle()  # counted before a write
        redis_store.total_members("b")  # the write's own round trip

    assert charge.verdict.left == 9
