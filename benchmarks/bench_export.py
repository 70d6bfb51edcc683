"""Exports: how long the export job takes, and its peak memory, for boards of growing size.

Each size gets a SQLite database of its own in a temporary directory, migrated, with that many
players on `default` (one entry each, loaded with plain SQL); the export job
(leaderboard.services.exports.write_export) then runs in a process of its own, which reports its
wall time and peak RSS. The memory should stay flat as the board grows; the target is 1,000,000
players in under 30 s.

    python benchmarks/bench_export.py [--sizes 100000,1000000]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 30

EXPORT = """
import json, resource, time
import django
django.setup()
from leaderboard.models import ApiKey, Board, Export
from leaderboard.services import exports
key = ApiKey.objects.create(name="bench", scope="admin", key_hash="0" * 64)
Export.objects.create(id="exp_bench", board=Board.objects.get(slug="default"), created_by=key)
started = time.perf_counter()
rows = exports.write_export("exp_bench")
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss": peak}))
"""

LOAD = """
import sqlite3, sys
database, count = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(database)
board = db.execute("SELECT id FROM leaderboard_board WHERE slug = 'default'").fetchone()[0]
db.execute("PRAGMA synchronous = OFF")
chunk = 50_000
for start in range(0, count, chunk):
    stop = min(start + chunk, count)
    db.executemany(
        "INSERT INTO leaderboard_player (id, username, created_at) VALUES (?, ?, '2026-01-01 00:00:00')",
        ((n + 1, f"player{n:07d}") for n in range(start, stop)),
    )
    db.executemany(
        "INSERT INTO leaderboard_score (id, board_id, player_id, points, achieved_at)"
        " VALUES (?, ?, ?, ?, '2026-01-02 03:04:05.678901')",
        ((n + 1, board, n + 1, (n * 7919) % 1_000_001) for n in range(start, stop)),
    )
    db.executemany(
        "INSERT INTO leaderboard_boardentry (board_id, player_id, value, reached_seq, submissions, updated_at, region)"
        " VALUES (?, ?, ?, ?, 1, '2026-01-02 03:04:05', '')",
        ((board, n + 1, (n * 7919) % 1_000_001, n + 1) for n in range(start, stop)),
    )
db.commit()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="board sizes, comma-separated")
    sizes = [int(size) for size in parser.parse_args().sizes.split(",")]
    print(f"python {sys.version.split()[0]}, SQLite; the export job in a process of its own per size")
    print(f"{'players':>10} {'load s':>8} {'export s':>9} {'rows/s':>10} {'peak RSS':>10}  target < {TARGET_SECONDS} s")
    failed = False
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="speedrank-export-") as workdir:
            database = Path(workdir) / "bench.sqlite3"
            env = {
                **os.environ, "DJANGO_SETTINGS_MODULE": "speedrank.settings", "DATABASE_URL": f"sqlite:///{database}",
                "EXPORTS_DIR": str(Path(workdir) / "exports"), "JOB_WORKERS": "0",
            }  # fmt: skip
            run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env)
            started = time.perf_counter()
            run([sys.executable, "-c", LOAD, str(database), str(size)], env)
            loaded = time.perf_counter() - started
            outcome = json.loads(run([sys.executable, "-c", EXPORT], env).strip().splitlines()[-1])
        if outcome["rows"] != size:
            print(f"export wrote {outcome['rows']} rows of {size}", file=sys.stderr)
            return 1
        over = size >= 1_000_000 and outcome["seconds"] >= TARGET_SECONDS
        failed |= over
        print(
            f"{size:>10,} {loaded:>8.1f} {outcome['seconds']:>9.1f} {size / outcome['seconds']:>10,.0f}"
            f" {outcome['peak_rss'] / 2**20:>7.0f} MiB  {'OVER' if over else 'pass' if size >= 1_000_000 else ''}"
        )
    return 1 if failed else 0


def run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


if __name__ == "__main__":
    sys.exit(main())
