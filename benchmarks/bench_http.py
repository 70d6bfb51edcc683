"""HTTP throughput and latency of the seed and v1 APIs under the server in its production configuration, with wrk.

Run as `python benchmarks/bench_http.py [--players N] [--duration S] [--connections C] [--repeats R]
[--scenarios a,b,...] [--baseline REV | --no-baseline]` (`make bench-http`): private redis-servers and
SQLite files in a temporary directory; prints medians and the targets. It speaks to the app over HTTP
and through manage.py (the players alone go straight into SQLite), and imports none of its code.
"""

import argparse
import json
import os
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import granian
import psycopg

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts benchmarks/ on sys.path, not the project that holds benchmarks.common.
sys.path.insert(0, str(ROOT))

from benchmarks.common import positive, print_host, redis_server, stop  # noqa: E402

APPS = {
    "app": "speedrank.wsgi:application",
    "base": "speedrank.wsgi:application",
    "ceiling": "benchmarks.ceiling_app:application",
    "floor": "benchmarks.floor_app:application",
}
WRK_DIR = ROOT / "benchmarks" / "wrk"
PRIVATE_POSTGRES = ROOT / "speedrank" / "scripts" / "private_postgres.sh"
DEFAULT_BASELINE = "90b7c75"
SERVER_START_SECONDS = 30.0
WARM_UP_SECONDS = 2
SEED = 20_240_601
POINTS_MAX = 1_000_000
# The /v1/ rate limits stay on, as in production, but this high they never refuse a request.
RATE_LIMIT = "1000000000"
# wrk's socket errors (a timeout is no answer within wrk's default 2s), then 5xx answers.
ERROR_KINDS = ("connect", "read", "write", "timeout", "server_errors")
RESULT = re.compile(r"^SPEEDRANK (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Scenario:
    name: str
    group: str  # seed, floor, v1 or base: what --scenarios selects by
    server: str  # a key of APPS: app, base (the baseline's app), ceiling or floor
    script: str  # in wrk/

    @property
    def strict(self) -> bool:
        # The v1 scenarios (the app's and the floor's) ask only for what exists, so any answer
        # outside 2xx is wrong; a seed my-rank 404 (no score yet) is a correct answer.
        return self.script.startswith("v1_")


# Each seed scenario beside its baseline twin, so the pair meets the same moment of the machine.
SCENARIOS = (
    Scenario("mix", "seed", "app", "mix.lua"),
    Scenario("base-mix", "base", "base", "mix.lua"),
    Scenario("top", "seed", "app", "top.lua"),
    Scenario("base-top", "base", "base", "top.lua"),
    Scenario("rank", "seed", "app", "rank.lua"),
    Scenario("base-rank", "base", "base", "rank.lua"),
    Scenario("submit", "seed", "app", "submit.lua"),
    Scenario("base-submit", "base", "base", "submit.lua"),
    # The ceiling answers any request alike; top.lua drives it with the simplest GET.
    Scenario("ceiling", "seed", "ceiling", "top.lua"),
    Scenario("floor-top", "floor", "floor", "top.lua"),
    Scenario("floor-rank", "floor", "floor", "rank.lua"),
    Scenario("floor-v1-leaderboard", "floor", "floor", "v1_leaderboard.lua"),
    Scenario("floor-v1-rank", "floor", "floor", "v1_rank.lua"),
    Scenario("floor-v1-players", "floor", "floor", "v1_players.lua"),
    Scenario("floor-v1-matchmaking", "floor", "floor", "v1_matchmaking.lua"),
    Scenario("v1-leaderboard", "v1", "app", "v1_leaderboard.lua"),
    Scenario("v1-rank", "v1", "app", "v1_rank.lua"),
    Scenario("v1-players", "v1", "app", "v1_players.lua"),
    Scenario("v1-matchmaking", "v1", "app", "v1_matchmaking.lua"),
    Scenario("v1-submit", "v1", "app", "v1_submit.lua"),
    Scenario("v1-submit-keyed", "v1", "app", "v1_submit_keyed.lua"),
    Scenario("v1-session", "v1", "app", "v1_session.lua"),
    Scenario("v1-mix", "v1", "app", "v1_mix.lua"),
)
GROUPS = ("seed", "floor", "v1", "base")


@dataclass(frozen=True)
class Target:
    scenario: str
    reference: str
    metric: str  # rps, flows (v1-session's completed flows per second) or p99
    factor: float  # rps and flows: at least factor x the reference's req/s; p99: at most factor x its p99


# A regression is a seed figure worse than its baseline twin's by more than this share, room for
# the machine's noise: even side by side in one run, twins running the same code do not match exactly.
REGRESSION_TOLERANCE = 0.10
TARGETS = (
    Target("v1-leaderboard", "top", "rps", 0.8),
    Target("v1-players", "top", "rps", 0.8),
    Target("v1-matchmaking", "top", "rps", 0.8),
    Target("v1-rank", "top", "rps", 0.7),
    Target("v1-submit", "submit", "rps", 0.8),
    Target("v1-session", "submit", "flows", 0.4),
    *(
        Target(name, reference, "p99", 2.0)
        for name, reference in (
            ("v1-leaderboard", "top"),
            ("v1-players", "top"),
            ("v1-matchmaking", "top"),
            ("v1-rank", "top"),
            ("v1-submit", "submit"),
            ("v1-session", "submit"),
            ("v1-mix", "mix"),
        )
    ),
    Target("top", "floor-top", "rps", 0.8),
    Target("rank", "floor-rank", "rps", 0.8),
    *(
        Target(name, f"base-{name}", metric, factor)
        for name in ("mix", "top", "rank", "submit")
        for metric, factor in (("rps", 1 - REGRESSION_TOLERANCE), ("p99", 1 + REGRESSION_TOLERANCE))
    ),
)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM as an exception, so the finally blocks stop the servers and delete the files.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed: `apt-get install wrk`, or run `make bench-http`", file=sys.stderr)
        return 2
    if args.database == "postgres" and "PRIVATE_POSTGRES_URL" not in os.environ:
        # Run again inside a private cluster of the project's own making, which ends with the run.
        os.execv(PRIVATE_POSTGRES, [str(PRIVATE_POSTGRES), "run", sys.executable, *sys.orig_argv[1:]])
    try:
        with tempfile.TemporaryDirectory(prefix="speedrank-http-") as workdir:
            return run(args, Path(workdir), wrk)
    except KeyboardInterrupt:
        print("interrupted; servers stopped and temporary files removed", file=sys.stderr)
        return 130
    except RuntimeError as error:  # a server, manage.py or wrk failed, or a check did not pass
        print(f"bench_http: {error}\nservers stopped and temporary files removed", file=sys.stderr)
        return 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=positive, default=100_000, help="players on the board (one score each)")
    parser.add_argument("--duration", type=positive, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=positive, default=50, help="concurrent wrk connections")
    parser.add_argument("--repeats", type=positive, default=3, help="wrk runs per scenario; medians are printed")
    parser.add_argument(
        "--scenarios",
        default="all",
        help=f"comma-separated scenarios or groups ({', '.join(GROUPS)}, all); default all. "
        f"Scenarios: {', '.join(s.name for s in SCENARIOS)}",
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="the apps' database: a SQLite file each (default), or a database each on a private PostgreSQL cluster",
    )
    baseline = parser.add_mutually_exclusive_group()
    baseline.add_argument(
        "--baseline",
        default=DEFAULT_BASELINE,
        metavar="REV",
        help=f"the commit the seed scenarios are compared with, side by side (default {DEFAULT_BASELINE}); none: skip",
    )
    baseline.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_const",
        const=None,
        help="run without a baseline (as --baseline none)",
    )
    args = parser.parse_args(argv)
    if args.baseline is not None and args.baseline.lower() == "none":
        args.baseline = None
    try:
        args.scenarios = select(args.scenarios, with_baseline=args.baseline is not None)
        args.baseline = resolve(args.baseline) if args.baseline else None
    except ValueError as error:
        parser.error(str(error))
    return args


