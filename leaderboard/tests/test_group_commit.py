"""Group commit: writes from many threads share one transaction, yet each succeeds or fails on its own."""

import fcntl
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction

from leaderboard import redis_store, services, writes
from leaderboard.exceptions import RateLimited, TotalOutOfRange
from leaderboard.models import BoardEntry, PendingMirror, Player, Score
from leaderboard.services.scores import RecordScore
from leaderboard.writes import Work
from leaderboard.writes.charges import Charged, Counted

from .boards import standing, top
from .conftest import wait_until
from .factories import make_game

# Grouping happens only for callers outside a transaction, so no test here runs inside one.
pytestmark = pytest.mark.django_db(transaction=True)
# Writes are grouped on SQLite only; on PostgreSQL every caller writes in its own transaction.
grouped_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="writes are grouped on SQLite only")


@dataclass(frozen=True)
class Call(Work):
    """A test's own write: whatever the function does, in the boundary's transaction."""

    function: object

    def apply(self, after):
        return self.function()


@dataclass(frozen=True)
class CreatePlayer(Work):
    username: str

    def apply(self, after):
        return Player.objects.create(username=self.username).username


def run_write(function):
    return writes.commit(Call(function))


def in_own_thread(function):
    """function, closing the calling thread's database connection when it returns."""

    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    return run


def one_group(pool: ThreadPoolExecutor, calls) -> list[Future]:
    """Start each call in its own thread while the writer is held on another write, so that
    every call is queued, in order, before the writer takes its next group: one transaction."""
    started, release = threading.Event(), threading.Event()
    held = pool.submit(in_own_thread(run_write), lambda: started.set() or release.wait(timeout=10))
    assert started.wait(timeout=10)
    futures = []
    for queued, call in enumerate(calls, start=1):
        futures.append(pool.submit(in_own_thread(call)))
        wait_until(lambda queued=queued: writes.process_boundary.committer.queued == queued, timeout=10)
    release.set()
    assert held.result(timeout=10) is True
    return futures


def create_player(username: str):
    return lambda: writes.commit(CreatePlayer(username))


def outcome(future: Future):
    try:
        return future.result(timeout=10)
    except Exception as error:  # noqa: BLE001  the error is the outcome under test
        return type(error)


def test_concurrent_submissions_are_stored_and_mirrored_before_their_callers_return(default_board):
    submissions = [(f"p{n % 10}", n) for n in range(40)]

    def submit(submission):
        username, points = submission
        services.submit_score(username=username, points=points)
        return standing(username).score >= points

    with ThreadPoolExecutor(max_workers=8) as pool:
        mirrored = list(pool.map(in_own_thread(submit), submissions))

    best = {f"p{k}": 30 + k for k in range(10)}
    assert mirrored == [True] * 40
    assert sorted(Score.objects.values_list("player__username", "points")) == sorted(submissions)
    assert dict(BoardEntry.objects.values_list("player__username", "value")) == best
    assert top() == sorted(best.items(), key=lambda b: -b[1])


@grouped_only
def test_a_caller_outside_a_transaction_has_its_write_run_by_the_writer_thread():
    with ThreadPoolExecutor(max_workers=1) as pool:
        writer = pool.submit(in_own_thread(run_write), threading.current_thread).result(timeout=10)

    assert writer.name == "speedrank-group-commit"


@grouped_only
def test_writes_queued_together_commit_in_one_transaction():
    ran, seen_at_commit = [], {}

    def write(name):
        def work():
            Player.objects.create(username=name)
            ran.append(name)
            # Runs when this write commits: in one transaction, every write of the group has run by then.
            transaction.on_commit(lambda: seen_at_commit.setdefault(name, set(ran)))
            return name

        return lambda: run_write(work)

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = one_group(pool, [write(name) for name in ("amy", "bob", "cat")])
        results = sorted(future.result(timeout=10) for future in futures)

    assert results == ["amy", "bob", "cat"]
    assert seen_at_commit == {name: {"amy", "bob", "cat"} for name in results}
    assert sorted(Player.objects.values_list("username", flat=True)) == results


