"""Games sharded by region: creating them, scoring on them, reading each region and the whole game
exactly, and moving a player between regions."""

import re
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase, override_settings
from redis.crc import key_slot

from leaderboard import redis_store, services
from leaderboard.exceptions import RegionMismatch
from leaderboard.limits import GLOBAL_VIEW_DEPTH_MAX, REGIONS_MAX, REGIONS_MIN
from leaderboard.models import Board, BoardEntry
from leaderboard.writes.rebuild import boards_not_whole

from .conftest import ON_CLUSTER, only_on_cluster, wait_until
from .factories import make_game
from .test_fastpath import answers
from .test_metrics import sample

pytestmark = pytest.mark.django_db

REGIONS = ["na", "eu", "apac"]
WORLD = {
    "game_id": "world",
    "name": "World",
    "order": "desc",
    "operator": "best",
    "min_score": 0,
    "max_score": 1_000_000,
    "regions": REGIONS,
}


@pytest.fixture
def admin_key() -> str:
    return services.create_api_key(name="studio-admin", scope="admin")


@pytest.fixture
def create(api, admin_key, django_capture_on_commit_callbacks):
    def post(payload: dict):
        with django_capture_on_commit_callbacks(execute=True):
            return api.post("/v1/games", payload, format="json", HTTP_X_API_KEY=admin_key)

    return post


@pytest.fixture
def world() -> Board:
    return make_game("world", regions=REGIONS)


@pytest.fixture
def server_key() -> str:
    return services.create_api_key(name="game-server", scope="server")


@pytest.fixture
def send(api, server_key, django_capture_on_commit_callbacks):
    """POST /v1/scores as a trusted game server, mirrored to Redis once committed."""

    def post(player_id: str, score: int, region: str | None = None, game_id: str = "world"):
        body = {"player_id": player_id, "game_id": game_id, "score": score} | ({"region": region} if region else {})
        with django_capture_on_commit_callbacks(execute=True):
            return api.post("/v1/scores", body, format="json", HTTP_X_API_KEY=server_key)

    return post


@pytest.fixture
def session_score(api, django_capture_on_commit_callbacks):
    """Open a session (naming `session_region`, if given) and submit its one score (naming `region`)."""

    def post(player_id: str, score: int, *, session_region: str | None = None, region: str | None = None):
        opened = {"player_id": player_id, "game_id": "world"} | ({"region": session_region} if session_region else {})
        started = api.post("/v1/sessions", opened, format="json")
        assert started.status_code == 201, started.json()
        session = started.json()
        body = {"player_id": player_id, "game_id": "world", "score": score, "session_id": session["session_id"]}
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(
                "/v1/scores", body | ({"region": region} if region else {}), format="json",
                HTTP_AUTHORIZATION=f"Bearer {session['token']}",
            )  # fmt: skip

    return post


def error(code: str, detail) -> dict:
    return {"error": code, "detail": detail}


def members(board: str) -> dict[str, int]:
    """The entries Redis holds on the board, without its header: member -> encoded score."""
    found = redis_store.client().zrange(redis_store.board_key(board), 0, -1, withscores=True)
    return {member: int(score) for member, score in found if score != float("inf")}


def encoded_in_sql(player: str, game: str = "world") -> int:
    entry = BoardEntry.objects.select_related("board").get(board__slug=game, player__username=player)
    return redis_store.encode(entry.board.rules.rank_value(entry.value), entry.reached_seq)


def regions_in_sql(game: str = "world") -> dict[str, str]:
    entries = BoardEntry.objects.filter(board__slug=game).values_list("player__username", "region")
    return dict(entries)


def header_of(board: str) -> str | None:
    top = redis_store.client().zrevrange(redis_store.board_key(board), 0, 0)
    return top[0] if top else None


# --- creating a game with regions ------------------------------------------------------------


def test_a_game_created_with_regions_shows_them(create, api):
    response = create(WORLD)

    assert response.status_code == 201
    assert response.json()["regions"] == REGIONS
    assert api.get("/v1/games/world").json()["regions"] == REGIONS


def test_a_game_created_without_regions_shows_null(create, api):
    create({**WORLD, "regions": None})
    create({key: value for key, value in WORLD.items() if key != "regions"} | {"game_id": "plain"})

    assert api.get("/v1/games/world").json()["regions"] is None
    assert api.get("/v1/games/plain").json()["regions"] is None


