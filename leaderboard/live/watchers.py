"""One WebSocket client watching a board's top, and perhaps one player on it: the messages it is
sent, numbered 1, 2, 3, ... on its connection. Its queue keeps only the newest TOP and the newest
RANK (a slow client skips states it could not take in time, and never holds up the others), and
the last few OVERTAKEN events."""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from .. import selectors
from ..api.v1 import renderers

Send = Callable[[dict], Awaitable[None]]
OVERTAKEN_KEPT = 10


class TopWatcher:
    def __init__(self, send: Send, *, game_id: str, top: int, region: str | None, player_id: str | None = None):
        self.game_id, self.top, self.region, self.player_id = game_id, top, region, player_id
        self._send = send
        self._seq = 0
        self._last_top: dict | None = None
        self._last_standing: selectors.Standing | None = None
        self._top: dict | None = None
        self._rank: dict | None = None
        self._overtaken: deque[dict] = deque(maxlen=OVERTAKEN_KEPT)
        self._ready = asyncio.Event()

    def offer(self, page: selectors.Page) -> None:
        """A top read from the board: queued (in place of any not sent yet) if it differs from
        the last one queued."""
        top = renderers.page(self.game_id, page)
        if top != self._last_top:
            self._last_top = self._top = top
            self._ready.set()

    def offer_standing(self, found: selectors.Neighbourhood | None) -> None:
        """The followed player's standing with one neighbour on each side (None: not ranked): a
        RANK if their rank or score changed; OVERTAKEN too if they fell and kept their score,
        naming the player now just above them."""
        if found is None:
            return
        mine, last = found.player, self._last_standing
        self._last_standing = mine
        if last is not None and (mine.rank, mine.score) == (last.rank, last.score):
            return
        self._rank = {
            "type": "RANK", "player_id": mine.player_id, "rank": mine.rank, "score": mine.score,
            "percentile": found.percentile,
        }  # fmt: skip
        if last is not None and mine.rank > last.rank and mine.score == last.score and found.above:
            by = found.above[-1]
            self._overtaken.append(
                {"type": "OVERTAKEN", "player_id": mine.player_id, "by": by.player_id, "rank": mine.rank,
                 "by_score": by.score}
            )  # fmt: skip
        self._ready.set()

    async def send(self, message: dict) -> None:
        self._seq += 1
        await self._send({**message, "seq": self._seq})

    async def run(self) -> None:
        """Send what is queued whenever there is some, until cancelled."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            # Taken together, so a RANK and the OVERTAKEN it explains go out in that order.
            top, rank, overtaken = self._top, self._rank, list(self._overtaken)
            self._top, self._rank = None, None
            self._overtaken.clear()
            if top is not None:
                await self.send({"type": "TOP", **top})
            if rank is not None:
                await self.send(rank)
            for event in overtaken:
                await self.send(event)
