"""The live server under load: push latency while scores land, match rooms' moves, REST beside idle
WebSockets, and the live server's memory per socket.

Run as `python benchmarks/bench_live.py [--subscribers N] [--writes W] [--rooms R] [--actions A]
[--idle 1000,5000] ...` (`make bench-live`): the server as `make run` starts it (the REST workers,
the write server and the live server) on a private redis-server and a SQLite file in a temporary
directory; prints percentiles and medians against the budgets, and leaves nothing behind. It
speaks to the app over HTTP, WebSockets and manage.py, and imports none of its code.
"""

import argparse
import asyncio
import http.client
import itertools
import json
import math
import multiprocessing
import os
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import granian
import orjson
import psutil
import websockets

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts benchmarks/ on sys.path, not the project that holds benchmarks.common.
sys.path.insert(0, str(ROOT))

from benchmarks import live_clients  # noqa: E402
from benchmarks.bench_http import (  # noqa: E402
    SCENARIOS,
    Site,
    app_environment,
    free_port,
    get_json,
    load_into_sqlite,
    manage,
    run_wrk,
    wait_until_healthy,
    wrk_version,
)
from benchmarks.common import p99, positive, print_host, redis_server, stop  # noqa: E402

SEED = 20_240_601
GAME, MATCH_GAME, QUIET_GAME = "default", "connect4", "quiet"
# The loaded players' scores stay below WRITE_BASE, so each timed write (WRITE_BASE + n, by a new
# player) is the board's new best: the TOP that shows it names it, and passes every follower.
SEEDED_POINTS_MAX = 500_000
WRITE_BASE = SEEDED_POINTS_MAX + 1
POINTS_MAX = 1_000_000
FOLLOWER_SHARE = 0.2
PUSH_ROWS = ("TOP, top subscribers", "TOP, oldest write new", "TOP, rank followers", "RANK, rank followers")
WRITER_THREADS = 32
SETTLE_SECONDS = 2.0
READY_SECONDS = 180.0
CHILD_STOP_SECONDS = 5.0
WRK_SCENARIOS = ("mix", "v1-mix")
WRK_WARM_UP_SECONDS = 2
# The cap's highest value; the metrics give the live server's own time per match action.
LIVE_ENV = {"LIVE_SERVER": "1", "LIVE_CONNECTIONS_PER_IP": "100000", "METRICS_ENABLED": "1"}
ACTION_BUCKETS = re.compile(r'^speedrank_match_action_seconds_bucket\{le="([^"]+)"\} ([0-9.e+]+)$', re.M)
PUSH_SLACK = 0.020  # the push budget: the coalescing interval plus this
MATCH_BUDGET = 0.005  # p99 from the server receiving an action to sending the broadcast
REST_BUDGET = 0.05  # req/s beside idle sockets within this share of req/s without them


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM as an exception, so the finally blocks stop the servers and delete the files.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed: `apt-get install wrk`, or run `make bench-live`", file=sys.stderr)
        return 2
    raise_open_files_limit()
    try:
        with tempfile.TemporaryDirectory(prefix="speedrank-live-") as workdir:
            return run(args, Path(workdir), wrk)
    except KeyboardInterrupt:
        print("interrupted; servers stopped and temporary files removed", file=sys.stderr)
        return 130
    except RuntimeError as error:  # a server, manage.py, wrk or a client failed
        print(f"bench_live: {error}\nservers stopped and temporary files removed", file=sys.stderr)
        return 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--players", type=positive, default=10_000, help="players loaded on the board (one score each)")
    add("--subscribers", type=positive, default=1_000, help="WebSockets on the board while scores land")
    add("--follower-share", type=float, default=FOLLOWER_SHARE, help="share of subscribers following a player")
    add("--writes", type=positive, default=1_000, help="score writes per second over REST")
    add("--seconds", type=positive, default=10, help="seconds of writes, and of match moves")
    add("--rooms", type=positive, default=500, help="match rooms played at once, 2 players each")
    add("--actions", type=positive, default=1_000, help="match actions per second, all rooms together")
    add("--rest-idle", type=positive, default=1_000, help="idle WebSockets beside the REST runs")
    add("--idle", type=counts, default=counts("1000,5000"), help="idle WebSockets for the memory figure")
    add("--repeats", type=positive, default=5, help="wrk runs per mix and condition; medians are printed")
    add("--duration", type=positive, default=4, help="seconds per wrk run")
    add("--connections", type=positive, default=50, help="concurrent wrk connections")
    add("--parts", type=counts, default=[1, 2, 3, 4], help="which parts to run, comma-separated (default 1,2,3,4)")
    args = parser.parse_args(argv)
    if not 0 <= args.follower_share <= 1:
        parser.error("--follower-share: a share from 0 to 1")
    if not set(args.parts) <= {1, 2, 3, 4}:
        parser.error("--parts: numbers from 1 to 4")
    if args.writes * args.seconds > POINTS_MAX - WRITE_BASE:
        parser.error(f"--writes x --seconds must stay within {POINTS_MAX - WRITE_BASE:,} (the board's range)")
    return args


