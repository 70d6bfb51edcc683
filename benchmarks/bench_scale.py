"""Whether the board's reads stay flat as it grows: top-10, rank and neighbours, and Redis memory per player.

Run as `python benchmarks/bench_scale.py [--sizes 10000,1000000,10000000] [--repeats R] [--sharded N]`
(`make bench-scale`): it starts its own redis-server in a temporary directory, loads each board
straight into Redis, prints medians and p99s per size, and leaves nothing behind. With --sharded N,
it also loads N players over 5 regions on a loopback Redis Cluster and reads their exact global
view side by side with N players on one board (benchmarks/sharded.py).
"""

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts benchmarks/ on sys.path, not the project that holds bench_reads.
sys.path.insert(0, str(ROOT))

import leaderboard  # noqa: E402  (its selectors are imported by bench_reads.setup_django())
from benchmarks.bench_reads import REDIS_READS, print_reads, timings, used_memory, with_private_redis  # noqa: E402
from benchmarks.common import micro, p99, positive, print_environment, print_host  # noqa: E402
from leaderboard import redis_store  # noqa: E402  (needs no django.setup())
from leaderboard.limits import DEFAULT_BOARD_SLUG, TOP_PLAYERS_COUNT  # noqa: E402
from leaderboard.rules import BoardRules  # noqa: E402

SEED = 20_240_601
DEFAULT_SIZES = "10000,1000000,10000000"
# Entries per ZADD, and ZADDs per pipeline call: 10,000 entries a round trip.
ZADD_ENTRIES = 1_000
ZADDS_PER_CALL = 10
WARM_UP_CALLS = 200
# Timed calls are spread over rounds that go through every board and read in turn, so a noisy
# spell on a shared machine lands on all of them instead of on one size.
ROUNDS = 20
NEIGHBOUR_CONTEXT = 5  # the v1 neighbours read's default context
TARGET_RATIO = 1.3
# Each read timed, and the selector call behind it, printed with the machine.
READS = {
    **REDIS_READS,
    "neighbours": f"neighbourhood(context={NEIGHBOUR_CONTEXT}), the v1 rank read at its default context",
}
PASSED_THROUGH = ("REDIS_SOCKET_TIMEOUT", "REDIS_CONNECT_TIMEOUT")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print_machine(args)
    return with_private_redis("speedrank-scale-", lambda: run(args.sizes, args.repeats, args.sharded))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=sizes, default=sizes(DEFAULT_SIZES), help="comma-separated board sizes")
    parser.add_argument("--repeats", type=positive, default=2_000, help="timed calls per read and size")
    parser.add_argument("--sharded", type=int, default=0, help="players of the sharded run on a cluster; 0: none")
    return parser.parse_args(argv)


def sizes(text: str) -> list[int]:
    return sorted({positive(part) for part in text.split(",") if part.strip()})


def print_machine(args: argparse.Namespace) -> None:
    print_host()
    print(f"sizes        {'; '.join(f'{size:,}' for size in args.sizes)} players")
    print(f"repeats      {args.repeats:,} timed calls per read and size, after {WARM_UP_CALLS} warm-up calls")
    print_reads(READS)
    print_environment(PASSED_THROUGH)
    print(flush=True)  # before the progress lines on stderr


# --- loading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    size: int
    slug: str
    seconds: float
    bytes_per_player: float


def load(size: int, rules: BoardRules, rng: random.Random) -> Loaded:
    """A board of `size` players under the default board's rules, published as the app creates one, then filled."""
    slug = f"scale-{size}"
    print(f"loading {size:,} players into board {slug}", file=sys.stderr, flush=True)
    empty, started = used_memory(), time.perf_counter()
    # Without its header the board is not whole, and every read of it fails.
    redis_store.publish_board(slug, rules)
    fill(slug, rules, size, rng)
    loaded = Loaded(size, slug, time.perf_counter() - started, (used_memory() - empty) / size)
    check(loaded)
    return loaded


def fill(slug: str, rules: BoardRules, size: int, rng: random.Random) -> None:
    # In player order, so scores arrive in random order as live submissions do: a rebuild's best-first
    # run loads about three times faster, but leaves the skiplist laid out in rank order.
    key, batch = redis_store.board_key(slug), ZADD_ENTRIES * ZADDS_PER_CALL
    pipe = redis_store.client().pipeline(transaction=False)
    for start in range(0, size, batch):
        for first in range(start, min(start + batch, size), ZADD_ENTRIES):
            entries = random_entries(rules, range(first, min(first + ZADD_ENTRIES, size)), rng)
            pipe.execute_command("ZADD", key, *chain.from_iterable(entries))
        pipe.execute()


def random_entries(rules: BoardRules, players: range, rng: random.Random) -> list[redis_store.Entry]:
    # Player n's one score has id n + 1, so at equal points the lower n ranks first.
    return [
        (redis_store.encode(rules.rank_value(rng.randint(rules.min_score, rules.max_score)), n + 1), f"player{n}")
        for n in players
    ]


def check(board: Loaded) -> None:
    """Fail before timing if the board or the reads are not what the figures claim."""
    if (found := redis_store.total_members(board.slug)) != board.size:
        raise AssertionError(f"expected {board.size:,} entries on {board.slug}, found {found:,}")
    if len(top_10(board.slug).standings) != min(board.size, TOP_PLAYERS_COUNT):
        raise AssertionError(f"leaderboard_page() on {board.slug} did not return the top {TOP_PLAYERS_COUNT}")
    username = f"player{board.size // 2}"
    ranked = leaderboard.selectors.neighbourhood(game_id=board.slug, player_id=username, context=0).player
    around = leaderboard.selectors.neighbourhood(game_id=board.slug, player_id=username, context=NEIGHBOUR_CONTEXT)
    if around.player != ranked:
        raise AssertionError(f"neighbourhood at context 0 {ranked} and {NEIGHBOUR_CONTEXT} {around.player} disagree")


