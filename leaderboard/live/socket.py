"""One WebSocket as an ASGI server hands it over: accepting it, refusing it with an ERROR and a
close code, sending, and the client's messages (capped at LIVE_MESSAGE_MAX_BYTES)."""

import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

from django.conf import settings

CLOSE_INVALID, CLOSE_NOT_FOUND, CLOSE_TOO_MANY, CLOSE_TRY_AGAIN, CLOSE_TOO_BIG = 4400, 4404, 4429, 1013, 1009


class Socket:
    def __init__(self, scope, receive, send):
        self.scope, self.receive, self._send = scope, receive, send

    async def run(self, *, over_cap: bool) -> None:
        """Accept the client, unless it left first, and serve it."""
        if (await self.receive())["type"] != "websocket.connect":
            return
        await self._send({"type": "websocket.accept"})
        if over_cap:
            detail = f"At most {settings.LIVE_CONNECTIONS_PER_IP} WebSockets at once from one address."
            return await self.refuse("too_many_connections", detail, CLOSE_TOO_MANY)
        await self.serve()

    async def serve(self) -> None:
        raise NotImplementedError

    def query(self) -> dict[str, str]:
        """The query string's parameters, the last of each name."""
        pairs = parse_qs(self.scope["query_string"].decode("latin-1"), keep_blank_values=True)
        return {name: found[-1] for name, found in pairs.items()}

    async def messages(self) -> AsyncIterator[str]:
        """The client's messages until it leaves; one over LIVE_MESSAGE_MAX_BYTES closes the socket (1009)."""
        while (message := await self.receive())["type"] != "websocket.disconnect":
            text = message.get("text")
            raw = text.encode() if text is not None else message.get("bytes") or b""
            if len(raw) > settings.LIVE_MESSAGE_MAX_BYTES:
                await self._send({"type": "websocket.close", "code": CLOSE_TOO_BIG})
                return
            yield text if text is not None else raw.decode("utf-8", "replace")

    async def refuse(self, error: str, detail: str, code: int) -> None:
        await self.send_json({"type": "ERROR", "error": error, "detail": detail})
        await self._send({"type": "websocket.close", "code": code})

    async def send_json(self, message: dict) -> None:
        await self.send_text(json.dumps(message))

    async def send_text(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})
