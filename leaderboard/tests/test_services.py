"""Submitting scores: SQL is the acknowledgement, the Redis mirror follows the commit."""

import pytest
from django.db import transaction
from django.utils import timezone

from leaderboard import redis_store, services
from leaderboard.exceptions import BoardNotFound, PointsOutOfRange
from leaderboard.models import Board, PendingMirror, Player, Score

from .boards import standing, top
from .conftest import free_port, single_redis

pytestmark = pytest.mark.django_db


def dead_redis():
    """Settings pointing at a port where no Redis listens."""
    return single_redis(f"redis://127.0.0.1:{free_port()}/0")


def test_a_submission_is_stored_with_its_board_player_points_and_time(django_capture_on_commit_callbacks):
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        score = services.submit_score(username="amy", points=42)

    stored = Score.objects.select_related("board", "player").get()
    assert (stored.id, stored.board.slug, stored.player.username, stored.points) == (score.id, "default", "amy", 42)
    assert before <= stored.achieved_at <= timezone.now()


def test_the_mirror_runs_only_after_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        services.submit_score(username="amy", points=42)
        assert redis_store.total_members("default") == 0
    for callback in callbacks:
        callback()

    assert standing("amy").score == 42


def test_a_rolled_back_submission_is_never_mirrored(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.submit_score(username="amy", points=42)
        raise RuntimeError("the caller's transaction fails")

    assert Score.objects.count() == 0
    assert redis_store.total_members("default") == 0


def test_points_outside_the_boards_range_are_refused():
    Board.objects.create(slug="small", name="Small", min_points=10, max_points=20)

    with pytest.raises(PointsOutOfRange):
        services.submit_score(username="amy", points=21, board_slug="small")
    assert Player.objects.count() == 0


def test_an_unknown_board_is_refused():
    with pytest.raises(BoardNotFound):
        services.submit_score(username="amy", points=1, board_slug="nope")


def test_a_failed_mirror_queues_the_score_and_the_drain_replays_it(django_capture_on_commit_callbacks):
    with dead_redis(), django_capture_on_commit_callbacks(execute=True):
        score = services.submit_score(username="amy", points=42)
    assert list(PendingMirror.objects.values_list("score_id", flat=True)) == [score.id]

    assert services.drain_pending_mirrors() == 1

    assert standing("amy").score == 42
    assert PendingMirror.objects.count() == 0


def test_draining_replays_with_the_original_tie_order(django_capture_on_commit_callbacks):
    with dead_redis(), django_capture_on_commit_callbacks(execute=True):
        services.submit_score(username="first", points=7)
    with django_capture_on_commit_callbacks(execute=True):
        services.submit_score(username="second", points=7)

    services.drain_pending_mirrors()

    assert [player for player, _score in top()] == ["first", "second"]


def test_the_migrations_create_the_default_board_highest_first_best_kept():
    board = Board.objects.get(slug="default")

    assert (board.order, board.operator, board.min_points, board.max_points) == ("desc", "best", 0, 1_000_000)
