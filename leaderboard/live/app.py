"""The live server's ASGI application: WebSockets only (REST stays on the WSGI server).

    ws://HOST:WS_PORT/v1/ws/leaderboard?game_id=G&top=N[&region=R][&player_id=P]
    ws://HOST:WS_PORT/v1/matches/{match_id}/state[?token=T]   (see rooms.py)

At most LIVE_CONNECTIONS_PER_IP at once from one address (4429 over it). On connect the client
is sent the board's top N (a TOP message), then a new TOP whenever that top changes, at most one
per LIVE_COALESCE_SECONDS. Following a player, it is also sent their RANK (on connect if ranked,
and when their rank or score changes) and OVERTAKEN when someone passes them. Bad input gets an
ERROR message, then the close code that names it (4400 bad parameters, 4404 unknown game); Redis
away, 1013 (try again later); a message from the client over LIVE_MESSAGE_MAX_BYTES, 1009; a
client that takes nothing in for LIVE_SLOW_CLIENT_SECONDS, 4408 (socket.py).
"""

import asyncio
import gc
import json
import logging
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from .. import selectors
from ..api.throttling import address_seen
from ..exceptions import BoardNotFound, BoardUnavailable, InvalidRegion
from ..limits import REGION_MAX_LENGTH, USERNAME_MAX_LENGTH
from .address import LEADERBOARD_PATH
from .feed import BoardFeed, standing_of
from .listener import Listener
from .rooms import MatchRooms, MatchSocket
from .socket import CLOSE_INVALID, CLOSE_NOT_FOUND, CLOSE_TRY_AGAIN, SlowClients, Socket
from .watchers import TopWatcher

logger = logging.getLogger(__name__)

MATCH_PATH = re.compile(r"/v1/matches/([-a-zA-Z0-9_]{1,32})/state/?")
TOP_MAX = 100
SLUG = re.compile(r"[-a-zA-Z0-9_]+")


class InvalidRequest(ValueError):
    pass


class LiveApplication:
    """One per process: the feed of the boards its clients watch and its match rooms, both fed
    by one subscription to Redis, started with the process's first WebSocket."""

    def __init__(self):
        self.feed, self.rooms, self.slow_clients = BoardFeed(), MatchRooms(), SlowClients()
        self.listener = Listener(self.feed, self.rooms)
        self.open: Counter[str] = Counter()  # WebSockets open, by client address
        self._threads: ThreadPoolExecutor | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            body = json.dumps({"error": "not_found", "detail": "This port serves WebSockets only."}).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    async def _websocket(self, scope, receive, send) -> None:
        self._start()
        address = client_address(scope)
        self.open[address] += 1
        try:
            over_cap = self.open[address] > settings.LIVE_CONNECTIONS_PER_IP
            await self._socket(scope, receive, send).run(over_cap=over_cap, slow_clients=self.slow_clients)
        finally:
            self.open[address] -= 1
            if not self.open[address]:
                del self.open[address]

    def _start(self) -> None:
        """With the first WebSocket, in the server's event loop: the threads its blocking reads and
        moves run on (asyncio's default pool has cores + 4, and a match move waits on Redis
        twice), and the subscription to Redis."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(settings.LIVE_THREADS, thread_name_prefix="speedrank-live")
            asyncio.get_running_loop().set_default_executor(self._threads)
        self.listener.start()

    def _socket(self, scope, receive, send) -> Socket:
        if scope["path"] == LEADERBOARD_PATH:
            return LeaderboardSocket(self.feed, scope, receive, send)
        if matched := MATCH_PATH.fullmatch(scope["path"]):
            return MatchSocket(self.rooms, matched[1], scope, receive, send)
        return UnknownPath(scope, receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # What is loaded by now lives as long as the process: left out of the collector's
                # full passes, which otherwise stall every socket for tens of ms on a busy server.
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for machinery in (self.listener, self.feed, self.rooms, self.slow_clients):
                    await machinery.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


class UnknownPath(Socket):
    async def serve(self) -> None:
        await self.refuse("not_found", f"No stream at {self.scope['path']}.", CLOSE_NOT_FOUND)


class LeaderboardSocket(Socket):
    """One client following a board's top."""

    def __init__(self, feed: BoardFeed, scope, receive, send):
        super().__init__(scope, receive, send)
        self.feed = feed

    async def serve(self) -> None:
        try:
            game_id, top, region, player_id = parse(self.query())
            watcher = TopWatcher(self.send_text, game_id=game_id, top=top, region=region, player_id=player_id)
            page = await asyncio.to_thread(
                selectors.leaderboard_page, game_id=game_id, top=top, offset=0, region=region
            )
            standing = player_id and await asyncio.to_thread(
                standing_of, game_id=game_id, player_id=player_id, region=region
            )
        except (InvalidRequest, InvalidRegion) as error:
            return await self.refuse("invalid_request", str(error), CLOSE_INVALID)
        except BoardNotFound as error:
            return await self.refuse("game_not_found", f"No game {error}.", CLOSE_NOT_FOUND)
        except BoardUnavailable:
            return await self.refuse("service_unavailable", "Leaderboard temporarily unavailable.", CLOSE_TRY_AGAIN)
        watcher.offer(page)
        watcher.offer_standing(standing or None)
        sender = asyncio.create_task(watcher.run())
        self.feed.watch(watcher)
        self.feed.changed(game_id)  # a change between the read above and the watch is not missed
        try:
            async for _message in self.messages():
                pass  # this stream takes nothing from the client
        finally:
            self.feed.unwatch(watcher)
            sender.cancel()


def client_address(scope) -> str:
    headers = dict(scope.get("headers") or ())
    forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
    peer = (scope.get("client") or ("", 0))[0]
    return address_seen(peer, forwarded, settings.TRUSTED_PROXY_COUNT)


def parse(values: dict[str, str]) -> tuple[str, int, str | None, str | None]:
    """(game_id, top, region, player_id) of the query; InvalidRequest naming what is wrong."""
    game_id = values.get("game_id")
    if not game_id or len(game_id) > 64 or not SLUG.fullmatch(game_id):
        raise InvalidRequest("game_id: a game's id (letters, digits, - and _) is required.")
    raw_top = values.get("top", "10")
    if not (raw_top.isascii() and raw_top.isdigit() and 1 <= int(raw_top) <= TOP_MAX):
        raise InvalidRequest(f"top: must be a whole number from 1 to {TOP_MAX}.")
    region = values.get("region")
    if region is not None and (not region or len(region) > REGION_MAX_LENGTH or not SLUG.fullmatch(region)):
        raise InvalidRequest("region: must be one of the game's regions.")
    player_id = values.get("player_id")
    if player_id is not None and not (0 < len(player_id) <= USERNAME_MAX_LENGTH and player_id.isprintable()):
        raise InvalidRequest(f"player_id: a player's id, 1 to {USERNAME_MAX_LENGTH} printable characters.")
    return game_id, int(raw_top), region, player_id