def counts(text: str) -> list[int]:
    return [positive(part) for part in text.split(",") if part.strip()]


def raise_open_files_limit() -> None:
    """As many sockets as the hard limit allows, here and in the servers this process starts."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(args: argparse.Namespace, workdir: Path, wrk: str) -> int:
    with ExitStack() as stack:
        site = prepare(stack, workdir, args.players)
        keys = {scope: make_key(site, scope) for scope in ("server", "admin")}
        server = stack.enter_context(live_server(site, workdir / "server.log"))
        create_games(server, keys["admin"])
        print_machine(args, site, wrk)
        parts = (
            lambda: push_latency(args, server, keys["server"]),
            lambda: match_rooms(args, server, keys["server"]),
            lambda: rest_beside_idle(args, server, keys["server"], wrk),
            lambda: memory_per_socket(args, server),
        )
        for number in args.parts:
            parts[number - 1]()
    return 0  # missed budgets are findings, shown in the output, not a failure of the benchmark


# --- the server, its database and Redis ---------------------------------------------------------


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen
    url: str  # http://127.0.0.1:PORT
    ws_url: str  # ws://127.0.0.1:WS_PORT
    log: Path  # what the server and its processes print

    def last_error(self) -> str:
        """The last line of the last traceback in the log, with the app's frame above it."""
        lines = self.log.read_text(errors="replace").replace("\\n", "\n").splitlines()
        errors = [n for n, line in enumerate(lines) if re.match(r"^\w+(\.\w+)*(Error|Exception): ", line)]
        if not errors:
            return "(none in the server's log)"
        last = errors[-1]
        frames = [line.strip() for line in lines[:last] if line.strip().startswith('File "') and str(ROOT) in line]
        return lines[last].strip() + (f"\n             at {frames[-1].replace(str(ROOT) + '/', '')}" if frames else "")


def prepare(stack: ExitStack, workdir: Path, players: int) -> Site:
    """A redis-server and a SQLite file of their own, migrated, loaded and synced."""
    redis_socket = stack.enter_context(redis_server(workdir))
    database = workdir / "bench.sqlite3"
    site = Site("app", ROOT, app_environment(ROOT, f"sqlite:///{database}", redis_socket) | LIVE_ENV)
    manage(site, "migrate", "--noinput", "--verbosity", "0")
    rng = random.Random(SEED)
    loaded = [(n + 1, f"player{n}") for n in range(players)]
    points = [rng.randint(0, SEEDED_POINTS_MAX) for _ in range(players)]
    load_into_sqlite(database, loaded, points, datetime.now(UTC) - timedelta(hours=1))
    manage(site, "sync_redis")
    return site