@grouped_only
def test_a_refused_submission_raises_in_its_caller_and_the_rest_of_its_group_commits():
    # A running total is checked against the range only in the write, in the group.
    make_game("totals", operator="increment", max_score=50)
    services.submit_score(username="bob", points=40, board_slug="totals")

    def submit(username, points):
        return lambda: services.submit_score(username=username, points=points, board_slug="totals").points

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = one_group(pool, [submit("amy", 10), submit("bob", 20), submit("cat", 30)])
        outcomes = [outcome(future) for future in futures]

    assert outcomes == [10, TotalOutOfRange, 30]
    assert sorted(Score.objects.values_list("player__username", "points")) == [("amy", 10), ("bob", 40), ("cat", 30)]
    assert sorted(Player.objects.values_list("username", flat=True)) == ["amy", "bob", "cat"]
    assert top("totals") == [("bob", 40), ("cat", 30), ("amy", 10)]


@grouped_only
def test_a_write_breaking_a_constraint_rolls_back_alone():
    Player.objects.create(username="taken")

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = one_group(pool, [create_player("amy"), create_player("taken"), create_player("cat")])
        outcomes = [outcome(future) for future in futures]

    assert outcomes == ["amy", IntegrityError, "cat"]
    assert sorted(Player.objects.values_list("username", flat=True)) == ["amy", "cat", "taken"]


def test_a_caller_inside_a_transaction_writes_inline_and_rolls_back_with_it(default_board):
    with pytest.raises(RuntimeError), transaction.atomic():
        writer = run_write(threading.current_thread)
        services.submit_score(username="amy", points=42)
        raise RuntimeError("the caller's transaction fails")

    assert writer is threading.current_thread()
    assert (Player.objects.count(), Score.objects.count()) == (0, 0)


def test_with_groups_of_one_each_caller_writes_in_its_own_thread(default_board, settings):
    settings.GROUP_COMMIT_MAX = 1

    def submit(username, points):
        services.submit_score(username=username, points=points)
        return run_write(threading.current_thread) is threading.current_thread()

    with ThreadPoolExecutor(max_workers=4) as pool:
        inline = list(pool.map(in_own_thread(submit), ["amy", "bob", "amy", "cat"], [10, 20, 30, 5]))

    assert inline == [True] * 4
    assert Score.objects.count() == 4
    assert top() == [("amy", 30), ("bob", 20), ("cat", 5)]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="INSERT OR ROLLBACK is SQLite's")
def test_no_caller_is_told_its_write_committed_when_a_later_write_aborted_the_transaction():
    Player.objects.create(username="taken")

    def abort_the_transaction():
        # Stands for any error after which the write's savepoint cannot be rolled back (a lost
        # connection, SQLITE_FULL or SQLITE_IOERR ending the transaction).
        with connection.cursor() as cursor:
            cursor.execute("INSERT OR ROLLBACK INTO leaderboard_player (username, created_at) VALUES ('taken', '')")

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = one_group(
            pool, [create_player("amy"), lambda: run_write(abort_the_transaction), create_player("cat")]
        )
        acknowledged = {result for result in map(outcome, futures) if isinstance(result, str)}

    assert acknowledged <= set(Player.objects.values_list("username", flat=True))


@grouped_only
def test_a_failing_after_commit_hook_fails_no_other_caller_of_its_group():
    def write(name, hook):
        def work():
            Player.objects.create(username=name)
            transaction.on_commit(hook)
            return name

        return lambda: run_write(work)

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = one_group(pool, [write("amy", str), write("bob", lambda: 1 / 0), write("cat", str)])
        outcomes = [outcome(future) for future in futures]

    assert sorted(Player.objects.values_list("username", flat=True)) == ["amy", "bob", "cat"]
    assert (outcomes[0], outcomes[2]) == ("amy", "cat")


