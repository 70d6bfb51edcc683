"""Seasons: a game's reset calendar (DST, month lengths, weeks from Monday), closing a period by the
same job at a boundary or by an operator (archive with exact ranks, winners, a fresh board), reads
of closed periods, late session scores, boundaries missed while nothing ran, duplicate deliveries
and a reset while scores are written. Real Redis, a real SQL database and real RQ burst workers;
the clock is moved with time-machine."""

import random
import threading
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
import redis
import time_machine
from django.core.management import call_command
from django.db import IntegrityError, connections, transaction
from django.db.models import Sum

from leaderboard import selectors, services, writes
from leaderboard.calendar import InvalidReset, ResetRule
from leaderboard.exceptions import PeriodNotDue
from leaderboard.jobs import job_queue
from leaderboard.jobs.workers import JobWorkers
from leaderboard.models import Board, BoardEntry, Period, PeriodStanding
from leaderboard.services import exports, periods

from .conftest import child_environment, wait_until
from .test_jobs import csv_rows, work_off

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_queue")]

GAME = "season"
LONDON_DAILY = {"every": "day", "timezone": "Europe/London"}


@pytest.fixture
def admin_key(default_board) -> str:
    return services.create_api_key(name="studio-admin", scope="admin")


@pytest.fixture
def server_key(default_board) -> str:
    return services.create_api_key(name="game-server", scope="server")


def make_game(slug: str = GAME, **settings) -> Board:
    fields = {
        "name": slug, "order": "desc", "operator": "best", "min_score": 0, "max_score": 1_000_000,
        "max_points_per_second": None, "max_session_seconds": 3600,
    }  # fmt: skip
    return services.create_game(slug=slug, **(fields | settings))


@pytest.fixture
def send(api, server_key):
    """A game server's score: 201 expected."""

    def post(player_id: str, score: int, game_id: str = GAME, **more) -> dict:
        body = {"player_id": player_id, "game_id": game_id, "score": score, **more}
        response = api.post("/v1/scores", body, format="json", HTTP_X_API_KEY=server_key)
        assert response.status_code == 201, response.json()
        return response.json()

    return post


@pytest.fixture
def close(api, admin_key):
    """An operator's close, answered 202, and the job run by a burst worker."""

    def post(game_id: str = GAME) -> dict:
        response = api.post(f"/v1/games/{game_id}/periods/close", HTTP_X_API_KEY=admin_key)
        assert response.status_code == 202, response.json()
        work_off()
        return response.json()

    return post


def board_of(api, game_id: str = GAME, **query) -> dict:
    response = api.get("/v1/leaderboard", {"game_id": game_id, "top": 100, **query})
    assert response.status_code == 200, response.json()
    return response.json()


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def boundaries(rule: ResetRule, start: datetime, count: int) -> list[datetime]:
    found = [rule.next_boundary(start)]
    while len(found) < count:
        found.append(rule.next_boundary(found[-1]))
    return found


# --- the calendar ---------------------------------------------------------------------------------


def test_a_london_day_is_23_hours_at_the_spring_change_and_25_at_the_autumn_one():
    rule = ResetRule("day", "Europe/London")

    spring = boundaries(rule, at(2026, 3, 28, 12), 3)
    autumn = boundaries(rule, at(2026, 10, 24, 12), 3)

    assert spring == [at(2026, 3, 29, 0), at(2026, 3, 29, 23), at(2026, 3, 30, 23)]
    assert [b - a for a, b in pairwise(spring)] == [timedelta(hours=23), timedelta(hours=24)]
    assert autumn == [at(2026, 10, 24, 23), at(2026, 10, 26, 0), at(2026, 10, 27, 0)]
    assert [b - a for a, b in pairwise(autumn)] == [timedelta(hours=25), timedelta(hours=24)]


def test_months_begin_on_the_first_whatever_their_length_and_weeks_on_monday():
    month = ResetRule("month", "UTC", "06:00")
    week = ResetRule("week", "Asia/Tokyo")

    assert boundaries(month, at(2026, 1, 31, 12), 3) == [at(2026, 2, 1, 6), at(2026, 3, 1, 6), at(2026, 4, 1, 6)]
    assert month.next_boundary(at(2026, 1, 1, 5, 59)) == at(2026, 1, 1, 6)
    assert month.next_boundary(at(2026, 1, 1, 6)) == at(2026, 2, 1, 6)  # strictly after
    # Sunday 2026-11-29 noon in Tokyo; Monday 00:00 there is 15:00 UTC on Sunday.
    assert boundaries(week, at(2026, 11, 29, 3), 2) == [at(2026, 11, 29, 15), at(2026, 12, 6, 15)]
    assert week.next_boundary(at(2026, 11, 29, 15)).weekday() == 6  # Sunday in UTC, Monday in Tokyo


