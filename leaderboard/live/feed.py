"""The boards this process's clients watch, fed by Redis's announcements of changes: each watched
board is read again at most once per coalescing interval (and once after its last change), and
each watcher is offered the new top."""

import asyncio
import logging
import time
from collections.abc import Callable

from django.conf import settings

from .. import selectors
from ..exceptions import PlayerNotRanked
from .watchers import TopWatcher

logger = logging.getLogger(__name__)


class BoardFeed:
    """One per process, told by the process's Listener which games changed."""

    def __init__(self, read_top: Callable[..., selectors.Page] = selectors.leaderboard_page):
        self.read_top = read_top
        self._watchers: dict[str, set[TopWatcher]] = {}
        self._refreshing: dict[str, asyncio.Task] = {}
        self._again: set[str] = set()

    async def stop(self) -> None:
        for task in self._refreshing.values():
            task.cancel()

    def watch(self, watcher: TopWatcher) -> None:
        self._watchers.setdefault(watcher.game_id, set()).add(watcher)

    def unwatch(self, watcher: TopWatcher) -> None:
        watchers = self._watchers.get(watcher.game_id, set())
        watchers.discard(watcher)
        if not watchers:
            self._watchers.pop(watcher.game_id, None)

    def resubscribed(self) -> None:
        """Announcements may have been lost: every watched game is read again."""
        for game in list(self._watchers):
            self.changed(game)

    def changed(self, game: str) -> None:
        """The game's board changed: read it again now, or once the read in hand and the
        coalescing interval after it are over."""
        if game not in self._watchers:
            return
        if game in self._refreshing:
            self._again.add(game)
            return
        self._refreshing[game] = asyncio.create_task(self._refresh(game))

    async def _refresh(self, game: str) -> None:
        try:
            while True:
                started = time.monotonic()
                self._again.discard(game)
                await self._offer_tops(game)
                await asyncio.sleep(max(settings.LIVE_COALESCE_SECONDS - (time.monotonic() - started), 0))
                if game not in self._again:
                    return
        finally:
            self._refreshing.pop(game, None)

    async def _offer_tops(self, game: str) -> None:
        """Each distinct top the game's watchers follow, and each player they follow, read once
        and offered to each watcher that follows it."""
        watchers = list(self._watchers.get(game, ()))
        for top, region in {(watcher.top, watcher.region) for watcher in watchers}:
            page = await self._read(game, self.read_top, game_id=game, top=top, offset=0, region=region)
            for watcher in watchers:
                if page is not None and (watcher.top, watcher.region) == (top, region):
                    watcher.offer(page)
        for player, region in {(w.player_id, w.region) for w in watchers if w.player_id is not None}:
            found = await self._read(game, standing_of, game_id=game, player_id=player, region=region)
            for watcher in watchers:
                if (watcher.player_id, watcher.region) == (player, region):
                    watcher.offer_standing(found)

    async def _read(self, game: str, read, **query):
        try:
            return await asyncio.to_thread(read, **query)
        except Exception as error:  # noqa: BLE001  the next change reads it again
            logger.warning("live: could not read %s: %s", game, error)
            return None


def standing_of(*, game_id: str, player_id: str, region: str | None) -> selectors.Neighbourhood | None:
    """The player's standing with a neighbour on each side, or None if not ranked."""
    try:
        return selectors.neighbourhood(game_id=game_id, player_id=player_id, context=1, region=region)
    except PlayerNotRanked:
        return None
