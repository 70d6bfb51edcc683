"""HTTP throughput and latency of the seed API under the server in its production configuration, with wrk.

Run as `python benchmarks/bench_http.py [--players N] [--duration S] [--connections C] [--repeats R]`
(`make bench-http`): private redis-server and SQLite in a temporary directory; prints medians.
"""

import argparse
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
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import granian

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts benchmarks/ on sys.path, not the project that holds bench_reads.
sys.path.insert(0, str(ROOT))

from benchmarks.bench_reads import positive, print_host, redis_server, stop  # noqa: E402

APP, CEILING_APP = "speedrank.wsgi:application", "benchmarks.ceiling_app:application"
WRK_DIR = ROOT / "benchmarks" / "wrk"
SCENARIOS = ("mix", "top", "rank", "submit", "ceiling")
SERVER_START_SECONDS = 30.0
WARM_UP_SECONDS = 2
SEED = 20_240_601
POINTS_MAX = 1_000_000
# wrk's socket errors (a timeout is no answer within wrk's default 2s), then 5xx answers.
ERROR_KINDS = ("connect", "read", "write", "timeout", "server_errors")
RESULT = re.compile(r"^SPEEDRANK (.*)$", re.MULTILINE)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM as an exception, so the finally blocks stop the servers and delete the files.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed: `apt-get install wrk`, or run `make bench-http`", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="speedrank-http-") as workdir:
            return run(args, Path(workdir), wrk)
    except KeyboardInterrupt:
        print("interrupted; servers stopped and temporary files removed", file=sys.stderr)
        return 130


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=positive, default=100_000, help="players on the board (one score each)")
    parser.add_argument("--duration", type=positive, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=positive, default=50, help="concurrent wrk connections")
    parser.add_argument("--repeats", type=positive, default=3, help="wrk runs per scenario; medians are printed")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, workdir: Path, wrk: str) -> int:
    with ExitStack() as stack:
        redis_socket = stack.enter_context(redis_server(workdir))
        env = app_environment(workdir, redis_socket)
        prepare_database(env, args.players)
        app_url = stack.enter_context(server(APP, env, workdir / "app.log"))
        ceiling_url = stack.enter_context(server(CEILING_APP, env, workdir / "ceiling.log"))
        print_machine(args, env, wrk)
        urls = {name: ceiling_url if name == "ceiling" else app_url for name in SCENARIOS}
        results = measure(args, wrk, urls)
        print_table(results)
    return 0  # errors are a finding, shown in the table, not a failure of the benchmark


# --- the environment, the database and Redis --------------------------------------------


def app_environment(workdir: Path, redis_socket: Path) -> dict[str, str]:
    # Overwrite, never default: an exported DATABASE_URL or REDIS_URL must not receive the load.
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "speedrank.settings",
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "REDIS_URL": f"unix://{redis_socket}",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "METRICS_ENABLED": "1",  # every feature on, as in production (the seed API has no rate limits)
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
        "HOST": "127.0.0.1",
    }


def prepare_database(env: dict[str, str], players: int) -> None:
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    started = time.perf_counter()
    load_players(Path(env["DATABASE_URL"].removeprefix("sqlite:///")), players)
    loaded = time.perf_counter()
    manage(env, "sync_redis")
    synced = time.perf_counter()
    print(f"loaded {players:,} players in {loaded - started:.2f}s; sync_redis took {synced - loaded:.2f}s")
    print()


def manage(env: dict[str, str], *command: str) -> None:
    done = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(command)} exited with {done.returncode}:\n{done.stderr}")


def load_players(database: Path, count: int) -> None:
    """player0..player{count-1} with one score each, and their board entries, in one transaction."""
    rng = random.Random(SEED)
    # An hour old, as a board's history is: a server starting replays only its last minutes'
    # changes into Redis (MIRROR_REPLAY_SECONDS), not the whole board during the first round.
    loaded_at = datetime.now(UTC) - timedelta(hours=1)
    then = loaded_at.strftime("%Y-%m-%d %H:%M:%S.%f")  # as Django stores datetimes in SQLite
    with sqlite3.connect(database) as db:
        (board_id,) = db.execute("SELECT id FROM leaderboard_board WHERE slug = 'default'").fetchone()
        db.executemany(
            "INSERT INTO leaderboard_player (id, username, created_at) VALUES (?, ?, ?)",
            ((n + 1, f"player{n}", then) for n in range(count)),
        )
        db.executemany(
            "INSERT INTO leaderboard_score (board_id, player_id, points, achieved_at) VALUES (?, ?, ?, ?)",
            ((board_id, n + 1, rng.randint(0, POINTS_MAX), then) for n in range(count)),
        )
        # Each player's entry, as the write path keeps it: one score each, so that score.
        db.execute(
            "INSERT INTO leaderboard_boardentry (board_id, player_id, value, reached_seq, submissions, updated_at) "
            "SELECT board_id, player_id, points, id, 1, achieved_at FROM leaderboard_score"
        )
    db.close()