def test_each_region_is_a_board_of_its_own_under_the_games_header(create):
    create(WORLD)

    header = "\x00rules desc best 0 1000000 na,eu,apac"
    assert [header_of(board) for board in ["world", region_board("na"), region_board("eu"), region_board("apac")]] == [
        header
    ] * 4
    assert redis_store.board_key(region_board("eu")) == f"speedrank-test:board:{{{region_board('eu')}}}"


@pytest.mark.parametrize(
    "regions, problem",
    [
        ("na", "must be a list of region slugs"),
        ({"na": 1}, "must be a list of region slugs"),
        (["na"], "must name from 2 to 16 regions"),
        ([], "must name from 2 to 16 regions"),
        ([f"r{n}" for n in range(17)], "must name from 2 to 16 regions"),
        (["na", "na"], "must not name a region twice"),
        (["na", "EU"], "each region must be a lowercase slug (a-z, 0-9, '-', '_') of at most 16 characters"),
        (["na", "e u"], "each region must be a lowercase slug (a-z, 0-9, '-', '_') of at most 16 characters"),
        (["na", "eu@x"], "each region must be a lowercase slug (a-z, 0-9, '-', '_') of at most 16 characters"),
        (["na", ""], "each region must be a lowercase slug (a-z, 0-9, '-', '_') of at most 16 characters"),
        (["na", 7], "each region must be a lowercase slug (a-z, 0-9, '-', '_') of at most 16 characters"),
        (["na", "x" * 17], "each region must be a lowercase slug (a-z, 0-9, '-', '_') of at most 16 characters"),
    ],
)
def test_bad_regions_are_400_naming_the_problem_and_make_no_game(create, regions, problem):
    response = create({**WORLD, "regions": regions})

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"regions": [problem]})
    assert not Board.objects.filter(slug="world").exists()


def test_sixteen_regions_are_allowed(create):
    regions = [f"r{n}" for n in range(16)]

    assert create({**WORLD, "regions": regions}).json()["regions"] == regions


def test_regions_cannot_be_changed_once_the_game_exists(create, api, admin_key):
    create(WORLD)

    response = api.patch("/v1/games/world", {"regions": ["na", "eu"]}, format="json", HTTP_X_API_KEY=admin_key)

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"regions": ["cannot be changed once the game exists"]})
    assert Board.objects.get(slug="world").regions == REGIONS


# --- scores and sessions ----------------------------------------------------------------------


def test_the_first_score_names_the_players_region_and_lands_on_its_shard(world, send):
    response = send("ana", 500, "eu")

    assert response.status_code == 201
    assert regions_in_sql() == {"ana": "eu"}
    assert list(members(region_board("eu"))) == ["ana"]
    assert members(region_board("na")) == members(region_board("apac")) == members("world") == {}


def test_a_first_score_without_a_region_on_a_game_with_regions_is_400(world, send):
    response = send("ana", 500)

    assert response.status_code == 400
    assert response.json() == error(
        "invalid_request", {"region": ["The player's first score must name one of the game's regions: na, eu, apac."]}
    )
    assert regions_in_sql() == {}


def test_a_later_score_naming_another_region_is_409_region_mismatch_and_changes_nothing(world, send):
    send("ana", 500, "eu")

    response = send("ana", 900, "na")

    assert response.status_code == 409
    assert response.json() == error(
        "region_mismatch", "The player's region on this game is 'eu'; this score names 'na'."
    )
    assert regions_in_sql() == {"ana": "eu"}
    assert BoardEntry.objects.get(player__username="ana").value == 500
    assert members(region_board("na")) == {}


def test_a_later_score_without_a_region_goes_to_the_players_region(world, send):
    send("ana", 500, "eu")

    response = send("ana", 900)

    assert response.status_code == 201
    assert regions_in_sql() == {"ana": "eu"}
    assert members(region_board("eu")) == {"ana": redis_store.encode(900, int(response.json()["id"]))}


def test_a_later_score_naming_the_same_region_is_accepted(world, send):
    send("ana", 500, "eu")

    assert send("ana", 900, "eu").status_code == 201


def test_a_region_the_game_does_not_have_is_400(world, send):
    response = send("ana", 500, "mars")

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"region": ["Must be one of the game's regions: na, eu, apac."]})