def test_a_local_time_the_spring_change_skips_falls_at_the_same_wall_time_an_hour_on():
    rule = ResetRule("day", "Europe/London", "01:30")

    assert rule.next_boundary(at(2026, 3, 29, 0)) == at(2026, 3, 29, 1, 30)  # 02:30 BST
    assert rule.next_boundary(at(2026, 3, 29, 1, 30)) == at(2026, 3, 30, 0, 30)  # 01:30 BST


@pytest.mark.parametrize(
    "given, field",
    [
        ({"every": "day", "timezone": "Mars/Olympus_Mons"}, "reset.timezone"),
        ({"every": "day", "timezone": "europe/london"}, "reset.timezone"),
        ({"every": "day", "timezone": 3}, "reset.timezone"),
        ({"every": "hour", "timezone": "UTC"}, "reset.every"),
        ({"timezone": "UTC"}, "reset.every"),
        ({"every": "day", "at": "24:00"}, "reset.at"),
        ({"every": "day", "at": "7:00"}, "reset.at"),
        ({"every": "day", "when": "now"}, "reset"),
        ("daily", "reset"),
    ],
)
def test_a_reset_the_calendar_cannot_follow_names_the_field(given, field):
    with pytest.raises(InvalidReset) as refused:
        ResetRule.parse(given)

    assert field in refused.value.problems


def test_a_reset_takes_utc_and_midnight_unless_told():
    assert ResetRule.parse({"every": "week"}) == ResetRule("week", "UTC", "00:00")
    assert ResetRule.parse(None) is None


# --- games and their periods ------------------------------------------------------------------------


def test_a_game_with_a_reset_shows_it_with_its_current_period_and_next_reset(api, admin_key):
    body = {
        "game_id": GAME, "name": "Season", "order": "desc", "operator": "best", "min_score": 0, "max_score": 100,
        "reset": LONDON_DAILY,
    }  # fmt: skip
    with time_machine.travel(at(2026, 3, 28, 22, 30), tick=False):
        response = api.post("/v1/games", body, format="json", HTTP_X_API_KEY=admin_key)

    shown = response.json()
    assert response.status_code == 201, shown
    assert shown["reset"] == LONDON_DAILY | {"at": "00:00"}
    assert shown["current_period"] == {
        "id": Period.objects.get(board__slug=GAME).id, "starts_at": "2026-03-28T22:30:00Z",
        "ends_at": "2026-03-29T00:00:00Z",
    }  # fmt: skip
    assert shown["next_reset_at"] == "2026-03-29T00:00:00Z"
    assert api.get(f"/v1/games/{GAME}").json() == shown


def test_an_unknown_timezone_is_400_naming_it_and_creates_nothing(api, admin_key):
    body = {
        "game_id": GAME, "name": "Season", "order": "desc", "operator": "best", "min_score": 0, "max_score": 100,
        "reset": {"every": "day", "timezone": "Europe/Atlantis"},
    }  # fmt: skip

    response = api.post("/v1/games", body, format="json", HTTP_X_API_KEY=admin_key)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "reset.timezone" in response.json()["detail"]
    assert not Board.objects.filter(slug=GAME).exists()


def test_the_default_game_never_resets_until_an_operator_gives_it_a_reset_and_a_change_waits_for_the_end(
    api, admin_key
):
    shown = api.get("/v1/games/default").json()
    assert (shown["reset"], shown["next_reset_at"]) == (None, None)
    started = shown["current_period"]["starts_at"]

    def reset(rule: dict | None) -> dict:
        answer = api.patch("/v1/games/default", {"reset": rule}, format="json", HTTP_X_API_KEY=admin_key)
        assert answer.status_code == 200, answer.json()
        return answer.json()

    with time_machine.travel(at(2027, 6, 10, 15), tick=False):  # a Thursday
        weekly = reset({"every": "week", "timezone": "Europe/Paris"})
        daily = reset({"every": "day", "timezone": "UTC"})
        never = reset(None)

    # The open period had no end: it gets the new rule's next boundary, Monday 2027-06-14 00:00 in
    # Paris (CEST), Sunday 22:00 UTC; it keeps its start.
    assert weekly["next_reset_at"] == "2027-06-13T22:00:00Z"
    assert weekly["current_period"]["starts_at"] == started
    # Later changes apply to the periods after it: the open one still ends on Sunday.
    assert (daily["reset"]["every"], daily["next_reset_at"]) == ("day", "2027-06-13T22:00:00Z")
    assert (never["reset"], never["next_reset_at"]) == (None, "2027-06-13T22:00:00Z")
    with time_machine.travel(at(2027, 6, 13, 22, 0, 1), tick=True):
        periods.enqueue_due_closes()
        work_off()
    assert api.get("/v1/games/default").json()["next_reset_at"] is None  # the next period never ends