def select(spec: str, with_baseline: bool) -> list[Scenario]:
    """The scenarios named by spec (names and groups), in the order of SCENARIOS."""
    wanted: set[str] = set()
    for word in filter(None, (part.strip() for part in spec.split(","))):
        if word == "all":
            wanted.update(s.name for s in SCENARIOS if with_baseline or s.group != "base")
        elif word in GROUPS:
            wanted.update(s.name for s in SCENARIOS if s.group == word)
        elif any(s.name == word for s in SCENARIOS):
            wanted.add(word)
        else:
            names = ", ".join([*GROUPS, "all", *(s.name for s in SCENARIOS)])
            raise ValueError(f"--scenarios: unknown scenario or group {word!r}; choose from {names}")
    chosen = [s for s in SCENARIOS if s.name in wanted]
    if not chosen:
        raise ValueError("--scenarios: no scenario selected")
    if not with_baseline and any(s.group == "base" for s in chosen):
        raise ValueError("--scenarios: the base-* scenarios need a baseline; drop --no-baseline or --baseline none")
    return chosen


def resolve(rev: str) -> str:
    """The full commit id of rev in this checkout."""
    done = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if done.returncode != 0:
        raise ValueError(f"--baseline: {rev!r} is not a commit of this checkout (--no-baseline to run without one)")
    return done.stdout.strip()


