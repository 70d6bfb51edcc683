"""manage.py sync_redis: rebuild boards from SQL, atomically, and --check them for drift."""

import random
import subprocess
import sys
import threading
from contextlib import suppress
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from leaderboard import redis_store, services
from leaderboard.exceptions import BoardUnavailable
from leaderboard.models import Board, BoardEntry, Player, Score
from leaderboard.writes.rebuild import recover_if_needed

from .boards import rank_and_score, top
from .conftest import child_database_url, single_redis, wait_until
from .factories import make_game, play


def sync_redis(*args) -> str:
    out = StringIO()
    call_command("sync_redis", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def whole_board(board="default") -> list[tuple[str, float]]:
    """Every entry of the board, as Redis holds it, once the board's header is seen to lead it."""
    members = redis_store.client().zrevrange(redis_store.board_key(board), 0, -1, withscores=True)
    assert members[0][1] == float("inf") and redis_store.rules_of_header(members[0][0]) is not None
    return members[1:]


@pytest.fixture
def played(django_capture_on_commit_callbacks, db):
    """A board with 300 submissions from 60 players, many of them tied."""
    rng = random.Random(11)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(300):
            services.submit_score(username=f"p{rng.randrange(60)}", points=rng.randrange(0, 20))
    return whole_board()


def test_a_rebuild_after_a_flush_restores_the_live_board_exactly(played):
    redis_store.client().flushdb()

    output = sync_redis()

    assert whole_board() == played
    assert output.startswith(f"default: rebuilt {len(played)} players in ")


def test_a_rebuild_repairs_missing_wrong_and_extra_entries(played):
    client, key = redis_store.client(), redis_store.board_key("default")
    client.zrem(key, played[0][0])
    client.zadd(key, {played[1][0]: 1})
    client.zadd(key, {"ghost": 5})

    sync_redis()

    assert whole_board() == played


def test_a_rebuild_leaves_no_temporary_key_behind(played):
    sync_redis()

    board = redis_store.board_key("default")
    assert sorted(redis_store.client().scan_iter("*")) == sorted(
        [
            board,
            redis_store.run_id_key(),
        ]
    )


def test_check_reports_a_clean_board(played):
    (line,) = sync_redis("--check").splitlines()
    assert line.startswith(f"default: checked {len(played)} players: 0 missing, 0 wrong, 0 extra, on ")


def test_check_reports_injected_drift_and_fails_without_writing(played):
    client, key = redis_store.client(), redis_store.board_key("default")
    (missing, _), (wrong, wrong_score) = played[0], played[1]
    client.zrem(key, missing)
    client.zadd(key, {wrong: redis_store.encode(19, 1) if int(wrong_score) >> 33 != 19 else redis_store.encode(0, 1)})
    client.zadd(key, {"ghost": 5})
    drifted = whole_board()
    out = StringIO()

    with pytest.raises(CommandError, match="drift in default"):
        call_command("sync_redis", "--check", stdout=out)

    report = out.getvalue()
    assert f"checked {len(played)} players: 1 missing, 1 wrong, 1 extra" in report
    assert f"missing {missing!r}" in report
    assert f"wrong   {wrong!r}: SQL {int(wrong_score) >> 33}, Redis " in report
    assert "extra   'ghost'" in report
    assert whole_board() == drifted


def test_board_limits_the_rebuild_to_one_board(played, django_capture_on_commit_callbacks):
    Board.objects.create(slug="other", name="Other")
    with django_capture_on_commit_callbacks(execute=True):
        services.submit_score(username="amy", points=3, board_slug="other")
    redis_store.client().flushdb()

    assert sync_redis("--board", "other").startswith("other: rebuilt 1 players")

    assert redis_store.total_members("default") == 0
    assert top("other") == [("amy", 3)]


def test_a_rebuild_while_another_runs_is_refused(played):
    redis_store.start_rebuild("default")

    with pytest.raises(CommandError, match="A rebuild of board 'default' is already running."):
        sync_redis()
    assert whole_board() == played


def test_a_failed_rebuild_releases_the_board(played):
    board = Board.objects.get(slug="default")

    def fail_after_the_first_batch(loaded):
        raise RuntimeError("the rebuild died half way")

    with pytest.raises(RuntimeError):
        services.rebuild_board(board=board, chunk_size=10, progress=fail_after_the_first_batch)

    assert whole_board() == played
    assert redis_store.client().exists(redis_store.rebuild_key("default"), redis_store.rebuild_lock_key("default")) == 0
    assert sync_redis().startswith(f"default: rebuilt {len(played)} players")


def test_an_unknown_board_is_a_command_error(db):
    with pytest.raises(CommandError, match="No board named 'nope'"):
        sync_redis("--board", "nope")


def test_an_emptied_board_is_rebuilt_empty(db):
    redis_store.set_entry("default", "stale", redis_store.encode(1, 1))

    sync_redis()

    assert redis_store.total_members("default") == 0


@pytest.mark.django_db(transaction=True)
def test_readers_never_see_a_partial_board_during_a_rebuild(default_board):
    players = 5000
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO leaderboard_player (username, created_at) VALUES (%s, '2026-01-01')",
            [(f"p{n}",) for n in range(players)],
        )
        cursor.execute(
            "INSERT INTO leaderboard_boardentry (board_id, player_id, value, reached_seq, submissions) "
            "SELECT %s, id, id %% 1000, id, 1 FROM leaderboard_player",
            [default_board.id],
        )
    services.rebuild_board(board=default_board)
    sizes, done = [], threading.Event()

    def watch():
        while not done.is_set():
            sizes.append(redis_store.total_members("default"))

    watcher = threading.Thread(target=watch)
    watcher.start()
    services.rebuild_board(board=default_board, chunk_size=250)
    done.set()
    watcher.join()

    assert len(sizes) > 10
    assert set(sizes) == {players}


