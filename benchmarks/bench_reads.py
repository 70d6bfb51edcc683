"""SQL against Redis for the board's reads (top-10, a player's rank), and sync_redis, at N players.

Run as `python benchmarks/bench_reads.py --players N [--repeats R]` (`make bench`): it starts its
own redis-server and SQLite file in a temporary directory, prints medians, and leaves nothing behind.
"""

import argparse
import importlib
import os
import random
import secrets
import signal
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import django
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts benchmarks/ on sys.path, not the project that holds the apps.
sys.path.insert(0, str(ROOT))

import leaderboard  # noqa: E402  (its selectors are imported by setup_django())
from benchmarks.common import positive, print_environment, print_host, redis_server  # noqa: E402
from leaderboard import redis_store  # noqa: E402  (needs no django.setup())
from leaderboard.exceptions import BoardUnavailable  # noqa: E402
from leaderboard.limits import DEFAULT_BOARD_SLUG, SEQUENCE_BITS, SEQUENCE_LIMIT, TOP_PLAYERS_COUNT  # noqa: E402

SEED = 20_240_601
POINTS_MAX = 1_000_000
# Settings the benchmark leaves to the caller; printed when set, since they change the figures.
PASSED_THROUGH = ("REDIS_SOCKET_TIMEOUT", "REDIS_CONNECT_TIMEOUT", "SQLITE_BUSY_TIMEOUT")
# The selector call behind each read measured from Redis, printed with the machine.
REDIS_READS = {
    "top-10": f"leaderboard_page(top={TOP_PLAYERS_COUNT}, offset=0, count_players=False), the seed top-players read",
    "rank": "neighbourhood(context=0), the seed my-rank read",
}

# Each player's best entry, encoded as redis_store.encode does (more points first, then the
# earlier score), so SQL ranks and breaks ties exactly as the board in Redis does.
_BEST_PER_PLAYER = """
    SELECT player_id, MAX(points * %(limit)s + (%(limit)s - 1 - id)) AS best
    FROM leaderboard_score WHERE board_id = %(board)s GROUP BY player_id
"""
TOP_SQL = f"""
    SELECT p.username, b.best >> %(bits)s
    FROM ({_BEST_PER_PLAYER}) AS b JOIN leaderboard_player AS p ON p.id = b.player_id
    ORDER BY b.best DESC LIMIT %(count)s
"""
RANK_SQL = f"""
    WITH mine AS (
        SELECT MAX(s.points * %(limit)s + (%(limit)s - 1 - s.id)) AS best
        FROM leaderboard_score AS s JOIN leaderboard_player AS p ON p.id = s.player_id
        WHERE s.board_id = %(board)s AND p.username = %(username)s
    )
    SELECT (SELECT COUNT(*) FROM ({_BEST_PER_PLAYER}) WHERE best > (SELECT best FROM mine)) + 1,
           (SELECT best FROM mine) >> %(bits)s
"""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print_machine(args)
    return with_private_redis("speedrank-bench-", lambda: run(args.players, args.repeats))


def with_private_redis(prefix: str, body: Callable[[], int]) -> int:
    """body() with Django set up against a redis-server and SQLite file of a temporary directory,
    both gone afterwards, also on Ctrl-C or SIGTERM."""
    # SIGTERM as an exception, so the finally blocks stop redis-server and delete the files.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as workdir, redis_server(Path(workdir)) as socket:
            setup_django(Path(workdir), socket)
            return body()
    except KeyboardInterrupt:
        print("interrupted; redis-server stopped and temporary files removed", file=sys.stderr)
        return 130


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=positive, default=1_000_000, help="players on the board (one score each)")
    parser.add_argument("--repeats", type=positive, default=5, help="timed runs per measurement; medians are printed")
    return parser.parse_args(argv)


# --- the machine ------------------------------------------------------------------------


def print_machine(args: argparse.Namespace) -> None:
    print_host()
    print(f"players      {args.players:,}")
    print(f"repeats      {args.repeats}")
    print_reads(REDIS_READS)
    print_environment(PASSED_THROUGH)
    print()


