"""manage.py sync_redis: rebuild boards in Redis from SQL, or --check them for drift."""

import logging

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ... import services
from ...exceptions import BoardNotFound, BoardUnavailable, RebuildInProgress
from ...writes.rebuild import DRIFT_EXAMPLES

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Rebuild every board (or --board NAME: a game, with its region shards) in Redis from SQL; "
        "--check reports drift without writing, a line per board."
    )

    def add_arguments(self, parser):
        parser.add_argument("--board", metavar="NAME", help="only this board (its slug)")
        parser.add_argument("--check", action="store_true", help="compare SQL and Redis; exit 1 on drift")
        parser.add_argument(
            "--catch-up", action="store_true",
            help="no rebuild: replay queued mirrors and the entries changed in the last --seconds",
        )  # fmt: skip
        parser.add_argument("--seconds", type=int, default=600, help="how far back --catch-up replays (default 600)")

    def handle(self, *args, board=None, check=False, catch_up=False, seconds=600, **options):
        try:
            boards = services.boards(board)
            if catch_up:
                self._catch_up(seconds)
            elif check:
                self._check_all(boards)
            elif board is None:  # every board: recorded as built in this Redis, as it was at the start
                with services.rebuilding_all_boards():
                    for each in boards:
                        self._rebuild(each)
            else:
                self._rebuild(boards[0])
        except (BoardNotFound, BoardUnavailable, RebuildInProgress) as error:
            raise CommandError(str(error)) from error

    def _catch_up(self, seconds: int) -> None:
        queued = services.drain_pending_mirrors()
        recent = services.replay_recent_entries(seconds=seconds)
        self.stdout.write(f"caught up: {queued} queued scores and {recent} entries changed in the last {seconds}s")

    def _check_all(self, boards) -> None:
        drifted = [shard.name for board in boards for shard in services.shards(board) if self._check(board, shard)]
        if drifted:
            raise CommandError(f"drift in {', '.join(drifted)}; run `manage.py sync_redis` to repair it")

    def _rebuild(self, board) -> None:
        for shard in services.shards(board):
            with tqdm(desc=f"rebuild {shard.name}", unit=" players", file=self.stderr, disable=None) as bar:
                result = services.rebuild_shard(board=board, shard=shard, progress=bar.update)
            self._rebuilt(result)

    def _rebuilt(self, result) -> None:
        self.stdout.write(f"{result.board}: rebuilt {result.players} players in {result.seconds:.2f}s")
        logger.info(
            "rebuilt %s", result.board,
            extra={"event": "rebuild", "board": result.board, "players": result.players, "seconds": result.seconds},
        )  # fmt: skip

    def _check(self, board, shard) -> bool:
        drift = services.check_shard(board=board, shard=shard)
        self.stdout.write(
            f"{drift.board}: checked {drift.checked} players: {len(drift.missing)} missing, "
            f"{len(drift.wrong)} wrong, {len(drift.extra)} extra, on {drift.held_by}"
        )
        for member in drift.missing[:DRIFT_EXAMPLES]:
            self.stdout.write(f"  missing {member!r}")
        for member, expected, found in drift.wrong[:DRIFT_EXAMPLES]:
            self.stdout.write(f"  wrong   {member!r}: SQL {expected}, Redis {found}")
        for member in drift.extra[:DRIFT_EXAMPLES]:
            self.stdout.write(f"  extra   {member!r}")
        return not drift.clean