@pytest.mark.django_db(transaction=True)
def test_scores_committed_during_a_rebuild_survive_the_swap(default_board):
    for n in range(3000):
        services.submit_score(username=f"p{n}", points=n % 500)
    submitted_midway = threading.Event()

    def submit_from_another_connection(_loaded):
        if not submitted_midway.is_set():
            submitted_midway.set()
            writer = threading.Thread(target=_submit_two_scores)
            writer.start()
            writer.join()

    services.rebuild_board(board=default_board, chunk_size=1000, progress=submit_from_another_connection)

    assert submitted_midway.is_set()
    assert rank_and_score("newcomer", "default") == (1, 999)
    assert rank_and_score("p1", "default")[1] == 998
    assert "0 missing, 0 wrong, 0 extra, on " in sync_redis("--check")


def _submit_two_scores():
    try:
        services.submit_score(username="newcomer", points=999)
        services.submit_score(username="p1", points=998)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_check_exits_non_zero_on_drift_from_the_command_line(default_board, redis_url):
    services.submit_score(username="amy", points=1)  # committed; its mirror ran on commit
    wait_until(lambda: redis_store.total_members("default") == 1, timeout=5)
    redis_store.client().delete(redis_store.board_key("default"))
    env = {
        "DATABASE_URL": child_database_url(),
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "SECRET_KEY": "test",
        "PATH": "/usr/bin:/bin",
    }

    check = subprocess.run(
        [sys.executable, "manage.py", "sync_redis", "--check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )

    assert check.returncode == 1
    assert "1 missing" in check.stdout
    assert "drift in default" in check.stderr


def test_sync_redis_rebuilds_every_games_board_to_what_the_live_board_showed(played):
    rules = [("asc", "best"), ("desc", "latest"), ("asc", "increment")]
    for order, operator in rules:
        make_game(f"{order}-{operator}", order=order, operator=operator, min_score=-50, max_score=5000)
    rng = random.Random(3)
    for _ in range(200):
        order, operator = rng.choice(rules)
        play(f"{order}-{operator}", (f"p{rng.randrange(30)}", rng.randrange(0, 150)))
    slugs = ["default", *(f"{order}-{operator}" for order, operator in rules)]
    live = {slug: whole_board(slug) for slug in slugs}
    redis_store.client().flushdb()

    output = sync_redis()

    assert {slug: whole_board(slug) for slug in slugs} == live
    assert output.count("rebuilt") == 4
    assert sync_redis("--check").count("0 missing, 0 wrong, 0 extra") == 4


@pytest.mark.django_db(transaction=True)
def test_a_mirror_that_never_ran_shows_as_drift_until_the_catch_up_repairs_it_without_a_rebuild(default_board):
    services.submit_score(username="amy", points=5)
    # A worker killed between its commit and its mirror: the score is in SQL and nowhere else.
    player = Player.objects.create(username="lost")
    score = Score.objects.create(board=default_board, player=player, points=9)
    BoardEntry.objects.create(board=default_board, player=player, value=9, reached_seq=score.id)
    redis_store.set_entry("default", "ghost", redis_store.encode(1, 1))  # a full rebuild would drop it

    before = sync_redis_check()
    output = sync_redis("--catch-up", "--seconds", "60")
    after = sync_redis_check()

    assert "1 missing, 0 wrong, 1 extra" in before
    assert output == "caught up: 0 queued scores and 2 entries changed in the last 60s\n"
    assert "0 missing, 0 wrong, 1 extra" in after
    assert rank_and_score("lost", "default") == (1, 9)


def sync_redis_check() -> str:
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("sync_redis", "--check", stdout=out)
    return out.getvalue()


@pytest.mark.server  # a redis-server of its own, restarted
def test_a_redis_that_restarts_during_a_full_rebuild_still_gets_its_boards_back_from_recovery(played, own_redis):
    with single_redis(own_redis.url):
        with services.rebuilding_all_boards():
            services.rebuild_board(board=Board.objects.get(slug="default"))
            own_redis.kill()
            own_redis.start(empty=True)  # the board just rebuilt is gone with it
            with suppress(BoardUnavailable):  # the first call on the connection the restart closed
                redis_store.whole_boards(["default"])
        assert redis_store.whole_boards(["default"]) == [False]

        assert recover_if_needed()
        assert whole_board() == played