def make_key(site: Site, scope: str) -> str:
    return manage(site, "create_api_key", "--name", f"bench-live-{scope}", "--scope", scope).splitlines()[-1].strip()


@contextmanager
def live_server(site: Site, log: Path) -> Iterator[Server]:
    """The server as `make run` starts it, REST and live server, on free ports of 127.0.0.1."""
    port, ws_port = free_port(), free_port()
    ws_url = f"ws://127.0.0.1:{ws_port}"
    env = {**site.env, "PORT": str(port), "WS_PORT": str(ws_port)}
    with log.open("w") as output:
        command = [sys.executable, "-m", "speedrank.serve"]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
    try:
        server = Server(process, f"http://127.0.0.1:{port}", ws_url, log)
        wait_until_healthy(process, "speedrank.wsgi", server.url, log)
        wait_for_live(server, log)
        yield server
    finally:
        stop(process, timeout=20)  # the server stops its workers and its live server


def wait_for_live(server: Server, log: Path) -> None:
    deadline = time.monotonic() + 30
    while not (live_processes(server) and answers_http(server.ws_url)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the live server is not answering after 30s:\n{log.read_text()}")
        time.sleep(0.2)


def answers_http(ws_url: str) -> bool:
    """Whether the live port answers (plain HTTP there is a 404)."""
    parts = urllib.parse.urlsplit(ws_url)
    probe = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
    try:
        probe.request("GET", "/")
        return probe.getresponse().status == 404
    except OSError:
        return False
    finally:
        probe.close()


def live_processes(server: Server) -> list[psutil.Process]:
    """The live server (`speedrank.serve live`) and its granian worker; [] if not running."""
    for child in psutil.Process(server.process.pid).children():
        try:
            if "live" in child.cmdline()[3:4]:
                return [child, *child.children(recursive=True)]
        except psutil.Error:
            continue
    return []


def create_games(server: Server, admin_key: str) -> None:
    """The increment game the matches count wins on, and a quiet game the idle sockets watch."""
    for game_id, operator in ((MATCH_GAME, "increment"), (QUIET_GAME, "best")):
        body = {"game_id": game_id, "name": game_id, "order": "desc", "operator": operator, "min_score": 0,
                "max_score": POINTS_MAX}  # fmt: skip
        post_json(f"{server.url}/v1/games", body, {"X-API-Key": admin_key})


def post_json(url: str, body: dict, headers: dict) -> dict:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json", **headers}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def server_settings(site: Site) -> list[str]:
    """What the server runs with: workers, threads, the coalescing interval, the per-address cap."""
    script = "import django; django.setup(); from django.conf import settings as s; "
    script += "print(s.SERVER_WORKERS, s.SERVER_THREADS, s.LIVE_COALESCE_SECONDS, s.LIVE_CONNECTIONS_PER_IP)"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=site.env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"could not read the server's settings:\n{done.stderr}")
    return done.stdout.split()


def print_machine(args: argparse.Namespace, site: Site, wrk: str) -> None:
    workers, threads, coalesce, cap = server_settings(site)
    args.coalesce = float(coalesce)
    print_host()
    print(f"wrk          {wrk_version(wrk)}")
    print(f"server       granian {granian.__version__}, {workers} workers x {threads} threads (WSGI), write server")
    print(f"live server  granian ASGI, 1 process; LIVE_COALESCE_SECONDS={coalesce}, LIVE_CONNECTIONS_PER_IP={cap}")
    print(f"clients      websockets {websockets.__version__} (asyncio), each set of sockets in a process of its own")
    print(f"open files   {resource.getrlimit(resource.RLIMIT_NOFILE)[0]:,} (RLIMIT_NOFILE, raised to the hard limit)")
    print(f"database     SQLite, written through the write server; {args.players:,} players on {GAME}")
    print()


# --- clients in child processes ------------------------------------------------------------------