# --- closing -------------------------------------------------------------------------------------------


def test_a_close_archives_exact_final_ranks_and_winners_and_the_board_starts_afresh(api, send, close):
    make_game()
    for player, points in (("ann", 50), ("bob", 70), ("cy", 50), ("dee", 10), ("eve", 90)):
        send(player, points)
    live_before = board_of(api)
    rank_before = api.get("/v1/leaderboard/rank", {"game_id": GAME, "player_id": "cy", "context": 1}).json()
    opened = api.get(f"/v1/games/{GAME}").json()["current_period"]

    closing = close()

    assert closing["period_id"] == opened["id"]
    assert closing["job_id"] == f"close-period-{opened['id']}"
    listed = api.get(f"/v1/games/{GAME}/periods").json()
    (closed,) = listed["periods"]
    assert closed["id"] == opened["id"] and closed["starts_at"] == opened["starts_at"] and closed["players"] == 5
    assert closed["winners"] == [
        {"rank": 1, "player_id": "eve", "score": 90},
        {"rank": 2, "player_id": "bob", "score": 70},
        {"rank": 3, "player_id": "ann", "score": 50},  # ann reached 50 before cy
    ]
    assert listed["next_before"] is None
    archived = board_of(api, period=str(closed["id"]))
    assert archived == live_before
    rank_query = {"game_id": GAME, "player_id": "cy", "context": 1, "period": closed["id"]}
    assert api.get("/v1/leaderboard/rank", rank_query).json() == rank_before
    assert board_of(api) == board_of(api, period="current") == {"game_id": GAME, "entries": [], "total_players": 0}
    current = api.get(f"/v1/games/{GAME}").json()["current_period"]
    assert current["id"] != closed["id"] and current["starts_at"] == closed["ends_at"]

    send("dee", 5)
    assert board_of(api)["entries"] == [{"rank": 1, "player_id": "dee", "score": 5}]
    assert board_of(api, period=closed["id"]) == live_before
    assert writes.check_board(board=Board.objects.get(slug=GAME)).clean


def test_the_seed_api_reads_and_writes_the_current_period(api, submit, close):
    for username, points in (("ann", 30), ("bob", 20)):
        assert submit(username, points).status_code == 201

    close("default")
    assert submit("cy", 5).status_code == 201

    assert api.get("/api/top-players/").json() == [{"rank": 1, "username": "cy", "points": 5}]
    assert api.get("/api/my-rank/", {"username": "ann"}).status_code == 404
    assert api.get("/api/my-rank/", {"username": "cy"}).json() == {"username": "cy", "rank": 1, "points": 5}
    assert Period.objects.get(board__slug="default", status="closed").players == 2


def test_reads_of_unknown_or_malformed_periods_are_refused_by_name(api, send, close):
    make_game()
    make_game("other")
    send("ann", 1)
    closed = close()["period_id"]
    other = close("other")["period_id"]

    unknown = api.get("/v1/leaderboard", {"game_id": GAME, "period": 10**9})
    someone_elses = api.get("/v1/leaderboard/rank", {"game_id": GAME, "player_id": "ann", "period": other})
    malformed = api.get("/v1/leaderboard", {"game_id": GAME, "period": "last-week"})
    empty = api.get("/v1/leaderboard", {"game_id": GAME, "period": ""})
    no_game = api.get("/v1/leaderboard", {"game_id": "nope", "period": closed})
    not_ranked = api.get("/v1/leaderboard/rank", {"game_id": GAME, "player_id": "bob", "period": closed})

    assert (unknown.status_code, unknown.json()["error"]) == (404, "period_not_found")
    assert (someone_elses.status_code, someone_elses.json()["error"]) == (404, "period_not_found")
    assert (malformed.status_code, malformed.json()["error"]) == (400, "invalid_request")
    assert (empty.status_code, empty.json()["error"]) == (400, "invalid_request")
    assert (no_game.status_code, no_game.json()["error"]) == (404, "game_not_found")
    assert (not_ranked.status_code, not_ranked.json()["error"]) == (404, "player_not_ranked")


