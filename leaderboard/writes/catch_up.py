"""The catch-up: a background thread of the process that replays the scores whose mirror failed
once Redis answers again, replays the entries changed lately and rebuilds the boards Redis does
not hold whole when the process starts, rebuilds a board a read found not whole, and rebuilds
every board if Redis restarted or lost data meanwhile."""

import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connections

from .. import redis_store
from ..exceptions import BoardUnavailable
from ..models import Board
from .rebuild import boards_not_whole, rebuild_boards, recover_if_needed
from .replay import drain_pending_mirrors, replay_recent_entries

logger = logging.getLogger(__name__)

REPLAY_LOCK_SECONDS = 10


class CatchUp:
    """Runs rounds every MIRROR_CATCH_UP_INTERVAL until one drains the backlog and nothing since
    asked for another; scheduling it again while it runs asks for one more round."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = False
        self._wanted = False
        self._replay_recent = False
        self._check_boards = False
        self._rebuild: set[str] = set()
        # Since a mirror failed, until a round drains the backlog into Redis again.
        self.backlogged = False

    @property
    def running(self) -> bool:
        return self._running

    def schedule(self, *, replay_recent: bool = False, check_boards: bool = False, rebuild: str | None = None) -> None:
        """Make sure a round runs soon. With replay_recent, it also replays the entries changed in
        the last MIRROR_REPLAY_SECONDS (a process before this one may have died before mirroring);
        with check_boards, it rebuilds every board Redis does not hold whole; with rebuild, that board."""
        with self._lock:
            self._wanted = True
            self._replay_recent = self._replay_recent or replay_recent
            self._check_boards = self._check_boards or check_boards
            self._rebuild.update([rebuild] if rebuild else [])
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._loop, name="speedrank-catch-up", daemon=True).start()

    def fell_behind(self) -> None:
        self.backlogged = True

    def _loop(self) -> None:
        try:
            while True:
                time.sleep(settings.MIRROR_CATCH_UP_INTERVAL)
                if self._round_finished():
                    return
        finally:
            with self._lock:
                self._running = False
                again = self._wanted
            connections.close_all()
            if again:
                self.schedule()

    def _round_finished(self) -> bool:
        """One round: True once the backlog is drained and no failure since asked for another."""
        with self._lock:
            self._wanted = False
        if not self._caught_up():
            return False
        self.backlogged = False  # Redis took the backlog: new mirrors try it again
        with self._lock:
            return not self._wanted

    def _caught_up(self) -> bool:
        try:
            drain_pending_mirrors()
            # Processes that start together replay once, not once each; one that starts later, as
            # the replacement of one that died, replays again.
            if self._replay_recent and redis_store.take_lock("replay-recent", REPLAY_LOCK_SECONDS):
                replay_recent_entries(seconds=settings.MIRROR_REPLAY_SECONDS)
            self._replay_recent = False
            self._rebuild_boards()
        except BoardUnavailable:
            return False
        except DatabaseError:
            logger.exception("catch-up could not read the backlog")
            return False
        return True

    def _rebuild_boards(self) -> None:
        """Rebuild every board if Redis lost data (recovery), else the boards asked for; if Redis or
        SQL fails, they stay asked for, for the next round."""
        with self._lock:
            check, wanted = self._check_boards, set(self._rebuild)
        if not recover_if_needed():
            boards = boards_not_whole() if check else []
            boards += [board for board in Board.objects.filter(slug__in=wanted) if board not in boards]
            rebuilt = rebuild_boards(boards)
            if rebuilt:
                logger.warning("rebuilt the boards redis did not hold whole: %s", rebuilt, extra={"event": "rebuild"})
        with self._lock:
            self._check_boards = self._check_boards and not check
            self._rebuild -= wanted