@dataclass(frozen=True)
class Child:
    process: multiprocessing.Process
    ready: object  # multiprocessing.Event
    stop: object
    results: object  # multiprocessing.Queue

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while not self.ready.wait(0.2):
            if not self.process.is_alive() or not self.results.empty() or time.monotonic() > deadline:
                self.result()  # raises the child's error
                raise RuntimeError(f"the clients were not ready within {READY_SECONDS:.0f}s")

    def result(self):
        self.stop.set()
        found = self.results.get(timeout=120)
        if isinstance(found, Exception):
            raise RuntimeError(f"a client process failed:\n{found}")
        return found


@contextmanager
def child(work, *args) -> Iterator[Child]:
    """work(*args, ready, stop) run by live_clients.in_child in a process of its own, stopped on the way out."""
    context = multiprocessing.get_context("spawn")
    ready, stop_event, results = context.Event(), context.Event(), context.Queue()
    process = context.Process(target=live_clients.in_child, args=(work, *args, ready, stop_event, results))
    process.daemon = True
    process.start()
    try:
        yield Child(process, ready, stop_event, results)
    finally:
        stop_event.set()
        process.join(timeout=CHILD_STOP_SECONDS)  # it was asked for its result first, unless interrupted
        if process.is_alive():
            process.kill()
            process.join()


@contextmanager
def idle_sockets(server: Server, count: int) -> Iterator[None]:
    """count sockets on the quiet game's top, held open without a word, in a child process."""
    if not count:
        yield
        return
    url = f"{server.ws_url}/v1/ws/leaderboard?game_id={QUIET_GAME}&top=10"
    with child(live_clients.hold_idle, url, count) as holders:
        holders.wait_ready()
        yield
        holders.result()


# --- where the CPU went -------------------------------------------------------------------------


def cpu_by_role(server: Server, clients: Child | None) -> dict[str, float]:
    """CPU seconds (user + system) so far of each process this run started, summed by role."""
    live = {process.pid for process in live_processes(server)}
    seconds: Counter = Counter()
    for process in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            times = process.cpu_times()
            seconds[role_of(process, server, live, clients)] += times.user + times.system
        except psutil.Error:
            continue
    return dict(seconds)


def role_of(process: psutil.Process, server: Server, live: set[int], clients: Child | None) -> str:
    command = " ".join(process.cmdline())
    if process.pid == os.getpid():
        return "bench (writes, rooms)"
    if process.pid in live:
        return "live server"
    if clients is not None and process.pid == clients.process.pid:
        return "client sockets"
    if "redis-server" in command:
        return "redis-server"
    if "run_write_server" in command:
        return "write server"
    return "REST workers" if "speedrank.serve" in command else "other"


def print_cpu(before: dict[str, float], after: dict[str, float], seconds: float) -> None:
    used = {role: (after.get(role, 0) - before.get(role, 0)) / seconds for role in after}
    shown = ", ".join(f"{role} {cores:.2f}" for role, cores in sorted(used.items(), key=lambda item: -item[1]))
    print(f"cpu (cores)  {shown}; all {sum(used.values()):.2f} of {os.cpu_count()}")


# --- 1. push latency -----------------------------------------------------------------------------


@dataclass
class Writes:
    start: float
    acks: list[float | None]  # by write number n: when its 2xx arrived
    failures: Counter

    @property
    def done(self) -> list[float]:
        return sorted(at for at in self.acks if at is not None)


