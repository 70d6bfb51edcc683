"""Seasons: how long closing a period takes, and what a read of the closed period costs, for
boards of growing size.

Each size gets a SQLite database of its own in a temporary directory, migrated, with that many
players on `default` (as bench_export.py loads them). A process of its own then closes the open
period in SQL (the closing job's transaction: every entry archived with its rank, the winners
kept, the next period opened) and times it, then times reads of the closed period's standings
(a page at the top, a page from the middle, a player's neighbourhood from the middle), each the
median of REPEATS. A read should cost the same at every size: O(log n + k), no scan.

    python benchmarks/bench_seasons.py [--sizes 10000,100000,1000000]
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_export import LOAD, run  # noqa: E402  (beside this file)

CLOSE = """
import json, statistics, sys, time
import django
django.setup()
from django.db import connection
from leaderboard import archive, writes
from leaderboard.models import Period
from leaderboard.services.periods import ClosePeriod, DueNow

size, repeats = int(sys.argv[1]), int(sys.argv[2])
period_id = writes.commit(DueNow("default"))
started = time.perf_counter()
closed = writes.commit(ClosePeriod(period_id))
close_seconds = time.perf_counter() - started
period = Period.objects.select_related("board").get(id=period_id)
assert closed.now and period.players == size, (closed, period.players)

def median_ms(read):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000

middle = size // 2
with connection.cursor() as cursor:
    cursor.execute(
        "SELECT p.username FROM leaderboard_periodstanding s JOIN leaderboard_player p ON p.id = s.player_id"
        ' WHERE s.period_id = %s AND s."rank" = %s', [period_id, middle],
    )
    (player,) = cursor.fetchone()
print(json.dumps({
    "close": close_seconds,
    "top": median_ms(lambda: archive.page(period, top=10, offset=0)),
    "middle": median_ms(lambda: archive.page(period, top=10, offset=middle)),
    "around": median_ms(lambda: archive.neighbourhood(period, player_id=player, context=5)),
}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="board sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=201, help="reads timed per kind, the median shown")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    print(f"python {sys.version.split()[0]}, SQLite; each size in a database and a process of its own")
    print(f"reads of the closed period: medians of {arguments.repeats}, in ms")
    print(f"{'players':>10} {'close s':>8} {'top 10':>8} {'page mid':>9} {'around mid':>11}")
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="speedrank-seasons-") as workdir:
            database = Path(workdir) / "bench.sqlite3"
            env = {
                **os.environ, "DJANGO_SETTINGS_MODULE": "speedrank.settings", "DATABASE_URL": f"sqlite:///{database}",
                "JOB_WORKERS": "0", "WRITE_SERVER": "0",
            }  # fmt: skip
            run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
            run([sys.executable, "-c", LOAD, str(database), str(size)], env)
            answer = run([sys.executable, "-c", CLOSE, str(size), str(arguments.repeats)], env)
            found = json.loads(answer.splitlines()[-1])
        print(
            f"{size:>10,} {found['close']:>8.1f} {found['top']:>8.3f} {found['middle']:>9.3f} {found['around']:>11.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
