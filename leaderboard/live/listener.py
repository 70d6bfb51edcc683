"""A live server process's one subscription to Redis's announcements, handing each to whom it
concerns: changed boards to the BoardFeed, published match states to the MatchRooms."""

import asyncio
import logging

from .. import redis_store
from .feed import BoardFeed
from .rooms import MatchRooms

logger = logging.getLogger(__name__)


class Listener:
    """Started with the process's first WebSocket, in the server's event loop."""

    def __init__(self, feed: BoardFeed, rooms: MatchRooms):
        self.feed, self.rooms = feed, rooms
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen(), name="speedrank-live-listener")
            self._task.add_done_callback(_log_failure)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _listen(self) -> None:
        async for heard in redis_store.announcements():
            if heard.kind == redis_store.CHANGED:
                self.feed.changed(heard.subject)
            elif heard.kind == redis_store.MATCH:
                self.rooms.published(heard.subject, heard.payload)
            else:
                self.feed.resubscribed()
                self.rooms.resubscribed()


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("live: the listener stopped", exc_info=task.exception())