def write_scores(url: str, key: str, rate: int, seconds: int) -> Writes:
    """rate x seconds POST /v1/scores on schedule (write n due at start + n / rate), from
    WRITER_THREADS keep-alive connections; write n is player live{n} scoring WRITE_BASE + n."""
    count, numbers = rate * seconds, itertools.count()
    writes = Writes(time.monotonic() + 0.2, [None] * count, Counter())
    parts = urllib.parse.urlsplit(url)
    headers = {"Content-Type": "application/json", "X-API-Key": key}

    stopping = threading.Event()  # set on Ctrl-C or SIGTERM: the writers stop after the write in hand

    def writer() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while (n := next(numbers)) < count and not stopping.is_set():
            time.sleep(max(writes.start + n / rate - time.monotonic(), 0))
            body = orjson.dumps({"player_id": f"live{n}", "game_id": GAME, "score": WRITE_BASE + n})
            connection.request("POST", "/v1/scores", body, headers)
            answer = connection.getresponse()
            answer.read()
            if 200 <= answer.status < 300:
                writes.acks[n] = time.monotonic()
            else:
                writes.failures[answer.status] += 1
        connection.close()

    with ThreadPoolExecutor(WRITER_THREADS) as pool:
        try:
            for done in [pool.submit(writer) for _ in range(WRITER_THREADS)]:
                done.result()
        except BaseException:
            stopping.set()
            raise
    return writes


def push_latency(args: argparse.Namespace, server: Server, key: str) -> None:
    followed = random.Random(SEED).sample(range(args.players), round(args.subscribers * args.follower_share))
    top_url = f"{server.ws_url}/v1/ws/leaderboard?game_id={GAME}&top=10"
    urls = [("top", top_url)] * (args.subscribers - len(followed))
    urls += [("rank", f"{top_url}&player_id=player{n}") for n in followed]
    with child(live_clients.subscribe, urls) as subscribers:
        subscribers.wait_ready()
        cpu_before, started = cpu_by_role(server, subscribers), time.monotonic()
        writes = write_scores(server.url, key, args.writes, args.seconds)
        cpu = (cpu_before, cpu_by_role(server, subscribers), time.monotonic() - started)
        time.sleep(SETTLE_SECONDS)
        board = get_json(f"{server.url}/v1/leaderboard?game_id={GAME}&top=10")[1]
        ranks = [rest_rank(server, f"player{n}") for n in followed]
        reports = subscribers.result()
    print_push(args, writes, reports, board, ranks)
    print_cpu(*cpu)
    print()


def rest_rank(server: Server, player_id: str) -> int:
    found = get_json(f"{server.url}/v1/leaderboard/rank?game_id={GAME}&player_id={player_id}&context=0")[1]
    return found["player"]["rank"]


def push_latencies(reports: list[dict], writes: Writes) -> tuple[dict[str, list[float]], list[float]]:
    """Per class, each message's arrival less the acknowledgement of the newest write it shows (a
    TOP's best score names its write; a RANK k places below the first one shows k writes, timed
    from the k-th acknowledgement), skipping messages that show no newer write; for the top
    subscribers also against the oldest write new in the TOP. And the intervals between a
    subscriber's TOPs that show new writes: the live server's refresh cycle while writes go on."""
    found: dict[str, list[float]] = {name: [] for name in PUSH_ROWS}
    intervals, acks, in_order = [], writes.acks, writes.done
    for report in reports:
        who = "top subscribers" if report["kind"] == "top" else "rank followers"
        tops = newer([(at, value - WRITE_BASE) for at, kind, value in report["received"] if kind == "TOP"], len(acks))
        for at, newest, previous in tops:
            found[f"TOP, {who}"] += [at - acks[newest]] if acks[newest] is not None else []
            if who == "top subscribers" and acks[previous + 1] is not None:
                found["TOP, oldest write new"].append(at - acks[previous + 1])
        intervals += [later[0] - earlier[0] for earlier, later in zip(tops, tops[1:], strict=False)]
        ranks = [(at, value - report["first_rank"]) for at, kind, value in report["received"] if kind == "RANK"]
        found["RANK, rank followers"] += [at - in_order[k - 1] for at, k, _ in newer(ranks, len(in_order) + 1) if k]
    return found, intervals


def newer(seen: list[tuple[float, int]], limit: int) -> list[tuple[float, int, int]]:
    """(arrival, value, the value before) of each message whose value passes all before it, below limit."""
    kept, best = [], -1
    for at, value in seen:
        if best < value < limit:
            kept.append((at, value, best))
            best = value
    return kept