def test_naming_a_region_on_a_game_without_regions_is_400(send):
    make_game("plain")

    response = send("ana", 500, "eu", game_id="plain")

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"region": ["This game has no regions."]})


def test_a_region_that_is_no_slug_is_400(world, send):
    response = send("ana", 500, "e u")

    assert response.status_code == 400
    assert list(response.json()["detail"]) == ["region"]


def test_a_score_through_a_session_goes_to_the_sessions_region(world, session_score):
    response = session_score("ana", 500, session_region="apac")

    assert response.status_code == 201
    assert regions_in_sql() == {"ana": "apac"}
    assert list(members(region_board("apac"))) == ["ana"]


def test_a_score_through_a_session_without_a_region_may_name_one(world, session_score):
    assert session_score("ana", 500, region="na").status_code == 201
    assert regions_in_sql() == {"ana": "na"}


def test_a_score_naming_a_region_other_than_its_sessions_is_409(world, session_score):
    response = session_score("ana", 500, session_region="apac", region="na")

    assert response.status_code == 409
    assert response.json() == error("region_mismatch", "The session's region is 'apac'; this score names 'na'.")


def test_a_session_in_another_region_than_the_players_cannot_score(world, send, session_score):
    send("ana", 500, "eu")

    response = session_score("ana", 900, session_region="na")

    assert response.status_code == 409
    assert response.json()["error"] == "region_mismatch"


def test_a_session_naming_a_region_the_game_does_not_have_is_400(world, api):
    response = api.post("/v1/sessions", {"player_id": "ana", "game_id": "world", "region": "mars"}, format="json")

    assert response.status_code == 400
    assert response.json() == error("invalid_request", {"region": ["Must be one of the game's regions: na, eu, apac."]})


# --- rebuilds and checks, shard by shard ------------------------------------------------------