# --- timing -----------------------------------------------------------------------------


def reads(board: Loaded, rng: random.Random, calls: int) -> dict[str, Callable[[], object]]:
    """The three reads through the app's selectors, rank and neighbours for a random player each call."""
    ranked, around = random_players(board.size, rng, calls), random_players(board.size, rng, calls)
    return {
        "top-10": lambda: top_10(board.slug),
        "rank": lambda: leaderboard.selectors.neighbourhood(game_id=board.slug, player_id=next(ranked), context=0),
        "neighbours": lambda: leaderboard.selectors.neighbourhood(
            game_id=board.slug, player_id=next(around), context=NEIGHBOUR_CONTEXT
        ),
    }


def top_10(slug: str) -> "leaderboard.selectors.Page":
    return leaderboard.selectors.leaderboard_page(game_id=slug, top=TOP_PLAYERS_COUNT, offset=0, count_players=False)


def random_players(size: int, rng: random.Random, count: int) -> Iterator[str]:
    # Drawn before timing, so the timed calls pay for a next() and nothing else.
    return iter([f"player{rng.randrange(size)}" for _ in range(count)])


def time_reads(boards: list[Loaded], rng: random.Random, repeats: int) -> dict[int, dict[str, list[float]]]:
    """Seconds of each timed call, per board size and read, after a warm-up of each."""
    calls = {board.size: reads(board, rng, WARM_UP_CALLS + repeats) for board in boards}
    for read in (read for by_read in calls.values() for read in by_read.values()):
        timings(read, WARM_UP_CALLS)
    samples: dict[int, dict[str, list[float]]] = {size: {label: [] for label in READS} for size in calls}
    per_round = math.ceil(repeats / ROUNDS)
    for start in range(0, repeats, per_round):
        for size, by_read in calls.items():
            for label, read in by_read.items():
                samples[size][label] += timings(read, min(per_round, repeats - start))
    return samples


# --- printing ---------------------------------------------------------------------------


def print_table(boards: list[Loaded], samples: dict[int, dict[str, list[float]]]) -> None:
    print()
    print(f"{'':>38}" + "".join(f"{label + ' (µs)':>20}" for label in READS))
    print(f"{'players':>12}{'load s':>9}{'bytes/player':>17}" + f"{'median':>11}{'p99':>9}" * len(READS))
    for board in boards:
        by_read = samples[board.size]
        cells = "".join(
            f"{micro(statistics.median(by_read[label])):>11}{micro(p99(by_read[label])):>9}" for label in READS
        )
        print(f"{board.size:>12,}{board.seconds:>9.2f}{board.bytes_per_player:>17,.1f}{cells}")


def print_ratios(samples: dict[int, dict[str, list[float]]]) -> None:
    smallest, largest = min(samples), max(samples)
    print()
    if smallest == largest:
        print("one size only: no ratio to print")
        return
    print(f"largest / smallest board ({largest:,} / {smallest:,} players), ratio of medians, target {TARGET_RATIO}x:")
    for label in READS:
        ratio = statistics.median(samples[largest][label]) / statistics.median(samples[smallest][label])
        verdict = "within" if ratio <= TARGET_RATIO else "OVER"
        print(f"  {label:<12}{ratio:>6.2f}x  {verdict} {TARGET_RATIO}x")


# --- the run ----------------------------------------------------------------------------


def run(board_sizes: list[int], repeats: int, sharded_players: int) -> int:
    """Load every board, then time the reads on all of them in turn, and print the figures; then
    the sharded run, if asked."""
    # Imported only now: services imports the models, which need django.setup().
    from django.conf import settings

    from benchmarks import sharded
    from leaderboard import services

    default = services.boards(DEFAULT_BOARD_SLUG)[0]
    rng = random.Random(SEED)
    boards = [load(size, default.rules, rng) for size in board_sizes]
    samples = time_reads(boards, rng, repeats)
    print_table(boards, samples)
    print_ratios(samples)
    if sharded_players:
        one = next((board for board in boards if board.size == sharded_players), None)
        one = one or load(sharded_players, default.rules, rng)
        single = sharded.Setup("one board, one Redis", {"REDIS_URL": settings.REDIS_URL, "REDIS_CLUSTER": False},
                               one.slug, one.size, one.bytes_per_player)  # fmt: skip
        sharded.run(single, sharded_players, default.rules, repeats, rng, growth_per_tenfold(samples))
    return 0  # a ratio over the target is a finding, printed, not a failure


def growth_per_tenfold(samples: dict[int, dict[str, list[float]]]) -> dict[str, float]:
    """How much each read's median grew per tenfold board size, from the smallest board to the
    largest, by the sharded run's names of the reads; 1 with one size."""
    smallest, largest = min(samples), max(samples)
    decades = math.log10(largest / smallest) if largest > smallest else 0
    growth = {}
    for sharded_read, read in zip(("global top-10", "global rank", "rank, context 5"), READS, strict=True):
        ratio = statistics.median(samples[largest][read]) / statistics.median(samples[smallest][read])
        growth[sharded_read] = ratio ** (1 / decades) if decades else 1.0
    return growth


if __name__ == "__main__":
    sys.exit(main())