def test_closing_needs_an_admin_key_and_a_game(api, server_key, admin_key):
    make_game()

    assert api.post(f"/v1/games/{GAME}/periods/close").status_code == 401
    assert api.post(f"/v1/games/{GAME}/periods/close", HTTP_X_API_KEY=server_key).status_code == 403
    unknown = api.post("/v1/games/nope/periods/close", HTTP_X_API_KEY=admin_key)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "game_not_found")
    assert Period.objects.filter(board__slug=GAME, status="closed").count() == 0


def test_periods_are_listed_newest_first_a_page_at_a_time(api, send, close):
    make_game()
    closed = []
    for points in (1, 2, 3):
        send("ann", points)
        closed.append(close()["period_id"])

    first = api.get(f"/v1/games/{GAME}/periods", {"limit": 2}).json()
    second = api.get(f"/v1/games/{GAME}/periods", {"limit": 2, "before": first["next_before"]}).json()

    assert [p["id"] for p in first["periods"]] == closed[:0:-1]
    assert [p["id"] for p in second["periods"]] == closed[:1]
    assert second["next_before"] is None
    assert [p["winners"][0]["score"] for p in first["periods"] + second["periods"]] == [3, 2, 1]
    assert api.get(f"/v1/games/{GAME}/periods", {"limit": 0}).status_code == 400
    assert api.get(f"/v1/games/{GAME}/periods", {"before": 10**9}).json()["error"] == "period_not_found"


def test_a_second_delivery_of_a_close_changes_nothing_and_a_second_opening_is_refused(send, close):
    make_game()
    for player, points in (("ann", 5), ("bob", 7)):
        send(player, points)
    period_id = close()["period_id"]
    archived = list(PeriodStanding.objects.order_by("rank").values_list("player__username", "rank", "value"))

    assert periods.close_period(period_id) is False  # delivered again
    job_queue.enqueue(periods.close_period, period_id, job_id=f"close-period-{period_id}", timeout=60)
    work_off()

    assert list(PeriodStanding.objects.order_by("rank").values_list("player__username", "rank", "value")) == archived
    assert Period.objects.filter(board__slug=GAME).count() == 2
    closed = Period.objects.get(id=period_id)
    with pytest.raises(IntegrityError), transaction.atomic():
        Period.objects.create(board=closed.board, starts_at=closed.ends_at, status="closed")


def test_a_close_that_died_before_swapping_redis_is_swapped_by_the_next_sweep(api, send):
    make_game()
    send("ann", 5)
    period_id = writes.commit(periods.DueNow(GAME))
    writes.commit(periods.ClosePeriod(period_id))  # closed in SQL; the job died before Redis
    assert board_of(api)["total_players"] == 1  # Redis still holds the closed period's board

    assert periods.enqueue_due_closes() == [f"close-period-{period_id}"]
    work_off()

    assert board_of(api)["total_players"] == 0
    assert Period.objects.get(id=period_id).swapped
    assert periods.enqueue_due_closes() == []


def test_a_close_run_before_its_period_is_due_fails_to_be_run_again(send):
    make_game(reset=LONDON_DAILY)
    period = Period.objects.get(board__slug=GAME, status="open")

    with pytest.raises(PeriodNotDue):
        periods.close_period(period.id)

    assert Period.objects.get(id=period.id).status == "open"
    assert periods.enqueue_due_closes() == []