def sync_redis(*args) -> str:
    out = StringIO()
    call_command("sync_redis", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def played(world, send) -> dict[str, dict[str, int]]:
    """Players in every region; what each board holds."""
    for n, region in enumerate(["na", "eu", "apac", "eu", "na", "eu"]):
        send(f"p{n}", 100 * n, region)
    return {board: members(board) for board in [region_board("na"), region_board("eu"), region_board("apac")]}


def test_sync_redis_rebuilds_every_shard_of_a_game_after_a_flush(played):
    redis_store.client().flushdb()

    output = sync_redis("--board", "world")

    assert {board: members(board) for board in played} == played
    assert [line.split(" in ")[0] for line in output.splitlines()] == [
        "world: rebuilt 0 players",
        f"{region_board('na')}: rebuilt 2 players",
        f"{region_board('eu')}: rebuilt 3 players",
        f"{region_board('apac')}: rebuilt 1 players",
    ]
    assert (
        redis_store.whole_boards(["world", region_board("na"), region_board("eu"), region_board("apac")]) == [True] * 4
    )


def test_check_reports_each_shard_on_its_own_line_with_the_redis_server_holding_it(played, redis_url):
    lines = sync_redis("--check", "--board", "world").splitlines()

    assert [line.split(", on ")[0] for line in lines] == [
        "world: checked 0 players: 0 missing, 0 wrong, 0 extra",
        f"{region_board('na')}: checked 2 players: 0 missing, 0 wrong, 0 extra",
        f"{region_board('eu')}: checked 3 players: 0 missing, 0 wrong, 0 extra",
        f"{region_board('apac')}: checked 1 players: 0 missing, 0 wrong, 0 extra",
    ]
    for line in lines:
        key = redis_store.board_key(line.split(":")[0])
        server = redis_store.client().get_node_from_key(key).name if ON_CLUSTER else redis_url[8:].split("/")[0]
        assert line.split(", on ")[1].startswith(f"{server} (slots ")


def test_a_shard_deleted_from_redis_is_reported_by_check_and_repaired_by_a_rebuild(played):
    redis_store.client().delete(redis_store.board_key(region_board("eu")))
    out = StringIO()

    with pytest.raises(CommandError, match=f"drift in {region_board('eu')};"):
        call_command("sync_redis", "--check", stdout=out)
    sync_redis()

    assert f"{region_board('eu')}: checked 3 players: 3 missing, 0 wrong, 0 extra" in out.getvalue()
    assert f"{region_board('na')}: checked 2 players: 0 missing, 0 wrong, 0 extra" in out.getvalue()
    assert {board: members(board) for board in played} == played
    assert sync_redis("--check").count("0 missing, 0 wrong, 0 extra") == 5


def test_a_player_on_the_wrong_shard_is_extra_there(played):
    redis_store.set_entry(region_board("apac"), "p0", members(region_board("na"))["p0"])

    report = StringIO()
    with pytest.raises(CommandError, match=f"drift in {region_board('apac')};"):
        call_command("sync_redis", "--check", "--board", "world", stdout=report)

    assert re.search(
        rf"{region_board('apac')}: checked 1 players: 0 missing, 0 wrong, 1 extra, on .*\n  extra   'p0'",
        report.getvalue(),
    )


def test_the_catch_up_replays_entries_to_their_regions_shard(played):
    redis_store.client().delete(redis_store.board_key(region_board("eu")))
    redis_store.publish_board("world", services.game(slug="world").rules)

    sync_redis("--catch-up", "--seconds", "60")

    assert {board: members(board) for board in played} == played


def test_the_games_that_are_not_whole_include_one_missing_a_shard(played):
    assert boards_not_whole() == []
    redis_store.client().delete(redis_store.board_key(region_board("apac")))

    assert [board.slug for board in boards_not_whole()] == ["world"]


@override_settings(METRICS_ENABLED=True)
def test_metrics_report_the_size_of_each_shard(played, api):
    text = api.get("/metrics").content.decode()

    sizes = {
        board: sample(text, "speedrank_board_players", board=board)
        for board in [region_board("na"), region_board("eu"), region_board("apac")]
    }
    assert sizes == {region_board("na"): 2, region_board("eu"): 3, region_board("apac"): 1}
    assert 'board="world"}' not in text


# --- reads: one region, and the exact global view ---------------------------------------------

# (player, region, points), in the order they score: ties across regions go to whoever scored first.
SPREAD = [
    ("ana", "eu", 700), ("bo", "na", 900), ("cy", "apac", 700), ("di", "eu", 300), ("ed", "na", 700),
    ("fay", "apac", 100), ("gus", "eu", 900), ("hal", "na", 50), ("ivy", "eu", 500), ("jo", "apac", 500),
]  # fmt: skip


def score_in(game: str, *plays: tuple[str, str, int]) -> None:
    for player, region, points in plays:
        with TestCase.captureOnCommitCallbacks(execute=True):
            services.submit_score(username=player, points=points, board_slug=game, region=region)


@pytest.fixture
def spread(world) -> Board:
    score_in("world", *SPREAD)
    return world


def ranking_from_sql(game: str = "world", region: str | None = None) -> list[dict]:
    """Every entry, best first, by the encoded score computed from SQL: the brute-force truth."""
    board = Board.objects.get(slug=game)
    entries = BoardEntry.objects.filter(board=board).select_related("player")
    if region is not None:
        entries = entries.filter(region=region)
    encoded = {e: redis_store.encode(board.rules.rank_value(e.value), e.reached_seq) for e in entries}
    ordered = sorted(encoded, key=encoded.get, reverse=True)
    return [
        {"rank": rank, "player_id": e.player.username, "score": e.value, "region": e.region}
        for rank, e in enumerate(ordered, start=1)
    ]


def without_region(entries: list[dict]) -> list[dict]:
    return [{key: value for key, value in entry.items() if key != "region"} for entry in entries]


@pytest.mark.parametrize("top, offset", [(10, 0), (3, 0), (4, 2), (5, 7), (2, 10)])
def test_the_global_leaderboard_is_every_shard_merged_exactly(spread, api, top, offset):
    response = api.get("/v1/leaderboard", {"game_id": "world", "top": top, "offset": offset})

    assert response.status_code == 200
    expected = ranking_from_sql()[offset : offset + top]
    assert response.json() == {"game_id": "world", "entries": expected, "total_players": 10}


def test_the_global_leaderboard_pages_to_a_bounded_depth_and_a_region_pages_further(spread, api):
    deepest = {"game_id": "world", "top": 10, "offset": GLOBAL_VIEW_DEPTH_MAX - 10}

    assert api.get("/v1/leaderboard", deepest).json()["entries"] == []
    too_deep = api.get("/v1/leaderboard", {**deepest, "offset": GLOBAL_VIEW_DEPTH_MAX - 9})
    assert too_deep.status_code == 400
    assert too_deep.json()["error"] == "invalid_request"
    assert f"rank {GLOBAL_VIEW_DEPTH_MAX} at most" in too_deep.json()["detail"]["offset"][0]
    assert api.get("/v1/leaderboard", {**deepest, "offset": 10**6, "region": REGIONS[0]}).status_code == 200


def test_ties_across_regions_go_to_whoever_reached_the_score_first(spread, api):
    entries = api.get("/v1/leaderboard", {"game_id": "world", "top": 5}).json()["entries"]

    assert [(e["player_id"], e["score"]) for e in entries] == [
        ("bo", 900), ("gus", 900), ("ana", 700), ("cy", 700), ("ed", 700),
    ]  # fmt: skip


@pytest.mark.parametrize("region", REGIONS)
def test_a_regions_leaderboard_is_its_own_board_with_regional_ranks(spread, api, region):
    response = api.get("/v1/leaderboard", {"game_id": "world", "region": region})

    expected = without_region(ranking_from_sql(region=region))
    assert response.json() == {"game_id": "world", "entries": expected, "total_players": len(expected)}


@pytest.mark.parametrize("context", [0, 1, 2, 5])
def test_a_global_rank_has_exact_neighbours_and_the_players_region_and_regional_rank(spread, api, context):
    everyone = ranking_from_sql()
    for mine in everyone:
        rank = mine["rank"]
        response = api.get(
            "/v1/leaderboard/rank", {"game_id": "world", "player_id": mine["player_id"], "context": context}
        )

        regional = next(e for e in ranking_from_sql(region=mine["region"]) if e["player_id"] == mine["player_id"])
        player = mine | {"percentile": round((10 - rank + 1) / 10 * 100, 2), "regional_rank": regional["rank"]}
        assert response.json() == {
            "player": player,
            "above": everyone[max(rank - 1 - context, 0) : rank - 1],
            "below": everyone[rank : rank + context],
        }


def test_a_rank_in_a_region_reads_that_regions_board(spread, api):
    response = api.get("/v1/leaderboard/rank", {"game_id": "world", "player_id": "ivy", "context": 1, "region": "eu"})

    eu = without_region(ranking_from_sql(region="eu"))
    assert eu[2]["player_id"] == "ivy"
    assert response.json() == {"player": eu[2] | {"percentile": 50.0}, "above": [eu[1]], "below": [eu[3]]}


def test_a_player_of_another_region_is_not_ranked_in_this_one(spread, api):
    response = api.get("/v1/leaderboard/rank", {"game_id": "world", "player_id": "ivy", "region": "na"})

    assert response.status_code == 404
    assert response.json()["error"] == "player_not_ranked"


def test_chosen_players_get_their_global_ranks_and_regions(spread, api):
    response = api.get("/v1/leaderboard/players", {"game_id": "world", "player_ids": "jo,hal,nobody,bo,ana"})

    expected = [e for e in ranking_from_sql() if e["player_id"] in {"jo", "hal", "bo", "ana"}]
    assert response.json() == {"game_id": "world", "entries": expected}


def test_chosen_players_in_a_region_get_their_regional_ranks(spread, api):
    response = api.post(
        "/v1/leaderboard/players",
        {"game_id": "world", "player_ids": ["ivy", "bo", "gus"], "region": "eu"},
        format="json",
    )

    expected = [e for e in without_region(ranking_from_sql(region="eu")) if e["player_id"] in {"ivy", "gus"}]
    assert response.json() == {"game_id": "world", "entries": expected}


@pytest.mark.parametrize("size", [1, 3, 9])
def test_matchmaking_on_the_global_view_picks_the_nearest_players_in_global_rank(spread, api, size):
    everyone = ranking_from_sql()
    for mine in everyone:
        rank = mine["rank"]
        response = api.get("/v1/matchmaking", {"game_id": "world", "player_id": mine["player_id"], "size": size})

        others = sorted((e for e in everyone if e["rank"] != rank), key=lambda e: (abs(e["rank"] - rank), e["rank"]))
        expected = sorted(others[:size], key=lambda e: e["rank"])
        assert response.json() == {"game_id": "world", "player_id": mine["player_id"], "players": expected}


def test_matchmaking_in_a_region_stays_in_it(spread, api):
    response = api.get("/v1/matchmaking", {"game_id": "world", "player_id": "jo", "size": 5, "region": "apac"})

    others = [e for e in without_region(ranking_from_sql(region="apac")) if e["player_id"] != "jo"]
    assert response.json() == {"game_id": "world", "player_id": "jo", "players": others}


@pytest.mark.parametrize(
    "path, query",
    [
        ("/v1/leaderboard", {}),
        ("/v1/leaderboard/rank", {"player_id": "ana"}),
        ("/v1/leaderboard/players", {"player_ids": "ana"}),
        ("/v1/matchmaking", {"player_id": "ana"}),
    ],
)
def test_a_region_the_game_does_not_have_is_400_on_every_read(spread, api, path, query):
    make_game("plain")
    score_in("plain", ("ana", "", 5))

    for region in ["mars", "na"]:
        game = "world" if region == "mars" else "plain"
        response = api.get(path, {"game_id": game, "region": region, **query})

        assert response.status_code == 400
        detail = "Must be one of the game's regions: na, eu, apac." if game == "world" else "This game has no regions."
        assert response.json() == error("invalid_request", {"region": [detail]})


@pytest.mark.parametrize("path", ["/v1/leaderboard", "/v1/leaderboard/players?player_ids=ana"])
def test_an_empty_region_is_400_not_the_global_view(spread, api, path):
    response = api.get(f"{path}{'&' if '?' in path else '?'}game_id=world&region=")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert list(response.json()["detail"]) == ["region"]


def test_an_unknown_region_is_400_before_and_after_the_games_regions_are_known(spread, api):
    first = api.get("/v1/leaderboard", {"game_id": "world", "region": "mars"})
    api.get("/v1/leaderboard", {"game_id": "world"})
    second = api.get("/v1/leaderboard", {"game_id": "world", "region": "mars"})

    assert first.status_code == second.status_code == 400
    assert first.json() == second.json()


def test_reads_of_a_game_with_regions_issue_no_sql(spread, api, django_assert_num_queries):
    with django_assert_num_queries(0):
        page = api.get("/v1/leaderboard", {"game_id": "world", "top": 3})
        rank = api.get("/v1/leaderboard/rank", {"game_id": "world", "player_id": "ivy"})
        regional = api.get("/v1/leaderboard", {"game_id": "world", "region": "eu"})

    assert [page.status_code, rank.status_code, regional.status_code] == [200, 200, 200]


@pytest.mark.django_db(transaction=True)  # the rebuild the read asks for runs in a thread of its own
@pytest.mark.parametrize("region", [None, "apac"])
def test_a_read_of_a_game_missing_a_shard_is_503_until_the_game_is_rebuilt(spread, api, region):
    query = {"game_id": "world"} | ({"region": region} if region else {})
    expected = api.get("/v1/leaderboard", query).json()
    redis_store.client().delete(redis_store.board_key(region_board("apac")))

    response = api.get("/v1/leaderboard", query)

    assert (response.status_code, response.json()["error"]) == (503, "service_unavailable")
    wait_until(lambda: api.get("/v1/leaderboard", query).json() == expected, timeout=10)


def test_a_profile_shows_the_global_rank_with_the_region_and_regional_rank(spread, api):
    make_game("plain")
    score_in("plain", ("ivy", "", 5))

    response = api.get("/v1/players/ivy")

    rank = next(e["rank"] for e in ranking_from_sql() if e["player_id"] == "ivy")
    assert response.json()["games"] == [
        {"game_id": "plain", "score": 5, "rank": 1, "submissions": 1},
        {"game_id": "world", "score": 500, "rank": rank, "submissions": 1, "region": "eu", "regional_rank": 3},
    ]


@pytest.mark.django_db(transaction=True)  # each request commits, so its answer reads the rank after the mirror
def test_a_scores_answer_has_the_players_global_rank(world, api, server_key):
    def send(player_id, score, region):
        body = {"player_id": player_id, "game_id": "world", "score": score, "region": region}
        return api.post("/v1/scores", body, format="json", HTTP_X_API_KEY=server_key).json()["rank"]

    assert [send("ana", 500, "eu"), send("bo", 900, "na"), send("cy", 700, "eu"), send("di", 100, "apac")] == [
        1,
        1,
        2,
        4,
    ]


@pytest.mark.django_db(transaction=True)
def test_a_keyed_retry_answers_the_global_rank_too(world, api, server_key):
    body = {"player_id": "ana", "game_id": "world", "score": 500, "region": "eu"}
    headers = {"HTTP_X_API_KEY": server_key, "HTTP_IDEMPOTENCY_KEY": "k1"}
    api.post(
        "/v1/scores",
        {**body, "player_id": "bo", "score": 900, "region": "na"},
        format="json",
        HTTP_X_API_KEY=server_key,
    )

    first = api.post("/v1/scores", body, format="json", **headers)
    retry = api.post("/v1/scores", body, format="json", **headers)

    assert first.json()["rank"] == retry.json()["rank"] == 2


@pytest.mark.parametrize(
    "path",
    [
        "/v1/leaderboard?game_id=world&top=4&offset=1",
        "/v1/leaderboard?game_id=world&region=eu",
        "/v1/leaderboard?game_id=world&region=mars",
        "/v1/leaderboard/rank?game_id=world&player_id=ivy&context=2",
        "/v1/leaderboard/players?game_id=world&player_ids=ivy,bo",
        "/v1/matchmaking?game_id=world&player_id=ivy&size=3",
        "/v1/players/ivy",
    ],
)
@override_settings(RATE_LIMITS_ENABLED=False)  # the counts would differ between the two answers
def test_the_fast_path_answers_reads_of_a_game_with_regions_as_django_does(spread, path):
    by_fast_path, by_django, passed_on = answers(path)

    assert passed_on == 0
    assert by_fast_path == by_django


# --- moving a player --------------------------------------------------------------------------


@pytest.fixture
def move(api, admin_key, django_capture_on_commit_callbacks):
    def post(player_id: str, region, *, key: str | None = admin_key, game_id: str = "world"):
        headers = {"HTTP_X_API_KEY": key} if key else {}
        body = {} if region is None else {"region": region}
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(f"/v1/games/{game_id}/players/{player_id}/region", body, format="json", **headers)

    return post


def test_an_admin_moves_a_player_to_another_region_and_gets_their_new_standing(spread, move, api, caplog):
    before = api.get("/v1/leaderboard/rank", {"game_id": "world", "player_id": "ivy", "context": 0}).json()

    with caplog.at_level("INFO", logger="leaderboard.services.regions"):
        response = move("ivy", "na")

    na = next(e for e in ranking_from_sql(region="na") if e["player_id"] == "ivy")
    assert response.status_code == 200
    assert response.json() == {
        "game_id": "world", "player_id": "ivy", "region": "na", "score": 500, "rank": before["player"]["rank"],
        "regional_rank": na["rank"],
    }  # fmt: skip
    assert regions_in_sql()["ivy"] == "na"
    assert "ivy" in members(region_board("na")) and "ivy" not in members(region_board("eu"))
    moved = [record for record in caplog.records if getattr(record, "event", None) == "player_moved"]
    assert [(r.game_id, r.player_id, getattr(r, "from"), r.to) for r in moved] == [("world", "ivy", "eu", "na")]


def test_after_a_move_every_read_agrees_with_sql(spread, move, api):
    move("ivy", "apac")
    move("bo", "eu")

    page = api.get("/v1/leaderboard", {"game_id": "world", "top": 100}).json()
    assert page == {"game_id": "world", "entries": ranking_from_sql(), "total_players": 10}
    for region in REGIONS:
        regional = api.get("/v1/leaderboard", {"game_id": "world", "region": region}).json()["entries"]
        assert regional == without_region(ranking_from_sql(region=region))
    assert sync_redis("--check").count("0 missing, 0 wrong, 0 extra") == 5


def test_a_moved_players_later_scores_go_to_the_new_region(spread, move, send):
    move("ivy", "na")

    assert send("ivy", 990).status_code == 201
    assert send("ivy", 995, "eu").status_code == 409
    assert members(region_board("na"))["ivy"] == encoded_in_sql("ivy")


def test_moving_a_player_to_their_own_region_changes_nothing(spread, move):
    before = members(region_board("eu"))

    response = move("ivy", "eu")

    assert (response.status_code, response.json()["region"]) == (200, "eu")
    assert members(region_board("eu")) == before


def test_moving_needs_an_admin_key(spread, move):
    server = services.create_api_key(name="game-server-2", scope="server")

    assert move("ivy", "na", key=None).status_code == 401
    assert move("ivy", "na", key=server).json()["error"] == "forbidden"
    assert regions_in_sql()["ivy"] == "eu"


@pytest.mark.parametrize(
    "player, region, game, status, body",
    [
        (
            "ivy",
            "mars",
            "world",
            400,
            error("invalid_request", {"region": ["Must be one of the game's regions: na, eu, apac."]}),
        ),
        ("ivy", None, "world", 400, error("invalid_request", {"region": ["This field is required."]})),
        ("nobody", "na", "world", 404, error("player_not_ranked", "'nobody' has no score on this board.")),
        ("ivy", "na", "nope", 404, error("game_not_found", "No board named 'nope'.")),
        ("ivy", "na", "default", 400, error("invalid_request", {"region": ["This game has no regions."]})),
    ],
)
def test_a_move_that_cannot_be_made_is_refused(spread, move, player, region, game, status, body):
    response = move(player, region, game_id=game)

    assert (response.status_code, response.json()) == (status, body)
    assert regions_in_sql()["ivy"] == "eu"


@pytest.mark.django_db(transaction=True)  # grouped writes run only outside a transaction of the caller's
def test_concurrent_first_scores_naming_different_regions_leave_the_player_in_one(world):
    named = ["na", "eu", "apac"] * 4

    def score(region: str) -> str | None:
        try:
            services.submit_score(username="ana", points=100, board_slug="world", region=region)
            return region
        except RegionMismatch:
            return None
        finally:
            connection.close()

    with ThreadPoolExecutor(len(named)) as pool:
        accepted = list(pool.map(score, named))

    (region,) = {found for found in accepted if found}
    assert accepted == [found if found == region else None for found in named]
    assert regions_in_sql() == {"ana": region}
    assert {board: list(members(board)) for board in shards_of_world()} == {
        board: ["ana"] if board == region_board(region) else [] for board in shards_of_world()
    }


def region_board(region: str) -> str:
    """The Redis board of one of the world's regions."""
    return redis_store.shard("world", region, tuple(REGIONS))


def shards_of_world() -> list[str]:
    return [region_board(region) for region in REGIONS]


def test_a_late_mirror_of_a_score_from_before_a_move_stays_off_the_old_region(spread, move):
    before = members(region_board("eu"))["ivy"]
    move("ivy", "na")

    rules = services.game(slug="world").rules
    redis_store.mirror([redis_store.MirroredEntry(region_board("eu"), rules, "ivy", before)])

    assert "ivy" not in members(region_board("eu"))
    assert members(region_board("na"))["ivy"] == before


def test_a_player_moved_back_returns_to_their_first_region_and_scores_there(spread, move, send):
    move("ivy", "na")
    move("ivy", "eu")

    assert "ivy" in members(region_board("eu")) and "ivy" not in members(region_board("na"))
    assert send("ivy", 999).status_code == 201
    assert members(region_board("eu"))["ivy"] == encoded_in_sql("ivy")


THIRDS = [(0, 5460), (5461, 10922), (10923, 16383)]  # the slots of 3 masters, as a cluster is created


@pytest.mark.parametrize("count", range(REGIONS_MIN, REGIONS_MAX + 1))
@pytest.mark.parametrize("game", ["world", "kart", "chess-blitz"])
def test_a_games_regions_spread_over_the_masters_as_evenly_as_they_split_the_slots(game, count):
    regions = tuple(f"r{i}" for i in range(count))
    slots = [key_slot(redis_store.board_key(redis_store.shard(game, region, regions)).encode()) for region in regions]

    share = 16384 / count
    assert all(i * share <= slot < (i + 1) * share for i, slot in enumerate(slots))
    per_master = [sum(low <= slot <= high for slot in slots) for low, high in THIRDS]
    assert max(per_master) - min(per_master) <= 1


@only_on_cluster
def test_on_the_cluster_each_of_three_regions_is_on_a_master_of_its_own(world):
    masters = redis_store.masters()

    held_by = {redis_store.master_of(region_board(region), masters).address for region in REGIONS}

    assert len(held_by) == len(masters) == 3