def print_push(args, writes: Writes, reports: list[dict], board: dict, ranks: list[int]) -> None:
    done = writes.done
    tops = [r for r in reports if r["kind"] == "top"]
    followers = [r for r in reports if r["kind"] == "rank"]
    print(f"1. PUSH LATENCY: {len(reports):,} subscribers on {GAME}'s top-10 ({len(tops):,} on the top alone,")
    print(f"   {len(followers):,} following a player with scores too), {args.writes:,} writes/s for {args.seconds}s")
    achieved = len(done) / (done[-1] - writes.start) if done else 0.0
    failures = ", ".join(f"{status}: {n}" for status, n in writes.failures.items()) or "none"
    print(f"writes       {len(writes.acks):,} POST /v1/scores from {WRITER_THREADS} keep-alive connections;")
    print(f"             {len(done):,} acknowledged (2xx), achieved {achieved:,.0f} writes/s; failures: {failures}")
    budget = args.coalesce + PUSH_SLACK
    print(f"{'class':<24}{'messages':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  budget p99 <= {budget * 1e3:.0f} ms")
    latencies, intervals = push_latencies(reports, writes)
    for name, seconds in latencies.items():
        print(latency_row(name, seconds, budget))
    print("(arrival at the subscriber less the 2xx of the newest write the message shows, or of the oldest")
    print(" one it shows first; a negative figure is a push that beat the writer's own answer)")
    if intervals:
        print(
            f"TOP interval at a subscriber while writes go on: median {statistics.median(intervals) * 1e3:.0f} ms,",
            end=" ",
        )
        print(f"p99 {p99(intervals) * 1e3:.0f} ms (the coalescing interval is {args.coalesce * 1e3:.0f} ms)")
    expected = {"game_id": board["game_id"], "entries": board["entries"], "total_players": board["total_players"]}
    print(f"after {SETTLE_SECONDS:.0f}s quiet, last TOP equals GET /v1/leaderboard: top subscribers", end=" ")
    print(f"{sum(shown(r['last_top']) == expected for r in tops):,}/{len(tops):,},", end=" ")
    print(f"rank followers {sum(shown(r['last_top']) == expected for r in followers):,}/{len(followers):,}")
    same = sum(r["last_rank"] == rank for r, rank in zip(followers, ranks, strict=True))
    print(f"last RANK equals GET /v1/leaderboard/rank: {same:,}/{len(followers):,}")
    per = statistics.median(len(r["received"]) for r in reports)
    others = sum((Counter(r["others"]) for r in reports), Counter())
    print(f"messages per subscriber: median {per:,.0f}; other messages: {dict(others) or 'none'}")


def shown(top: dict | None) -> dict | None:
    return top and {name: top[name] for name in ("game_id", "entries", "total_players")}


def latency_row(name: str, seconds: list[float], budget: float) -> str:
    if not seconds:
        return f"{name:<24}{0:>10}  (none)"
    tail = p99(seconds)
    verdict = "pass" if tail <= budget else "OVER"
    return (
        f"{name:<24}{len(seconds):>10,}{statistics.median(seconds) * 1e3:>9.1f}{tail * 1e3:>9.1f}"
        f"{max(seconds) * 1e3:>9.1f}  {verdict}"
    )


# --- 2. match rooms ------------------------------------------------------------------------------


