"""bench_scale's sharded run: one game's players over 5 region boards on a loopback Redis Cluster
(3 masters, 3 replicas), read through the app's selectors as the exact global view, side by side
with the same number of players on one board of one Redis."""

import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

from django.test import override_settings

import leaderboard
from benchmarks.bench_reads import timings
from benchmarks.common import micro, p99
from leaderboard import redis_store
from leaderboard.limits import TOP_PLAYERS_COUNT
from leaderboard.redis_store.client import execute
from leaderboard.rules import BoardRules

CLUSTER_SCRIPT = Path(__file__).resolve().parent.parent / "speedrank" / "scripts" / "redis_cluster.sh"
REGIONS = ("na", "eu", "apac", "sa", "me")
GAME = "scale-regions"
ZADD_ENTRIES = 1_000
ZADDS_PER_CALL = 20
CONTEXT = 5
WARM_UP_CALLS = 200
SWITCH_WARM_UP_CALLS = 20  # after each switch between the two Redis setups: new connections
ROUNDS = 20
PROJECTED_PLAYERS = 50_000_000
READS = ("global top-10", "global rank", "rank, context 5")


@dataclass(frozen=True)
class Setup:
    """One of the two things compared: its Redis settings, and the game its reads read."""

    name: str
    settings: dict
    game: str
    players: int
    bytes_per_player: float


@contextmanager
def loopback_cluster() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="speedrank-scale-cluster-") as workdir:
        started = subprocess.run([CLUSTER_SCRIPT, "start", workdir], capture_output=True, text=True)
        if started.returncode:
            raise RuntimeError(f"the loopback cluster did not start: {started.stderr}")
        try:
            yield started.stdout.strip().splitlines()[-1]
        finally:
            subprocess.run([CLUSTER_SCRIPT, "stop", workdir], check=True)


def load_regions(players: int, rules: BoardRules, rng: random.Random) -> float:
    """The game's own board and one per region, published as the app creates them, then each
    player's one score on a random region; returns the seconds it took."""
    rules = BoardRules(rules.order, rules.operator, rules.min_score, rules.max_score, REGIONS)
    started = time.perf_counter()
    for board in redis_store.game_boards(GAME, rules):
        redis_store.publish_board(board, rules)
    boards = redis_store.region_boards(GAME, REGIONS)
    batch = ZADD_ENTRIES * ZADDS_PER_CALL
    for start in range(0, players, batch):
        commands = []
        for first in range(start, min(start + batch, players), ZADD_ENTRIES):
            entries = [
                (
                    redis_store.encode(rules.rank_value(rng.randint(rules.min_score, rules.max_score)), n + 1),
                    f"player{n}",
                )
                for n in range(first, min(first + ZADD_ENTRIES, players))
            ]
            commands.append(("ZADD", redis_store.board_key(rng.choice(boards)), *chain.from_iterable(entries)))
        execute(commands)
        if start % 1_000_000 == 0:
            print(f"  {start:,} of {players:,}", file=sys.stderr, flush=True)
    return time.perf_counter() - started


def masters_memory() -> dict[str, int]:
    """used_memory of each master, by address."""
    client = redis_store.client()
    return {node.name: node.redis_connection.info("memory")["used_memory"] for node in client.get_primaries()}


def placement() -> dict[str, str]:
    """The master holding each region's board."""
    serving = redis_store.masters()
    return {
        region: redis_store.master_of(redis_store.shard(GAME, region, REGIONS), serving).address for region in REGIONS
    }


def reads(setup: Setup, rng: random.Random, calls: int) -> dict[str, Callable[[], object]]:
    ranked = iter([f"player{rng.randrange(setup.players)}" for _ in range(calls)])
    around = iter([f"player{rng.randrange(setup.players)}" for _ in range(calls)])
    selectors = leaderboard.selectors
    return {
        "global top-10": lambda: selectors.leaderboard_page(
            game_id=setup.game, top=TOP_PLAYERS_COUNT, offset=0, count_players=False
        ),
        "global rank": lambda: selectors.neighbourhood(game_id=setup.game, player_id=next(ranked), context=0),
        "rank, context 5": lambda: selectors.neighbourhood(game_id=setup.game, player_id=next(around), context=CONTEXT),
    }


def check(setup: Setup) -> None:
    """Fail before timing if a read is not what the figures claim: the global view's total is
    every player, and a player's rank alone and with neighbours agree."""
    with override_settings(**setup.settings):
        page = leaderboard.selectors.leaderboard_page(game_id=setup.game, top=TOP_PLAYERS_COUNT, offset=0)
        if page.total_players != setup.players or len(page.standings) != TOP_PLAYERS_COUNT:
            raise AssertionError(f"{setup.name}: {page.total_players:,} players, {len(page.standings)} on top")
        middle = f"player{setup.players // 2}"
        alone = leaderboard.selectors.neighbourhood(game_id=setup.game, player_id=middle, context=0)
        around = leaderboard.selectors.neighbourhood(game_id=setup.game, player_id=middle, context=CONTEXT)
        if alone.player != around.player or len(around.above) != CONTEXT:
            raise AssertionError(f"{setup.name}: rank {alone.player} and with neighbours {around.player} disagree")


