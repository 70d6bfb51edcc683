"""One WebSocket client watching a board's top, and perhaps one player on it: the messages it is
sent, numbered 1, 2, 3, ... on its connection. Its queue keeps only the newest TOP and the newest
RANK (a slow client skips states it could not take in time, and never holds up the others), and
the last few OVERTAKEN events."""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

import orjson

from .. import selectors
from ..api.v1 import renderers

SendText = Callable[[str], Awaitable[None]]
OVERTAKEN_KEPT = 10


class SharedTop:
    """A top as its watchers are sent it: rendered once, and encoded once for all of them (each
    message differs only in its seq, put in front)."""

    __slots__ = ("top", "_fields")

    def __init__(self, top: dict):
        self.top = top
        self._fields: str | None = None

    def message(self, seq: int) -> str:
        if self._fields is None:
            self._fields = orjson.dumps(self.top).decode()[1:]  # '"game_id":...}' after the '{'
        return f'{{"type":"TOP","seq":{seq},{self._fields}'


class TopWatcher:
    def __init__(
        self, send_text: SendText, *, game_id: str, top: int, region: str | None, player_id: str | None = None
    ):
        self.game_id, self.top, self.region, self.player_id = game_id, top, region, player_id
        self._send_text = send_text
        self._seq = 0
        self._last_top: dict | None = None
        self._last_standing: selectors.Standing | None = None
        self._top: SharedTop | None = None
        self._rank: dict | None = None
        self._overtaken: deque[dict] = deque(maxlen=OVERTAKEN_KEPT)
        self._ready = asyncio.Event()

    def offer(self, page: selectors.Page) -> None:
        """A top this client's own read found."""
        self.offer_shared(SharedTop(renderers.page(self.game_id, page)))

    def offer_shared(self, shared: SharedTop) -> None:
        """A top, queued (in place of any not sent yet) if it differs from the last one queued."""
        top = shared.top
        if top is self._last_top or top == self._last_top:
            return
        self._last_top, self._top = top, shared
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
        await self._send_text(orjson.dumps({**message, "seq": self._seq}).decode())

    async def send_top(self, shared: SharedTop) -> None:
        self._seq += 1
        await self._send_text(shared.message(self._seq))

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
                await self.send_top(top)
            if rank is not None:
                await self.send(rank)
            for event in overtaken:
                await self.send(event)