def print_reads(reads: dict[str, str]) -> None:
    headings = ["reads", *[""] * (len(reads) - 1)]
    for heading, (label, call) in zip(headings, reads.items(), strict=True):
        print(f"{heading:<13}{label:<12}selectors.{call}")


# --- a private database -----------------------------------------------------------------


def setup_django(workdir: Path, socket: Path) -> None:
    # Overwrite, never default: an exported DATABASE_URL or REDIS_URL must not receive a million rows.
    os.environ.update(
        DJANGO_SETTINGS_MODULE="speedrank.settings",
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        REDIS_URL=f"unix://{socket}",
        REDIS_KEY_PREFIX="bench",
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="0",  # DEBUG keeps every query in memory and would slow the SQL side
    )
    django.setup()
    # Only now: selectors imports the models, which need django.setup().
    importlib.import_module("leaderboard.selectors")
    call_command("migrate", verbosity=0)


# --- loading ----------------------------------------------------------------------------


def load_players(board_id: int, count: int, rng: random.Random) -> float:
    """Insert player0..player{count-1} with one score each in one transaction; returns seconds."""
    started = time.perf_counter()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO leaderboard_player (id, username, created_at) VALUES (%s, %s, %s)",
            ((n + 1, f"player{n}", now) for n in range(count)),
        )
        cursor.executemany(
            "INSERT INTO leaderboard_score (board_id, player_id, points, achieved_at) VALUES (%s, %s, %s, %s)",
            ((board_id, n + 1, rng.randint(0, POINTS_MAX), now) for n in range(count)),
        )
        # Each player's entry, as the write path keeps it: one score each, so that score.
        cursor.execute(
            "INSERT INTO leaderboard_boardentry (board_id, player_id, value, reached_seq, submissions) "
            "SELECT board_id, player_id, points, id, 1 FROM leaderboard_score"
        )
    return time.perf_counter() - started


# --- the reads compared -----------------------------------------------------------------


def top_from_sql(board_id: int) -> list[tuple[str, int]]:
    params = {"board": board_id, "limit": SEQUENCE_LIMIT, "bits": SEQUENCE_BITS, "count": TOP_PLAYERS_COUNT}
    with connection.cursor() as cursor:
        cursor.execute(TOP_SQL, params)
        return [(username, points) for username, points in cursor.fetchall()]


def top_from_redis() -> list[tuple[str, int]]:
    page = leaderboard.selectors.leaderboard_page(
        game_id=DEFAULT_BOARD_SLUG, top=TOP_PLAYERS_COUNT, offset=0, count_players=False
    )
    return [(standing.player_id, standing.score) for standing in page.standings]


def rank_from_sql(board_id: int, username: str) -> tuple[int, int]:
    params = {"board": board_id, "limit": SEQUENCE_LIMIT, "bits": SEQUENCE_BITS, "username": username}
    with connection.cursor() as cursor:
        cursor.execute(RANK_SQL, params)
        rank, points = cursor.fetchone()
    return rank, points


def rank_from_redis(username: str) -> tuple[int, int]:
    player = leaderboard.selectors.neighbourhood(game_id=DEFAULT_BOARD_SLUG, player_id=username, context=0).player
    return player.rank, player.score


def used_memory() -> int:
    return redis_store.client().info("memory")["used_memory"]


# --- timing and printing ----------------------------------------------------------------