def test_boundaries_missed_while_nothing_ran_close_in_order_when_the_sweeper_returns(send):
    with time_machine.travel(at(2026, 3, 28, 12), tick=True) as clock:
        make_game(reset=LONDON_DAILY)
        send("ann", 10)
        send("bob", 20)
        clock.move_to(at(2026, 3, 30, 23, 30))  # 00:30 in London on the 31st: three midnights passed
        send("cy", 5)  # no close has run: the first period is still the open one

        assert len(periods.enqueue_due_closes()) == 1
        work_off()

    closed = Period.objects.filter(board__slug=GAME, status="closed").order_by("starts_at")
    assert [(p.starts_at, p.ends_at, p.players) for p in closed] == [
        (at(2026, 3, 28, 12), at(2026, 3, 29, 0), 3),
        (at(2026, 3, 29, 0), at(2026, 3, 29, 23), 0),  # the 23-hour day
        (at(2026, 3, 29, 23), at(2026, 3, 30, 23), 0),
    ]
    current = Period.objects.get(board__slug=GAME, status="open")
    assert (current.starts_at, current.ends_at) == (at(2026, 3, 30, 23), at(2026, 3, 31, 23))
    assert BoardEntry.objects.filter(board__slug=GAME).count() == 0
    assert selectors.leaderboard_page(game_id=GAME, top=10, offset=0).total_players == 0


def test_a_session_begun_before_a_close_scores_in_the_period_it_began_in(api, send, close):
    make_game()
    for player, points in (("ann", 100), ("bob", 50), ("cy", 10)):
        send(player, points)
    dee = api.post("/v1/sessions", {"player_id": "dee", "game_id": GAME}, format="json").json()
    cy = api.post("/v1/sessions", {"player_id": "cy", "game_id": GAME}, format="json").json()
    closed = close()["period_id"]
    fay = api.post("/v1/sessions", {"player_id": "fay", "game_id": GAME}, format="json").json()

    def session_score(session: dict, score: int):
        body = {k: session[k] for k in ("player_id", "game_id", "session_id")} | {"score": score}
        return api.post("/v1/scores", body, format="json", HTTP_AUTHORIZATION=f"Bearer {session['token']}")

    late_dee = session_score(dee, 60)
    late_cy = session_score(cy, 200)
    fresh = session_score(fay, 5)

    assert (late_dee.status_code, late_dee.json()["rank"]) == (201, 2)
    assert (late_cy.status_code, late_cy.json()["rank"]) == (201, 1)
    archived = board_of(api, period=closed)
    assert [(e["rank"], e["player_id"], e["score"]) for e in archived["entries"]] == [
        (1, "cy", 200), (2, "ann", 100), (3, "dee", 60), (4, "bob", 50),
    ]  # fmt: skip
    assert archived["total_players"] == 4
    assert api.get(f"/v1/games/{GAME}/periods").json()["periods"][0]["winners"] == [
        {"rank": 1, "player_id": "cy", "score": 200},
        {"rank": 2, "player_id": "ann", "score": 100},
        {"rank": 3, "player_id": "dee", "score": 60},
    ]
    assert fresh.status_code == 201
    assert board_of(api)["entries"] == [{"rank": 1, "player_id": "fay", "score": 5}]


@pytest.mark.parametrize("operator", ["best", "latest", "increment"])
def test_late_scores_keep_a_closed_periods_ranks_exact(api, server_key, operator):
    """Many late session scores, better and worse, in a closed period: its stored ranks stay what
    sorting its standings gives."""
    make_game(operator=operator)
    chance = random.Random(7)
    players = [f"p{i}" for i in range(30)]
    for player in players[:20]:
        services.submit_server_score(
            caller=_caller(server_key), player_id=player, game_id=GAME, score=chance.randint(0, 50),
            idempotency_key=None,
        )  # fmt: skip
    sessions = [services.start_session(player_id=chance.choice(players), game_id=GAME) for _ in range(40)]
    closed = services.request_close(game_id=GAME).period_id
    work_off()

    for session in sessions:
        claims = services.read_token(session.token)
        services.submit_session_score(
            claims=claims, player_id=session.player_id, game_id=GAME, session_id=session.session_id,
            score=chance.randint(0, 50),
        )  # fmt: skip

    stored = list(PeriodStanding.objects.filter(period_id=closed).values_list("rank", "value", "reached_seq"))
    by_sort = sorted(stored, key=lambda s: (-s[1], s[2]))
    assert [rank for rank, _v, _s in by_sort] == list(range(1, len(stored) + 1))
    assert Period.objects.get(id=closed).players == len(stored)


def _caller(key: str) -> services.Caller:
    return services.authenticate_api_key(key=key, scope="server")


