"""One WebSocket client watching a board's top: the messages it is sent, numbered 1, 2, 3, ... on
its connection, and a queue of one that keeps only the newest top, so a slow client skips the
tops it could not take in time and never holds up the others."""

import asyncio
from collections.abc import Awaitable, Callable

from .. import selectors
from ..api.v1 import renderers

Send = Callable[[dict], Awaitable[None]]


class TopWatcher:
    def __init__(self, send: Send, *, game_id: str, top: int, region: str | None):
        self.game_id, self.top, self.region = game_id, top, region
        self._send = send
        self._seq = 0
        self._last: dict | None = None
        self._newest: dict | None = None
        self._ready = asyncio.Event()

    def offer(self, page: selectors.Page) -> None:
        """A top read from the board: queued for sending (in place of any not sent yet) if it
        differs from the last one queued."""
        top = renderers.page(self.game_id, page)
        if top == self._last:
            return
        self._last = self._newest = top
        self._ready.set()

    async def send(self, message: dict) -> None:
        self._seq += 1
        await self._send({**message, "seq": self._seq})

    async def run(self) -> None:
        """Send the newest queued top whenever there is one, until cancelled."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            top, self._newest = self._newest, None
            if top is not None:
                await self.send({"type": "TOP", **top})
