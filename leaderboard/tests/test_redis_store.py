"""The score encoding and the board commands, against a real Redis."""
import pytest

from leaderboard import redis_store
from leaderboard.limits import ENCODABLE_POINTS_MAX, POINTS_MAX, SEQUENCE_LIMIT

LAST_SEQUENCE = SEQUENCE_LIMIT - 1


@pytest.mark.parametrize("points", [0, 1, POINTS_MAX, ENCODABLE_POINTS_MAX])
@pytest.mark.parametrize("sequence", [1, 2, 123_456_789, LAST_SEQUENCE])
def test_every_encodable_score_survives_redis_exactly(points, sequence):
    redis_store.record_best("exact", "p", points, sequence)

    stored = redis_store.encoded_scores("exact", ["p"])[0]

    assert stored == redis_store.encode(points, sequence)
    assert redis_store.decode_points(stored) == points
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


def test_record_best_only_ever_raises_an_entry():
    redis_store.record_best("b", "p", 500, 10)
    redis_store.record_best("b", "p", 400, 11)
    redis_store.record_best("b", "p", 500, 12)

    assert redis_store.rank_for("b", "p") == (1, 500)
    assert redis_store.encoded_scores("b", ["p"]) == [redis_store.encode(500, 10)]


def test_swap_in_replaces_the_live_board_and_clears_the_rebuild_key():
    redis_store.record_best("b", "old", 1, 1)
    key = redis_store.rebuild_key("b")
    redis_store.load_entries(key, [(redis_store.encode(2, 2), "new")])

    redis_store.swap_in("b", key)

    assert redis_store.top("b", 10) == [("new", 2)]
    assert redis_store.client().exists(key) == 0
    assert redis_store.client().ttl(redis_store.board_key("b")) == -1


def test_swapping_in_a_rebuild_with_no_entries_empties_the_board():
    redis_store.record_best("b", "old", 1, 1)

    redis_store.swap_in("b", redis_store.rebuild_key("b"))

    assert redis_store.total_members("b") == 0


def test_a_board_and_its_rebuild_keys_share_a_cluster_hash_tag():
    assert redis_store.board_key("chess").startswith("speedrank-test:board:{chess}")
    assert "{chess}" in redis_store.rebuild_key("chess")