def test_a_reset_while_scores_are_written_loses_none(server_key):
    """Writers keep scoring on an increment game while its period closes: every accepted point is in
    exactly one period, the closed one's archive or the open one's board, and Redis holds the open
    one's board exactly."""
    board = make_game(operator="increment")
    caller = _caller(server_key)
    accepted, failed, stop = [], [], threading.Event()

    def write(seed: int) -> None:
        chance, mine = random.Random(seed), 0
        try:
            while not stop.is_set():
                points = chance.randint(1, 9)
                services.submit_server_score(
                    caller=caller, player_id=f"p{chance.randint(0, 40)}", game_id=GAME, score=points,
                    idempotency_key=None,
                )  # fmt: skip
                mine += points
        except Exception as error:  # noqa: BLE001 - the test fails on it below
            failed.append(error)
        finally:
            accepted.append(mine)
            connections.close_all()

    writers = [threading.Thread(target=write, args=(seed,)) for seed in range(4)]
    for writer in writers:
        writer.start()
    try:
        wait_until(lambda: BoardEntry.objects.filter(board=board).count() >= 20, timeout=30)
        closed = services.request_close(game_id=GAME).period_id
        work_off()
        after = scores_on(board)
        wait_until(lambda: failed or scores_on(board) >= after + 20, timeout=30)  # more written since
    finally:
        stop.set()
        for writer in writers:
            writer.join()

    assert failed == []
    assert Period.objects.get(id=closed).status == "closed"
    archived = sum(PeriodStanding.objects.filter(period_id=closed).values_list("value", flat=True))
    current = sum(BoardEntry.objects.filter(board=board).values_list("value", flat=True))
    assert archived > 0 and current > 0
    assert archived + current == sum(accepted)
    assert writes.check_board(board=board).clean


def scores_on(board: Board) -> int:
    """The scores the board's current entries were made of."""
    return BoardEntry.objects.filter(board=board).aggregate(total=Sum("submissions"))["total"] or 0


def test_sync_redis_rebuilds_the_current_periods_board(api, send, close, redis_url):
    make_game()
    send("ann", 5)
    close()
    send("bob", 3)
    redis.Redis.from_url(redis_url).flushdb()

    call_command("sync_redis")

    assert board_of(api)["entries"] == [{"rank": 1, "player_id": "bob", "score": 3}]


def test_a_closed_period_exports_its_final_standings(api, send, close, admin_key):
    make_game()
    for player, points in (("ann", 5), ("bob", 7)):
        send(player, points)
    closed = close()["period_id"]
    send("cy", 9)

    created = api.post(f"/v1/games/{GAME}/exports", {"period": closed}, format="json", HTTP_X_API_KEY=admin_key)
    work_off()

    assert created.status_code == 202, created.json()
    rows = csv_rows(exports.export_file(created.json()["export_id"]).read_text())
    assert [row[:3] for row in rows[1:]] == [["1", "bob", "7"], ["2", "ann", "5"]]


def test_a_closed_period_of_a_game_with_regions_keeps_regional_ranks(api, send, close):
    make_game(regions=["eu", "us"])
    for player, points, region in (("ann", 5, "eu"), ("bob", 7, "us"), ("cy", 6, "eu")):
        send(player, points, region=region)
    closed = close()["period_id"]

    whole = board_of(api, period=closed)
    eu = board_of(api, period=closed, region="eu")
    cy = api.get("/v1/leaderboard/rank", {"game_id": GAME, "player_id": "cy", "period": closed}).json()

    assert [(e["rank"], e["player_id"], e["region"]) for e in whole["entries"]] == [
        (1, "bob", "us"), (2, "cy", "eu"), (3, "ann", "eu"),
    ]  # fmt: skip
    assert eu == {"game_id": GAME, "entries": [
        {"rank": 1, "player_id": "cy", "score": 6}, {"rank": 2, "player_id": "ann", "score": 5},
    ], "total_players": 2}  # fmt: skip
    assert (cy["player"]["rank"], cy["player"]["regional_rank"]) == (2, 1)
    assert board_of(api)["total_players"] == 0


@pytest.mark.server
def test_a_running_worker_queues_and_closes_a_period_as_it_falls_due(api, send, redis_url):
    make_game()
    send("ann", 5)

    with JobWorkers(1, environment=child_environment(redis_url=redis_url)):
        writes.commit(periods.DueNow(GAME))  # due now, and queued by nobody: the worker's sweeper finds it
        wait_until(lambda: Period.objects.filter(board__slug=GAME, status="closed").exists(), timeout=30)

    closed = Period.objects.get(board__slug=GAME, status="closed")
    assert (closed.players, closed.winners) == (1, [{"rank": 1, "player_id": "ann", "score": 5}])
    assert board_of(api)["total_players"] == 0