def time_side_by_side(setups: list[Setup], rng: random.Random, repeats: int) -> dict[str, dict[str, list[float]]]:
    """Seconds of each timed call, per setup and read, in rounds that take turns between setups."""
    calls = {setup.name: reads(setup, rng, WARM_UP_CALLS + repeats + SWITCH_WARM_UP_CALLS * ROUNDS * 3)
             for setup in setups}  # fmt: skip
    samples = {setup.name: {label: [] for label in READS} for setup in setups}
    per_round = math.ceil(repeats / ROUNDS)
    for round_number, start in enumerate(range(0, repeats, per_round)):
        for setup in setups:
            with override_settings(**setup.settings):
                for label, read in calls[setup.name].items():
                    warm = WARM_UP_CALLS if round_number == 0 else SWITCH_WARM_UP_CALLS
                    for _ in range(warm):
                        read()
                    samples[setup.name][label] += timings(read, min(per_round, repeats - start))
    return samples


def print_comparison(setups: list[Setup], samples: dict[str, dict[str, list[float]]]) -> None:
    print()
    print(f"{'':>34}" + "".join(f"{label + ' (µs)':>22}" for label in READS))
    print(f"{'':<24}{'bytes/player':>14}" + f"{'median':>12}{'p99':>10}" * len(READS))
    for setup in setups:
        cells = "".join(
            f"{micro(statistics.median(samples[setup.name][label])):>12}{micro(p99(samples[setup.name][label])):>10}"
            for label in READS
        )
        print(f"{setup.name:<24}{setup.bytes_per_player:>14,.1f}{cells}")
    single, sharded = setups
    print()
    print(f"{sharded.name} / {single.name}, ratio of medians:")
    for label in READS:
        ratio = statistics.median(samples[sharded.name][label]) / statistics.median(samples[single.name][label])
        print(f"  {label:<18}{ratio:>6.2f}x")


def print_projection(
    players: int,
    grown: dict[str, int],
    where: dict[str, str],
    samples: dict[str, list[float]],
    growth: dict[str, float],
) -> None:
    """Memory per master and latency at PROJECTED_PLAYERS, scaled from the measured run: memory
    linearly; latency by the growth per tenfold size measured on one board (`growth`), over the
    log10 of the scale."""
    scale = PROJECTED_PLAYERS / players
    print()
    print(f"where the regions' boards are: {', '.join(f'{region} on {master}' for region, master in where.items())}")
    print(f"PROJECTION to {PROJECTED_PLAYERS:,} players over the same {len(REGIONS)} regions and 3 masters "
          f"(not measured: scaled from {players:,}):")  # fmt: skip
    for master in sorted(grown):
        print(
            f"  {master}: boards {grown[master] / 2**20:,.0f} MiB now,"
            f" {grown[master] * scale / 2**30:,.2f} GiB projected"
        )
    for label in READS:
        factor = growth[label] ** math.log10(scale)
        median, tail = statistics.median(samples[label]), p99(samples[label])
        print(f"  {label:<18} median {micro(median)} -> {micro(median * factor)} µs, "
              f"p99 {micro(tail)} -> {micro(tail * factor)} µs (x{factor:.2f})")  # fmt: skip


def run(single: Setup, players: int, rules: BoardRules, repeats: int, rng: random.Random,
        growth: dict[str, float]) -> None:  # fmt: skip
    """Load the sharded game on a loopback cluster, then time it side by side with `single`."""
    print(f"starting a loopback Redis Cluster and loading {players:,} players over {len(REGIONS)} regions",
          file=sys.stderr, flush=True)  # fmt: skip
    with loopback_cluster() as url:
        cluster = {"REDIS_URL": url, "REDIS_CLUSTER": True}
        with override_settings(**cluster):
            empty = masters_memory()
            seconds = load_regions(players, rules, rng)
            grown = {master: used - empty[master] for master, used in masters_memory().items()}
            where = placement()
        print(f"loaded in {seconds:.1f} s", file=sys.stderr, flush=True)
        sharded = Setup(f"{len(REGIONS)} regions, cluster", cluster, GAME, players, sum(grown.values()) / players)
        for setup in (single, sharded):
            check(setup)
        samples = time_side_by_side([single, sharded], rng, repeats)
    print_comparison([single, sharded], samples)
    print_projection(players, grown, where, samples[sharded.name], growth)