def match_rooms(args: argparse.Namespace, server: Server, key: str) -> None:
    plan = live_clients.RoomPlan(server.url, key, MATCH_GAME, args.rooms, args.actions, args.seconds)
    cpu: list[dict[str, float]] = []
    buckets_before = action_buckets(server)
    tally, start, end = asyncio.run(live_clients.play_rooms(plan, SEED, lambda: cpu.append(cpu_by_role(server, None))))
    served = {bound: count - buckets_before.get(bound, 0) for bound, count in action_buckets(server).items()}
    print(f"2. MATCH ROOMS: {args.rooms:,} rooms x 2 players, {args.actions:,} actions/s in all for {args.seconds}s")
    if tally.unseated:
        print(f"NOT SEATED   {sum(tally.unseated.values()):,} match sockets got no greeting: {dict(tally.unseated)}")
        print(f"server log   {server.last_error()}")
    if not tally.matches_started:
        print("NOT MEASURED: no match could be played")
        print()
        return
    print(f"actions      {tally.actions:,} sent, achieved {tally.actions / (end - start):,.0f}/s; matches started")
    print(
        f"             {tally.matches_started:,}, finished on the board {tally.matches_finished:,} (a new one follows)"
    )
    budget = MATCH_BUDGET
    print(f"{'ACTION sent ->':<24}{'actions':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  budget p99 <= 5 ms (server)")
    print(latency_row("the other's STATE", tally.other, budget))
    print(latency_row("the mover's STATE", tally.mover, budget))
    print("(client-side: from the mover's send to the STATE's arrival, so loopback, both clients' event")
    print(" loop and the server's queueing included: an upper bound of the server's own time)")
    print(server_time_row(served, budget))
    print(f"seq          gaps {tally.gaps:,}, duplicates {tally.duplicates:,} over {tally.states:,} STATEs received;")
    print(f"             actions unanswered within 5s {tally.unanswered:,}; errors {dict(tally.errors) or 'none'}")
    print_cpu(cpu[0], cpu[1], end - start)
    print()