def git(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *command], capture_output=True, text=True)


def run(args: argparse.Namespace, workdir: Path, wrk: str) -> int:
    scenarios: list[Scenario] = args.scenarios
    servers = {s.server for s in scenarios}
    if "floor" in servers:
        servers.add("app")  # the floor is checked against the app's answers
    with ExitStack() as stack:
        cluster = os.environ["PRIVATE_POSTGRES_URL"] if args.database == "postgres" else None
        sites = prepare_sites(stack, args, workdir, servers, cluster)
        # The v1 submissions' server key, made before the server starts, as a studio would.
        api_key = create_api_key(sites["app"]) if any(s.group == "v1" for s in scenarios) else "none"
        print()
        urls = start_servers(stack, sites, servers, workdir)
        if "floor" in urls:
            check_same_answers(urls["app"], urls["floor"], "the floor", args.players, v1=True)
        if "base" in urls and "app" in urls:
            check_same_answers(urls["app"], urls["base"], "the baseline", args.players)
        print_machine(args, sites, wrk)
        summary = summarise(measure(args, wrk, scenarios, urls, api_key))
        print_table(summary)
        print_targets(summary)
    return 0  # errors and missed targets are findings, shown in the output, not a failure of the benchmark


# --- the environment, the code, the database and Redis ----------------------------------


@dataclass(frozen=True)
class Site:
    name: str  # app or base
    code: Path  # the directory the server and manage.py run in
    env: dict[str, str]


def prepare_sites(
    stack: ExitStack, args: argparse.Namespace, workdir: Path, servers: set[str], cluster: str | None
) -> dict[str, Site]:
    """The checkout's app unless only the baseline runs, and the baseline's when it does; on
    PostgreSQL, each with a database of its own in the cluster."""
    sites = {}
    if servers - {"base"}:
        sites["app"] = prepare(stack, Site("app", ROOT, {}), workdir / "app", args.players, cluster)
    if "base" in servers:
        code = export(args.baseline, workdir / "base-code")
        base = Site(f"baseline {args.baseline[:9]}", code, {})
        sites["base"] = prepare(stack, base, workdir / "base", args.players, cluster)
    return sites