def timings(call: Callable[[], object], repeats: int) -> list[float]:
    """Seconds taken by each of `repeats` calls."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def compare(label: str, sql: Callable[[], object], from_redis: Callable[[], object], repeats: int) -> None:
    """Check both sides answer the same (untimed, it also warms caches), then time each."""
    expected, found = sql(), from_redis()
    if expected != found:
        raise AssertionError(f"{label}: SQL and Redis disagree:\n  SQL   {expected}\n  Redis {found}")
    sql_seconds, redis_seconds = timings(sql, repeats), timings(from_redis, repeats)
    print_row(f"{label} from SQL", sql_seconds)
    print_row(f"{label} from Redis", redis_seconds)
    ratio = statistics.median(sql_seconds) / statistics.median(redis_seconds)
    print(f"{'':<2}SQL / Redis (medians): {ratio:,.0f}x")


def print_header() -> None:
    print(f"{'measurement':<34}{'median':>14}{'min':>14}{'max':>14}")


def print_row(label: str, seconds: list[float]) -> None:
    median, low, high = statistics.median(seconds), min(seconds), max(seconds)
    print(f"{label:<34}{milliseconds(median):>14}{milliseconds(low):>14}{milliseconds(high):>14}")


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:,.3f} ms"


def print_failure(label: str, error: BoardUnavailable) -> None:
    print(f"{label:<34}FAILED: {error}")
    print(f"{'':<2}(the app's REDIS_SOCKET_TIMEOUT is {settings.REDIS_SOCKET_TIMEOUT}s; traceback on stderr)")
    traceback.print_exception(error, file=sys.stderr)


def print_memory(before: int, after: int, players: int) -> None:
    print(f"redis used_memory, empty   {before:>15,} bytes")
    print(f"redis used_memory, board   {after:>15,} bytes")
    print(f"bytes per player           {(after - before) / players:>15,.1f}")


# --- the run ----------------------------------------------------------------------------


def run(players: int, repeats: int) -> int:
    """Load, fill Redis, print the figures; returns the exit status."""
    # Imported only now: services imports the models, which need django.setup().
    from leaderboard import services

    rng = random.Random(SEED)
    board = services.boards(DEFAULT_BOARD_SLUG)[0]
    print(f"loaded {players:,} players with one score each into SQLite in {load_players(board.id, players, rng):.2f}s")
    empty = used_memory()
    first = services.rebuild_board(board=board)
    print(f"first sync_redis into an empty Redis: {first.players:,} players in {first.seconds:.2f}s")
    print()
    print_memory(empty, used_memory(), players)
    print()
    username = f"player{rng.randrange(players)}"
    print(f"random player for the rank: {username}, rank {rank_from_redis(username)[0]:,}")
    print()
    print_header()
    compare("top-10", lambda: top_from_sql(board.id), top_from_redis, repeats)
    compare("rank", lambda: rank_from_sql(board.id, username), lambda: rank_from_redis(username), repeats)
    time_worst_allowed_reads(players, username, rng, repeats)
    status = time_rebuilds(lambda: services.rebuild_board(board=board), repeats)
    print(f"redis used_memory_peak     {redis_store.client().info('memory')['used_memory_peak']:>15,} bytes")
    return status


def time_worst_allowed_reads(players: int, username: str, rng: random.Random, repeats: int) -> None:
    """The largest reads /v1/ allows, from Redis: they must stay fast however large the board."""
    friends = [f"player{rng.randrange(players)}" for _ in range(200)]
    worst = {
        "v1 leaderboard top=100, last page": lambda: leaderboard.selectors.leaderboard_page(
            game_id=DEFAULT_BOARD_SLUG, top=100, offset=max(players - 100, 0)
        ),
        "v1 rank, context=50": lambda: leaderboard.selectors.neighbourhood(
            game_id=DEFAULT_BOARD_SLUG, player_id=username, context=50
        ),
        "v1 players, 200 ids": lambda: leaderboard.selectors.standings_of(
            game_id=DEFAULT_BOARD_SLUG, player_ids=friends
        ),
        "v1 matchmaking, size=50": lambda: leaderboard.selectors.similar_players(
            game_id=DEFAULT_BOARD_SLUG, player_id=username, size=50
        ),
    }
    for label, read in worst.items():
        read()  # warm up, and fail loudly before timing if the read is broken
        print_row(label, timings(read, repeats))


def time_rebuilds(rebuild: Callable[[], object], repeats: int) -> int:
    # A failed rebuild is a finding to print, not a reason to lose the figures above.
    try:
        print_row("sync_redis (rebuild_board)", timings(rebuild, repeats))
    except BoardUnavailable as error:
        print_failure("sync_redis (rebuild_board)", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