# --- the servers ------------------------------------------------------------------------


@contextmanager
def server(app: str, env: dict[str, str], log: Path) -> Iterator[str]:
    """The server as `make run` starts it, serving app on a free port; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "speedrank.serve", app]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**env, "PORT": str(port)}, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(process, url, log)
        yield url
    finally:
        stop(process, timeout=20)  # the server stops its workers within workers_kill_timeout (10s)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health/", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server is not healthy after {SERVER_START_SECONDS}s:\n{log.read_text()}")


# --- the machine ------------------------------------------------------------------------


def print_machine(args: argparse.Namespace, env: dict[str, str], wrk: str) -> None:
    print_host()
    print(f"wrk          {wrk_version(wrk)}")
    workers, threads = server_settings(env)
    print(f"server       granian {granian.__version__}, {workers} workers x {threads} threads (WSGI)")
    print(f"players      {args.players:,}")
    print(f"connections  {args.connections} (wrk -t2)")
    print(f"duration     {args.duration}s per run, after a {WARM_UP_SECONDS}s warm-up per server")
    print(f"repeats      {args.repeats}, scenarios taken in turn in each round")
    print()


def wrk_version(wrk: str) -> str:
    # wrk prints its version in the usage text and exits 1 for -v; that is expected.
    output = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout
    return output.splitlines()[0].split(" Copyright")[0] if output else "unknown"


def server_settings(env: dict[str, str]) -> list[str]:
    # What speedrank/serve.py takes from the settings, read the same way in a fresh process.
    code = "import django; django.setup(); from django.conf import settings as s; "
    code += "print(s.SERVER_WORKERS, s.SERVER_THREADS)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    return done.stdout.split() or ["?", "?"]


# --- load and results -------------------------------------------------------------------


def measure(args: argparse.Namespace, wrk: str, urls: dict[str, str]) -> dict[str, list[dict]]:
    """Every scenario once per round, so a noisy spell on the machine hits all of them alike."""
    for scenario in ("mix", "ceiling"):
        run_wrk(wrk, scenario, urls[scenario], args.players, args.connections, WARM_UP_SECONDS)
    results: dict[str, list[dict]] = {name: [] for name in SCENARIOS}
    for round_number in range(1, args.repeats + 1):
        for name in SCENARIOS:
            result = run_wrk(wrk, name, urls[name], args.players, args.connections, args.duration)
            results[name].append(result)
            print(f"round {round_number}/{args.repeats} {name:<8} {result['rps']:>10,.0f} req/s", file=sys.stderr)
    return results


def run_wrk(wrk: str, scenario: str, url: str, players: int, connections: int, seconds: int) -> dict:
    # The ceiling answers any request alike; top.lua drives it with the simplest GET.
    script = WRK_DIR / ("top.lua" if scenario == "ceiling" else f"{scenario}.lua")
    command = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url, "--", str(players)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    found = RESULT.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{shlex.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return parse_result(found.group(1))


def parse_result(line: str) -> dict:
    fields = {key: int(value) for key, value in (pair.split("=") for pair in line.split())}
    # wrk's status errors count every answer >= 400, a my-rank 404 too; count 5xx instead.
    socket_errors = sum(fields[key] for key in ("connect", "read", "write", "timeout"))
    return {
        "rps": fields["requests"] / (fields["duration_us"] / 1e6),
        "p50_ms": fields["p50_us"] / 1000,
        "p99_ms": fields["p99_us"] / 1000,
        "errors": socket_errors + fields["server_errors"],
        "non2xx": fields["non2xx"],
        "kinds": {key: fields[key] for key in ERROR_KINDS},
    }


def print_table(results: dict[str, list[dict]]) -> None:
    ceiling = statistics.median(r["rps"] for r in results["ceiling"])
    print(f"{'scenario':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>9}{'non-2xx':>10}{'/ceiling':>10}")
    for name, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        p50, p99 = (statistics.median(r[key] for r in runs) for key in ("p50_ms", "p99_ms"))
        errors, non2xx = sum(r["errors"] for r in runs), sum(r["non2xx"] for r in runs)
        print(f"{name:<10}{rps:>10,.0f}{p50:>10.2f}{p99:>10.2f}{errors:>9,}{non2xx:>10,}{rps / ceiling:>10.2f}")
    print("req/s, p50 and p99: medians of the repeats; errors (5xx and socket errors) and non-2xx: totals")
    for name, runs in results.items():
        kinds = {key: sum(r["kinds"][key] for r in runs) for key in ERROR_KINDS}
        if any(kinds.values()):
            print(f"errors in {name}: " + ", ".join(f"{key} {count}" for key, count in kinds.items() if count))


if __name__ == "__main__":
    sys.exit(main())