def action_buckets(server: Server) -> dict[float, float]:
    """The live server's histogram of its time per applied action, cumulative by upper bound."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {float(bound): float(count) for bound, count in ACTION_BUCKETS.findall(text)}


def server_time_row(served: dict[float, float], budget: float) -> str:
    """The server's own time, action received to broadcast handed over, from its histogram: each
    quantile as the bucket bound it falls under."""
    total = served.get(math.inf, 0)
    if not total:
        return "server's own time: no actions counted (METRICS_ENABLED off?)"
    bounds = sorted(served)

    def under(share: float) -> str:
        bound = next(bound for bound in bounds if served[bound] >= share * total)
        return "> 250" if bound == math.inf else f"<= {bound * 1000:g}"

    within = served.get(budget, 0) / total
    verdict = "pass" if within >= 0.99 else "OVER"
    shares = ", ".join(f"{bound * 1000:g} ms {served[bound] / total:.1%}" for bound in bounds if bound != math.inf)
    return (
        f"server's own time (speedrank_match_action_seconds, {total:,.0f} actions): p50 {under(0.5)} ms,"
        f" p99 {under(0.99)} ms; {within:.1%} within {budget * 1000:g} ms: {verdict}\n"
        f"             share of actions within: {shares}"
    )


# --- 3. REST beside idle sockets -----------------------------------------------------------------


def rest_beside_idle(args: argparse.Namespace, server: Server, key: str, wrk: str) -> None:
    """Each mix without and with the idle sockets, the conditions alternated round by round; with
    the server's CPU per request, which the machine's other work disturbs less than req/s."""
    scenarios = [s for s in SCENARIOS if s.name in WRK_SCENARIOS]
    wrk_args = SimpleNamespace(players=args.players, connections=args.connections)
    for scenario in scenarios:
        run_wrk(wrk, scenario, server.url, wrk_args, WRK_WARM_UP_SECONDS, key)
    results: dict[tuple[str, int], list[dict]] = {}
    for round_number in range(args.repeats):
        for idle in (0, args.rest_idle) if round_number % 2 == 0 else (args.rest_idle, 0):
            with idle_sockets(server, idle):
                for scenario in scenarios:
                    found = run_wrk_with_cpu(wrk, scenario, server, wrk_args, args.duration, key)
                    results.setdefault((scenario.name, idle), []).append(found)
                    rps = found["rps"]
                    print(f"round {round_number + 1} {scenario.name} idle={idle}: {rps:,.0f} req/s", file=sys.stderr)
    print_rest(args, scenarios, results)


SERVER_ROLES = ("REST workers", "write server", "live server", "redis-server")


def run_wrk_with_cpu(wrk: str, scenario, server: Server, wrk_args, seconds: int, key: str) -> dict:
    before = cpu_by_role(server, None)
    found = run_wrk(wrk, scenario, server.url, wrk_args, seconds, key)
    after = cpu_by_role(server, None)
    used = {role: after.get(role, 0) - before.get(role, 0) for role in SERVER_ROLES}
    requests = found["rps"] * seconds
    return found | {"cpu_us": sum(used.values()) / requests * 1e6, "live_cores": used["live server"] / seconds}


def print_rest(args, scenarios, results: dict[tuple[str, int], list[dict]]) -> None:
    print(f"3. REST BESIDE IDLE WEBSOCKETS: wrk -t2 -c{args.connections}, {args.duration}s runs, medians of")
    print(f"   {args.repeats}, without and with {args.rest_idle:,} idle sockets (on {QUIET_GAME}'s top), alternated")
    print(f"{'':<8}{'without':^24}{f'with {args.rest_idle:,} idle sockets':^32}")
    print(f"{'mix':<8}{'req/s':>8}{'p99 ms':>8}{'cpu µs':>8}{'req/s':>9}{'p99 ms':>8}{'cpu µs':>8}{'live':>7}", end="")
    print(f"{'req/s ratio':>13}{'cpu ratio':>11}  budget: req/s within 5 %")
    for scenario in scenarios:
        bare, idle = (results[(scenario.name, n)] for n in (0, args.rest_idle))
        rps, tail, cpu = (median_of(bare, key) for key in ("rps", "p99_ms", "cpu_us"))
        rps_idle, tail_idle, cpu_idle, live = (
            median_of(idle, key) for key in ("rps", "p99_ms", "cpu_us", "live_cores")
        )
        errors = sum(r["errors"] for r in bare + idle)
        verdict = "pass" if rps_idle >= (1 - REST_BUDGET) * rps else "OVER"
        print(
            f"{scenario.name:<8}{rps:>8,.0f}{tail:>8.1f}{cpu:>8.0f}{rps_idle:>9,.0f}{tail_idle:>8.1f}{cpu_idle:>8.0f}"
            f"{live:>7.3f}{rps_idle / rps:>13.3f}{cpu_idle / cpu:>11.3f}  {verdict}; errors {errors}"
        )
    for scenario in scenarios:
        for idle in (0, args.rest_idle):
            runs = ", ".join(f"{run['rps']:,.0f}" for run in results[(scenario.name, idle)])
            print(f"{scenario.name} runs, {'with' if idle else 'without'} idle sockets: {runs} req/s")
    print("cpu µs: the server's CPU per request (REST workers, write server, live server, redis-server);")
    print("live: the live server's CPU in cores during the runs with the idle sockets open")
    print()


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


# --- 4. memory per idle socket -------------------------------------------------------------------


def memory_per_socket(args: argparse.Namespace, server: Server) -> None:
    print("4. LIVE SERVER MEMORY PER IDLE SOCKET: RSS of `speedrank.serve live` and its granian worker")
    print(f"{'sockets':>9}{'RSS before':>13}{'RSS open':>13}{'bytes/socket':>14}{'RSS closed':>13}")
    for count in args.idle:
        before = live_rss(server)
        with idle_sockets(server, count):
            time.sleep(1)
            opened = live_rss(server)
        time.sleep(1)
        closed = live_rss(server)
        print(f"{count:>9,}{mib(before):>13}{mib(opened):>13}{(opened - before) / count:>14,.0f}{mib(closed):>13}")
    print()


def live_rss(server: Server) -> int:
    total = 0
    for process in live_processes(server):
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


if __name__ == "__main__":
    sys.exit(main())