@grouped_only
def test_a_write_turn_held_elsewhere_past_the_busy_timeout_is_refused_as_a_locked_database(default_board, settings):
    settings.SQLITE_BUSY_TIMEOUT_SECONDS = 0.3
    submit = in_own_thread(lambda: services.submit_score(username="amy", points=10))
    with open(f"{connection.settings_dict['NAME']}.write-lock", "a") as turn:
        fcntl.flock(turn, fcntl.LOCK_EX)  # as a stopped worker would hold it
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                refused = outcome(pool.submit(submit))
        finally:
            fcntl.flock(turn, fcntl.LOCK_UN)

    assert refused is OperationalError
    assert Score.objects.count() == 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(submit).result(timeout=10).points == 10


@grouped_only
def test_a_group_committed_at_once_answers_each_write_and_a_failing_one_fails_alone(default_board):
    Player.objects.create(username="taken")

    written = writes.process_boundary.commit_now([RecordScore("default", "amy", 5), CreatePlayer("taken")])

    assert (written[0].points, written[0].rank) == (5, 1)  # mirrored, its rank read, before it is answered
    assert isinstance(written[1], IntegrityError)
    assert sorted(Player.objects.values_list("username", flat=True)) == ["amy", "taken"]
    assert standing("amy").score == 5
    assert writes.process_boundary.commit_now([]) == []


def charge(username: str, limit: int) -> redis_store.Charge:
    return redis_store.Charge([("write-player", username, limit)], 3600)


@grouped_only
def test_a_group_counts_its_works_charges_and_refuses_the_ones_over_their_limits_unwritten(default_board):
    within, over = charge("amy", 1), charge("bob", 0)

    written = writes.process_boundary.commit_now(
        [Charged(RecordScore("default", "amy", 5), within), Charged(RecordScore("default", "bob", 7), over)]
    )

    assert isinstance(written[0], Counted) and written[0].outcome.points == 5
    assert (written[0].verdict.allowed, written[0].verdict.left) == (True, 0)
    assert isinstance(written[1], RateLimited) and written[1].verdict.limit == 0
    assert (within.refused, over.refused) == (False, True)
    assert list(Score.objects.values_list("player__username", flat=True)) == ["amy"]
    assert top() == [("amy", 5)]


@grouped_only
def test_a_group_whose_works_are_all_over_their_limits_writes_nothing(default_board):
    written = writes.process_boundary.commit_now([Charged(RecordScore("default", "amy", 5), charge("amy", 0))])

    assert [type(result) for result in written] == [RateLimited]
    assert not Score.objects.exists()


def test_a_write_of_a_charged_call_is_counted_with_the_write_and_refused_over_its_limit(default_board):
    with redis_store.riding(charge("amy", 1)) as first:
        services.submit_score(username="amy", points=1)
    with redis_store.riding(charge("amy", 1)) as second, pytest.raises(RateLimited):
        services.submit_score(username="amy", points=2)

    assert (first.verdict.allowed, second.verdict.allowed) == (True, False)
    assert list(Score.objects.values_list("points", flat=True)) == [1]


@grouped_only
def test_a_group_committed_at_once_gives_up_on_a_turn_held_elsewhere_past_the_busy_timeout(settings):
    settings.SQLITE_BUSY_TIMEOUT_SECONDS = 0.2
    with open(f"{connection.settings_dict['NAME']}.write-lock", "a") as turn:
        fcntl.flock(turn, fcntl.LOCK_EX)
        try:
            (written,) = writes.process_boundary.commit_now([CreatePlayer("amy")])
        finally:
            fcntl.flock(turn, fcntl.LOCK_UN)

    assert isinstance(written, OperationalError) and "database is locked" in str(written)
    assert not Player.objects.exists()


@grouped_only
def test_while_the_process_catches_up_a_group_queues_its_mirrors_without_waiting_on_redis(default_board, hung_redis):
    (first,) = writes.process_boundary.commit_now([RecordScore("default", "amy", 1)])  # waits out Redis, then queues
    started = time.monotonic()
    (second,) = writes.process_boundary.commit_now([RecordScore("default", "bob", 1)])
    waited = time.monotonic() - started

    assert waited < settings.REDIS_SOCKET_TIMEOUT
    assert sorted(PendingMirror.objects.values_list("score_id", flat=True)) == [first.id, second.id]