def start_servers(stack: ExitStack, sites: dict[str, Site], servers: set[str], workdir: Path) -> dict[str, str]:
    """Each server wanted, by name: its URL."""
    started = {}
    for name in sorted(servers):
        started[name] = stack.enter_context(server(APPS[name], site_of(sites, name), workdir / f"{name}.log"))
    return started


def site_of(sites: dict[str, Site], server_name: str) -> Site:
    # The ceiling and the floor run in the checkout, beside the app, with its environment.
    return sites["base"] if server_name == "base" else sites["app"]


def prepare(stack: ExitStack, site: Site, workdir: Path, players: int, cluster: str | None) -> Site:
    """A redis-server and a database (a SQLite file, or one in the PostgreSQL cluster) of their own
    for the site's app, migrated, loaded and synced."""
    workdir.mkdir()
    redis_socket = stack.enter_context(redis_server(workdir))
    database_url = (
        create_database(cluster, f"bench_{workdir.name}") if cluster else f"sqlite:///{workdir / 'bench.sqlite3'}"
    )
    site = replace(site, env=app_environment(site.code, database_url, redis_socket))
    manage(site, "migrate", "--noinput", "--verbosity", "0")
    started = time.perf_counter()
    load_players(database_url, players)
    loaded = time.perf_counter()
    manage(site, "sync_redis")
    synced = time.perf_counter()
    print(f"{site.name}: loaded {players:,} players in {loaded - started:.2f}s; sync_redis took {synced - loaded:.2f}s")
    return site


def app_environment(code: Path, database_url: str, redis_socket: Path) -> dict[str, str]:
    # Overwrite, never default: an exported DATABASE_URL or REDIS_URL must not receive the load.
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "speedrank.settings",
        "PYTHONPATH": str(code),  # the baseline imports its own code, not the checkout's
        "DATABASE_URL": database_url,
        "REDIS_URL": f"unix://{redis_socket}",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "METRICS_ENABLED": "1",  # every feature on, as in production
        "RATE_LIMITS_ENABLED": "1",
        "RATE_LIMIT_READS_PER_IP": RATE_LIMIT,
        "RATE_LIMIT_WRITES_PER_IP": RATE_LIMIT,
        "RATE_LIMIT_WRITES_PER_PLAYER": RATE_LIMIT,
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
        "HOST": "127.0.0.1",
    }


def export(commit: str, destination: Path) -> Path:
    """The commit's files in destination, with `git archive`: no worktree or branch left behind."""
    destination.mkdir()
    archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", commit], stdout=subprocess.PIPE)
    untar = subprocess.run(["tar", "-x", "-C", str(destination)], stdin=archive.stdout, capture_output=True)
    archive.stdout.close()
    if archive.wait() != 0 or untar.returncode != 0:
        raise RuntimeError(f"could not export {commit} with git archive: {untar.stderr.decode()}")
    return destination


def manage(site: Site, *command: str) -> str:
    """The site's own manage.py, run in its directory; returns what it printed on stdout."""
    done = subprocess.run(
        [sys.executable, "manage.py", *command], cwd=site.code, env=site.env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(command)} exited with {done.returncode}:\n{done.stderr}")
    return done.stdout.strip()


def create_api_key(site: Site) -> str:
    printed = manage(site, "create_api_key", "--name", "bench-http", "--scope", "server")
    return printed.splitlines()[-1].strip()


def load_players(database_url: str, count: int) -> None:
    """player0..player{count-1} with one score each, and their board entries, in one transaction."""
    rng = random.Random(SEED)
    # An hour old, as a board's history is: a server starting replays only its last minutes'
    # changes into Redis (MIRROR_REPLAY_SECONDS), not the whole board during the first round.
    loaded_at = datetime.now(UTC) - timedelta(hours=1)
    players = [(n + 1, f"player{n}") for n in range(count)]
    points = [rng.randint(0, POINTS_MAX) for _ in range(count)]
    if database_url.startswith("sqlite:///"):
        load_into_sqlite(Path(database_url.removeprefix("sqlite:///")), players, points, loaded_at)
    else:
        load_into_postgres(database_url, players, points, loaded_at)


