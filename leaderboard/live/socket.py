"""One WebSocket as an ASGI server hands it over: accepting it, refusing it with an ERROR and a
close code, sending (a client that takes nothing in for LIVE_SLOW_CLIENT_SECONDS is closed, 4408),
and the client's messages (capped at LIVE_MESSAGE_MAX_BYTES)."""

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from urllib.parse import parse_qs

from django.conf import settings

logger = logging.getLogger(__name__)

CLOSE_INVALID, CLOSE_NOT_FOUND, CLOSE_TOO_MANY, CLOSE_TRY_AGAIN, CLOSE_TOO_BIG = 4400, 4404, 4429, 1013, 1009
CLOSE_TOO_SLOW = 4408


class SlowClients:
    """One per process: the sockets open, looked over a few times per LIVE_SLOW_CLIENT_SECONDS
    for a send that has waited that long. One look for them all costs less than a timer per send,
    which a busy socket would start and cancel hundreds of times a second."""

    def __init__(self):
        self._open: set[Socket] = set()
        self._watch: asyncio.Task | None = None

    def add(self, socket: "Socket") -> None:
        self._open.add(socket)
        if self._watch is None or self._watch.done():
            self._watch = asyncio.create_task(self._look(), name="speedrank-slow-clients")

    def discard(self, socket: "Socket") -> None:
        self._open.discard(socket)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()

    async def _look(self) -> None:
        while self._open:
            limit = settings.LIVE_SLOW_CLIENT_SECONDS
            await asyncio.sleep(min(1.0, limit / 4))
            now = time.monotonic()
            for socket in [socket for socket in self._open if socket.sending_for(now) > limit]:
                socket.found_too_slow()


class Socket:
    """Each send waits for the client, in the task of this connection that sends: granian's send
    returns once the message is written to the connection, and waits while the client's TCP
    window is full (it holds one message, never a backlog)."""

    def __init__(self, scope, receive, send):
        self.scope, self.receive, self._send = scope, receive, send
        self._too_slow = False
        self._sending: tuple[float, asyncio.Task] | None = None  # since when, and the task waiting
        self._receiving: asyncio.Task | None = None  # the task waiting for the client's next message

    async def run(self, *, over_cap: bool, slow_clients: SlowClients) -> None:
        """Accept the client, unless it left first, and serve it."""
        if (await self.receive())["type"] != "websocket.connect":
            return
        await self._send({"type": "websocket.accept"})
        if over_cap:
            detail = f"At most {settings.LIVE_CONNECTIONS_PER_IP} WebSockets at once from one address."
            return await self.refuse("too_many_connections", detail, CLOSE_TOO_MANY)
        slow_clients.add(self)
        try:
            await self.serve()
        finally:
            slow_clients.discard(self)
        if self._too_slow:
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
        while not self._too_slow:
            self._receiving = asyncio.current_task()
            try:
                message = await self.receive()
            except asyncio.CancelledError:
                if self._stopped_by_too_slow():
                    return
                raise
            finally:
                self._receiving = None
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            raw = text.encode() if text is not None else message.get("bytes") or b""
            if len(raw) > settings.LIVE_MESSAGE_MAX_BYTES:
                await self._close(CLOSE_TOO_BIG)
                return
            yield text if text is not None else raw.decode("utf-8", "replace")

    def sending_for(self, now: float) -> float:
        """How long the send in hand has waited for the client (0 if none is)."""
        return 0.0 if self._sending is None else now - self._sending[0]

    def found_too_slow(self) -> None:
        """The send in hand is given up and so is the receive (granian's close waits for it):
        every later message is dropped, messages() ends, and run() closes the socket (4408)."""
        self._too_slow = True
        for waiting in (self._sending and self._sending[1], self._receiving):
            if waiting is not None:
                waiting.cancel()

    def _stopped_by_too_slow(self) -> bool:
        """Whether the CancelledError in hand came from found_too_slow() alone (then it is taken
        back), rather than from the task being cancelled."""
        return self._too_slow and asyncio.current_task().uncancel() == 0

    async def refuse(self, error: str, detail: str, code: int) -> None:
        await self.send_json({"type": "ERROR", "error": error, "detail": detail})
        if not self._too_slow:
            await self._close(code)

    async def send_json(self, message: dict) -> None:
        await self.send_text(json.dumps(message))

    async def send_text(self, text: str) -> None:
        """Sent, unless the client has been found too slow: a send that waits
        LIVE_SLOW_CLIENT_SECONDS for it is given up by SlowClients."""
        if self._too_slow:
            return
        self._sending = (time.monotonic(), asyncio.current_task())
        try:
            await self._send({"type": "websocket.send", "text": text})
        except asyncio.CancelledError:
            if not self._stopped_by_too_slow():
                raise
        finally:
            self._sending = None

    async def _close(self, code: int, reason: str = "") -> None:
        """The close frame goes out behind what the client has not taken in yet; if it is still
        waiting after LIVE_SLOW_CLIENT_SECONDS, the close is given up, and granian then drops
        the connection (left to itself, its close would wait for the client for ever)."""
        with suppress(TimeoutError):
            async with asyncio.timeout(settings.LIVE_SLOW_CLIENT_SECONDS):
                await self._send({"type": "websocket.close", "code": code, "reason": reason})
