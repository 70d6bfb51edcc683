"""The boards this process's clients watch, fed by Redis's announcements of changes: each watched
board is read again at most once per coalescing interval (and once after its last change), and
each watcher is offered the new top."""

import asyncio
import logging
import time
from collections.abc import Callable

from django.conf import settings

from .. import selectors
from ..api.v1 import renderers
from .watchers import SharedTop, TopWatcher

logger = logging.getLogger(__name__)


class BoardFeed:
    """One per process, told by the process's Listener which games changed."""

    def __init__(self, read_top: Callable[..., selectors.Page] = selectors.leaderboard_page):
        self.read_top = read_top
        self._watchers: dict[str, set[TopWatcher]] = {}
        self._refreshing: dict[str, asyncio.Task] = {}
        self._again: set[str] = set()
        self._last_tops: dict[tuple[str, int, str | None], SharedTop] = {}  # by (game, top, region)
        self._joined: dict[tuple[str, int, str | None], bool] = {}  # a watcher joined since the last read

    async def stop(self) -> None:
        for task in self._refreshing.values():
            task.cancel()

    def watch(self, watcher: TopWatcher) -> None:
        """From now on, the watcher is offered each new top; the next read offers its top even if
        unchanged, as the watcher's own first read may be older."""
        self._watchers.setdefault(watcher.game_id, set()).add(watcher)
        self._joined[(watcher.game_id, watcher.top, watcher.region)] = True

    def unwatch(self, watcher: TopWatcher) -> None:
        watchers = self._watchers.get(watcher.game_id, set())
        watchers.discard(watcher)
        if not watchers:
            self._watchers.pop(watcher.game_id, None)
            for key in [key for key in self._last_tops if key[0] == watcher.game_id]:
                del self._last_tops[key]
                self._joined.pop(key, None)

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
        """Each distinct top the game's watchers follow read, rendered and encoded once, and offered
        to its watchers only if it changed; then the players they follow, read together."""
        by_top: dict[tuple[int, str | None], list[TopWatcher]] = {}
        by_player: dict[tuple[str, str | None], list[TopWatcher]] = {}
        for watcher in self._watchers.get(game, ()):
            by_top.setdefault((watcher.top, watcher.region), []).append(watcher)
            if watcher.player_id is not None:
                by_player.setdefault((watcher.player_id, watcher.region), []).append(watcher)
        for (top, region), watchers in by_top.items():
            page = await self._read(game, self.read_top, game_id=game, top=top, offset=0, region=region)
            if page is not None:
                self._offer_top(game, top, region, page, watchers)
        if by_player:
            found = await self._read(game, standings_around, game_id=game, players=list(by_player))
            for key, neighbourhood in (found or {}).items():
                for watcher in by_player[key]:
                    watcher.offer_standing(neighbourhood)

    def _offer_top(self, game: str, top: int, region: str | None, page: selectors.Page, watchers) -> None:
        rendered = renderers.page(game, page)
        key = (game, top, region)
        last = self._last_tops.get(key)
        if last is not None and last.top == rendered and not self._joined.get(key):
            return
        shared = last if last is not None and last.top == rendered else SharedTop(rendered)
        self._last_tops[key], self._joined[key] = shared, False
        for watcher in watchers:
            watcher.offer_shared(shared)

    async def _read(self, game: str, read, **query):
        try:
            return await asyncio.to_thread(read, **query)
        except Exception as error:  # noqa: BLE001  the next change reads it again
            logger.warning("live: could not read %s: %s", game, error)
            return None


def standings_around(
    *, game_id: str, players: list[tuple[str, str | None]]
) -> dict[tuple[str, str | None], selectors.Neighbourhood | None]:
    """Each (player, region)'s standing with a neighbour on each side (None: not ranked), read
    together: one round trip a board."""
    regions: dict[str | None, list[str]] = {}
    for player, region in players:
        regions.setdefault(region, []).append(player)
    return {
        (player, region): found
        for region, ids in regions.items()
        for player, found in selectors.neighbourhoods(game_id=game_id, player_ids=ids, context=1, region=region).items()
    }


def standing_of(*, game_id: str, player_id: str, region: str | None) -> selectors.Neighbourhood | None:
    """The player's standing with a neighbour on each side, or None if not ranked."""
    return selectors.neighbourhoods(game_id=game_id, player_ids=[player_id], context=1, region=region)[player_id]
