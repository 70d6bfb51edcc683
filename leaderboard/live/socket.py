"""One WebSocket as an ASGI server hands it over: accepting it, refusing it with an ERROR and a
close code, sending (a client that takes nothing in for LIVE_SLOW_CLIENT_SECONDS is closed, 4408),
and the client's messages (capped at LIVE_MESSAGE_MAX_BYTES)."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import suppress
from urllib.parse import parse_qs

from django.conf import settings

logger = logging.getLogger(__name__)

CLOSE_INVALID, CLOSE_NOT_FOUND, CLOSE_TOO_MANY, CLOSE_TRY_AGAIN, CLOSE_TOO_BIG = 4400, 4404, 4429, 1013, 1009
CLOSE_TOO_SLOW = 4408


class Socket:
    """Each send waits for the client, in the task of this connection alone: granian's send
    returns once the message is written to the connection, and waits while the client's TCP
    window is full (it holds one message, never a backlog)."""

    def __init__(self, scope, receive, send):
        self.scope, self.receive, self._send = scope, receive, send
        self._too_slow = asyncio.Event()

    async def run(self, *, over_cap: bool) -> None:
        """Accept the client, unless it left first, and serve it."""
        if (await self.receive())["type"] != "websocket.connect":
            return
        await self._send({"type": "websocket.accept"})
        if over_cap:
            detail = f"At most {settings.LIVE_CONNECTIONS_PER_IP} WebSockets at once from one address."
            await self.refuse("too_many_connections", detail, CLOSE_TOO_MANY)
        else:
            await self.serve()
        if self._too_slow.is_set():
            seconds, path = settings.LIVE_SLOW_CLIENT_SECONDS, self.scope["path"]
            logger.info("live: closing a client of %s that took nothing in for %ss (4408)", path, seconds)
            await self._close(CLOSE_TOO_SLOW, "too_slow")

    async def serve(self) -> None:
        raise NotImplementedError

    def query(self) -> dict[str, str]:
        """The query string's parameters, the last of each name."""
        pairs = parse_qs(self.scope["query_string"].decode("latin-1"), keep_blank_values=True)
        return {name: found[-1] for name, found in pairs.items()}

    async def messages(self) -> AsyncIterator[str]:
        """The client's messages until it leaves or is found too slow; one over
        LIVE_MESSAGE_MAX_BYTES closes the socket (1009)."""
        while (message := await self._next_message())["type"] != "websocket.disconnect":
            text = message.get("text")
            raw = text.encode() if text is not None else message.get("bytes") or b""
            if len(raw) > settings.LIVE_MESSAGE_MAX_BYTES:
                await self._close(CLOSE_TOO_BIG)
                return
            yield text if text is not None else raw.decode("utf-8", "replace")

    async def _next_message(self) -> dict:
        """The client's next message, or a disconnect once it is found too slow: the receive in
        hand is given up, as granian's close waits for it."""
        receiving = asyncio.ensure_future(self.receive())
        too_slow = asyncio.ensure_future(self._too_slow.wait())
        try:
            await asyncio.wait((receiving, too_slow), return_when=asyncio.FIRST_COMPLETED)
        finally:
            too_slow.cancel()
            if not receiving.done():
                receiving.cancel()
        return receiving.result() if not receiving.cancelled() else {"type": "websocket.disconnect"}

    async def refuse(self, error: str, detail: str, code: int) -> None:
        await self.send_json({"type": "ERROR", "error": error, "detail": detail})
        if not self._too_slow.is_set():
            await self._close(code)

    async def send_json(self, message: dict) -> None:
        await self.send_text(json.dumps(message))

    async def send_text(self, text: str) -> None:
        """Sent, unless the client takes nothing in for LIVE_SLOW_CLIENT_SECONDS: then it is found
        too slow, this and every later message are dropped, and messages() ends."""
        if self._too_slow.is_set():
            return
        try:
            async with asyncio.timeout(settings.LIVE_SLOW_CLIENT_SECONDS):
                await self._send({"type": "websocket.send", "text": text})
        except TimeoutError:
            self._too_slow.set()

    async def _close(self, code: int, reason: str = "") -> None:
        """The close frame goes out behind what the client has not taken in yet; if it is still
        waiting after LIVE_SLOW_CLIENT_SECONDS, the close is given up, and granian then drops
        the connection (left to itself, its close would wait for the client for ever)."""
        with suppress(TimeoutError):
            async with asyncio.timeout(settings.LIVE_SLOW_CLIENT_SECONDS):
                await self._send({"type": "websocket.close", "code": code, "reason": reason})