# Each player's entry, as the write path keeps it: one score each, so that score.
ENTRIES_FROM_SCORES = (
    "INSERT INTO leaderboard_boardentry (board_id, player_id, value, reached_seq, submissions, updated_at) "
    "SELECT board_id, player_id, points, id, 1, achieved_at FROM leaderboard_score"
)


def load_into_sqlite(database: Path, players: list, points: list[int], loaded_at: datetime) -> None:
    then = loaded_at.strftime("%Y-%m-%d %H:%M:%S.%f")  # as Django stores datetimes in SQLite
    with sqlite3.connect(database) as db:
        (board_id,) = db.execute("SELECT id FROM leaderboard_board WHERE slug = 'default'").fetchone()
        db.executemany(
            "INSERT INTO leaderboard_player (id, username, created_at) VALUES (?, ?, ?)",
            ((player_id, username, then) for player_id, username in players),
        )
        db.executemany(
            "INSERT INTO leaderboard_score (board_id, player_id, points, achieved_at) VALUES (?, ?, ?, ?)",
            ((board_id, player_id, score, then) for (player_id, _), score in zip(players, points, strict=True)),
        )
        db.execute(ENTRIES_FROM_SCORES)
    db.close()


def create_database(cluster_url: str, name: str) -> str:
    """A new database in the private cluster; its URL."""
    with psycopg.connect(cluster_url, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return urllib.parse.urlsplit(cluster_url)._replace(path=f"/{name}").geturl()


def postgres_version(cluster_url: str) -> str:
    with psycopg.connect(cluster_url) as db:
        return db.execute("SHOW server_version").fetchone()[0]


def load_into_postgres(database_url: str, players: list, points: list[int], loaded_at: datetime) -> None:
    with psycopg.connect(database_url) as db, db.cursor() as cursor:
        (board_id,) = cursor.execute("SELECT id FROM leaderboard_board WHERE slug = 'default'").fetchone()
        with cursor.copy("COPY leaderboard_player (id, username, created_at) FROM STDIN") as copy:
            for player_id, username in players:
                copy.write_row((player_id, username, loaded_at))
        with cursor.copy("COPY leaderboard_score (board_id, player_id, points, achieved_at) FROM STDIN") as copy:
            for (player_id, _), score in zip(players, points, strict=True):
                copy.write_row((board_id, player_id, score, loaded_at))
        cursor.execute(ENTRIES_FROM_SCORES)
        # The players were given their ids: the next one the app makes comes after them.
        cursor.execute("SELECT setval(pg_get_serial_sequence('leaderboard_player', 'id'), %s)", [len(players)])


# --- the servers ------------------------------------------------------------------------


@contextmanager
def server(app: str, site: Site, log: Path) -> Iterator[str]:
    """The server as `make run` starts it, run in the site's directory, serving app on a free port; yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "speedrank.serve", app]
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=site.code,
            env={**site.env, "PORT": str(port)},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(process, app, url, log)
        yield url
    finally:
        stop(process, timeout=20)  # the server stops its workers within workers_kill_timeout (10s)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(process: subprocess.Popen, app: str, url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server of {app} exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health/", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server of {app} is not healthy after {SERVER_START_SECONDS}s:\n{log.read_text()}")


def check_same_answers(app_url: str, other_url: str, label: str, players: int, *, v1: bool = False) -> None:
    """Stop unless other answers the seed reads (and with v1, the /v1/ reads) as the app does:
    otherwise it measures other work."""
    chosen = (0, players // 2, players - 1)
    paths = ["/api/top-players/", *(f"/api/my-rank/?username=player{n}" for n in chosen)]
    if v1:
        some = ",".join(f"player{n}" for n in random.Random(SEED).sample(range(players), min(20, players)))
        paths += [
            "/v1/leaderboard?game_id=default&top=10",
            f"/v1/leaderboard/players?game_id=default&player_ids={some}",
            *(f"/v1/leaderboard/rank?game_id=default&player_id=player{n}&context=5" for n in chosen),
            *(f"/v1/matchmaking?game_id=default&player_id=player{n}&size=10" for n in chosen),
        ]
    for path in paths:
        expected, found = get_json(app_url + path), get_json(other_url + path)
        if expected != found:
            raise RuntimeError(
                f"{label} does not answer GET {path} as the app does:\n  app: {expected}\n  {label}: {found}"
            )


def get_json(url: str) -> object:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


# --- the machine ------------------------------------------------------------------------


def print_machine(args: argparse.Namespace, sites: dict[str, Site], wrk: str) -> None:
    print_host()
    print(f"wrk          {wrk_version(wrk)}")
    for name, site in sites.items():
        workers, threads = server_settings(site)
        label = "server" if name == "app" else "base server"
        print(f"{label:<12} granian {granian.__version__}, {workers} workers x {threads} threads (WSGI)")
    if args.database == "postgres":
        version = postgres_version(os.environ["PRIVATE_POSTGRES_URL"])
        print(f"database     PostgreSQL {version}: a database per app on a private cluster (unix socket, fsync on)")
    else:
        print("database     SQLite: a file per app, written through the write server")
    print(f"settings     METRICS_ENABLED=1, RATE_LIMITS_ENABLED=1, /v1/ rate limits {int(RATE_LIMIT):,} per window")
    if args.baseline:
        subject = git("log", "-1", "--format=%s", args.baseline).stdout.strip()
        print(f"baseline     {args.baseline[:9]} {subject}")
    print(f"players      {args.players:,}")
    print(f"connections  {args.connections} (wrk -t2)")
    print(f"duration     {args.duration}s per run, after a {WARM_UP_SECONDS}s warm-up per server")
    print(f"repeats      {args.repeats}, scenarios taken in turn in each round")
    print(f"scenarios    {', '.join(s.name for s in args.scenarios)}")
    print()


def wrk_version(wrk: str) -> str:
    # wrk prints its version in the usage text and exits 1 for -v; that is expected.
    output = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout
    return output.splitlines()[0].split(" Copyright")[0] if output else "unknown"


def server_settings(site: Site) -> list[str]:
    # What speedrank/serve.py takes from the settings, read the same way in a fresh process run
    # where the server runs; it also stops a run whose baseline would import the checkout's code.
    script = "import django, speedrank; django.setup(); from django.conf import settings as s; "
    script += "print(s.SERVER_WORKERS, s.SERVER_THREADS, speedrank.__file__)"
    done = subprocess.run([sys.executable, "-c", script], cwd=site.code, env=site.env, capture_output=True, text=True)
    found = done.stdout.split()
    if len(found) != 3:
        return ["?", "?"]
    if not Path(found[2]).resolve().is_relative_to(site.code.resolve()):
        raise RuntimeError(f"the server run in {site.code} imports speedrank from {found[2]}")
    return found[:2]


# --- load and results -------------------------------------------------------------------


def measure(
    args: argparse.Namespace, wrk: str, scenarios: list[Scenario], urls: dict[str, str], api_key: str
) -> dict[str, list[dict]]:
    """Every scenario once per round, so a noisy spell on the machine hits all of them alike; in
    the table's order, and in reverse in even rounds, so that no scenario always follows the same
    one (a write scenario leaves work behind: a WAL checkpoint, Redis's append-only file)."""
    for scenario in warm_ups(scenarios):
        run_wrk(wrk, scenario, urls[scenario.server], args, WARM_UP_SECONDS, api_key)
    results: dict[str, list[dict]] = {s.name: [] for s in scenarios}
    for round_number in range(1, args.repeats + 1):
        for scenario in scenarios if round_number % 2 else scenarios[::-1]:
            result = run_wrk(wrk, scenario, urls[scenario.server], args, args.duration, api_key)
            results[scenario.name].append(result)
            rps = result["rps"]
            print(f"round {round_number}/{args.repeats} {scenario.name:<16} {rps:>10,.0f} req/s", file=sys.stderr)
    return results


def warm_ups(scenarios: list[Scenario]) -> list[Scenario]:
    """Per server, its mixes among the scenarios (else its first scenario)."""
    chosen = []
    for name in dict.fromkeys(s.server for s in scenarios):
        on_server = [s for s in scenarios if s.server == name]
        chosen += [s for s in on_server if s.name.endswith("mix")] or on_server[:1]
    return chosen


def run_wrk(wrk: str, scenario: Scenario, url: str, args: argparse.Namespace, seconds: int, api_key: str) -> dict:
    # The last argument is new each run: the keyed submissions build their Idempotency-Keys on it.
    script_args = [str(args.players), api_key, secrets.token_hex(6)]
    script = str(WRK_DIR / scenario.script)
    command = [wrk, "-t2", f"-c{args.connections}", f"-d{seconds}s", "-s", script, url, "--", *script_args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    found = RESULT.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{shlex.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return parse_result(found.group(1), scenario.strict)


def parse_result(line: str, strict: bool) -> dict:
    fields = {key: int(value) for key, value in (pair.split("=") for pair in line.split())}
    seconds = fields["duration_us"] / 1e6
    # wrk's status errors count every answer >= 400, a my-rank 404 too; count 5xx instead.
    kinds = {key: fields[key] for key in ERROR_KINDS}
    if strict:
        kinds["other_non2xx"] = fields["non2xx"] - fields["server_errors"]
    return {
        "rps": fields["requests"] / seconds,
        "flows": fields["flows"] / seconds,
        "p50_ms": fields["p50_us"] / 1000,
        "p99_ms": fields["p99_us"] / 1000,
        "errors": sum(kinds.values()),
        "non2xx": fields["non2xx"],
        "kinds": kinds,
    }


def summarise(results: dict[str, list[dict]]) -> dict[str, dict]:
    """Per scenario, the medians of the rounds and the totals of errors."""
    summary = {}
    for name, runs in results.items():
        medians = {key: statistics.median(r[key] for r in runs) for key in ("rps", "flows", "p50_ms", "p99_ms")}
        kinds = {key: sum(r["kinds"].get(key, 0) for r in runs) for key in runs[0]["kinds"]}
        totals = {"errors": sum(r["errors"] for r in runs), "non2xx": sum(r["non2xx"] for r in runs), "kinds": kinds}
        summary[name] = medians | totals
    return summary


def print_table(summary: dict[str, dict]) -> None:
    ceiling = summary.get("ceiling", {}).get("rps")
    print(f"{'scenario':<21}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>9}{'non-2xx':>10}", end="")
    print(f"{'/ceiling':>10}" if ceiling else "")
    for name, row in summary.items():
        print(
            f"{name:<21}{row['rps']:>10,.0f}{row['p50_ms']:>10.2f}{row['p99_ms']:>10.2f}"
            f"{row['errors']:>9,}{row['non2xx']:>10,}",
            end="",
        )
        print(f"{row['rps'] / ceiling:>10.2f}" if ceiling else "")
    print("req/s, p50 and p99: medians of the repeats; errors and non-2xx: totals. Errors are 5xx and socket")
    print("errors, and in the v1 scenarios every answer outside 2xx (a seed my-rank 404 is a correct answer).")
    if "v1-session" in summary:
        flows = summary["v1-session"]["flows"]
        print(f"v1-session: {flows:,.0f} completed flows/s (its req/s counts both requests of a flow)")
    for name, row in summary.items():
        if any(row["kinds"].values()):
            kinds = ", ".join(f"{key} {count:,}" for key, count in row["kinds"].items() if count)
            print(f"errors in {name}: {kinds}")
    print()


# --- the targets ------------------------------------------------------------------------


def print_targets(summary: dict[str, dict]) -> None:
    print("TARGETS, from the medians above: the scenario's figure against the reference's, and their ratio")
    print(
        f"{'scenario':<17}{'figure':<9}{'value':>11}  {'reference':<16}{'value':>11}{'ratio':>8}{'target':>10}  result"
    )
    for target in TARGETS:
        if target.scenario in summary and target.reference in summary:
            print(target_line(target, summary))
    # Which scenarios had errors, and of which kinds, is listed under the table.
    total = sum(row["errors"] for row in summary.values())
    kinds = "(5xx, socket; v1: non-2xx)"
    print(f"{'every scenario':<17}{'errors':<9}{total:>11,}  {kinds:<35}{'= 0':>10}  {verdict(total == 0)}")
    print_reach(summary)


def print_reach(summary: dict[str, dict]) -> None:
    """Whether each /v1/ read target can be met at the seed top-players' speed in this run.

    Per request, in the machine's time (1 / req/s): the app's top-players costs the floor's
    top-players plus the framework's overhead, O = 1/top - 1/floor-top. A /v1/ read can cost no
    less than its floor, and at best carries no more overhead than top-players does; then it runs
    at best = 1 / (1/floor-X + O). A target above best / top cannot be met without the seed
    top-players getting slower, which the no-regression target forbids."""
    if not {"top", "floor-top"} <= summary.keys():
        return
    top, overhead = summary["top"]["rps"], 1 / summary["top"]["rps"] - 1 / summary["floor-top"]["rps"]
    lines = []
    for target in TARGETS:
        floor = f"floor-{target.scenario}"
        if target.reference == "top" and target.metric == "rps" and floor in summary:
            best = 1 / (1 / summary[floor]["rps"] + max(overhead, 0.0))
            app = summary[target.scenario]["rps"] if target.scenario in summary else None
            lines.append((target, summary[floor]["rps"], best, app))
    if not lines:
        return
    print()
    print("REACH: each /v1/ read at best, its floor with no more framework overhead than top-players has here")
    floor_top = summary["floor-top"]["rps"]
    print(
        f"(top-players {top:,.0f} req/s, its floor {floor_top:,.0f}: {overhead * 1e6:.1f} µs of overhead per request)"
    )
    print(f"{'scenario':<17}{'floor':>9}{'at best':>9}{'best/top':>10}{'target':>10}  {'reachable':<10}{'app/best':>9}")
    for target, floor_rps, best, app in lines:
        reachable = "yes" if best / top >= target.factor else "NO"
        shown_app = f"{app / best:>9.2f}" if app is not None else f"{'-':>9}"
        print(
            f"{target.scenario:<17}{floor_rps:>9,.0f}{best:>9,.0f}{best / top:>10.2f}{f'>= {target.factor:g}x':>10}"
            f"  {reachable:<10}{shown_app}"
        )


def target_line(target: Target, summary: dict[str, dict]) -> str:
    row, reference = summary[target.scenario], summary[target.reference]
    if target.metric == "p99":
        value, base = row["p99_ms"], reference["p99_ms"]
        met, shown, shown_base = value <= target.factor * base, f"{value:,.2f} ms", f"{base:,.2f} ms"
        bound = f"<= {target.factor:g}x"
    else:
        value, base = row[target.metric], reference["rps"]
        met, shown, shown_base = value >= target.factor * base, f"{value:,.0f}", f"{base:,.0f}"
        bound = f">= {target.factor:g}x"
    figure = {"p99": "p99", "rps": "req/s", "flows": "flows/s"}[target.metric]
    return (
        f"{target.scenario:<17}{figure:<9}{shown:>11}  {target.reference:<16}{shown_base:>11}"
        f"{value / base:>8.2f}{bound:>10}  {verdict(met)}"
    )


def verdict(met: bool) -> str:
    return "ok" if met else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
