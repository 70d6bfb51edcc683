"""Match rooms: the players and spectators connected to this process, by match. A player's ACTION
is applied by the matches service (atomically in Redis, whichever process applies it) and the new
STATE goes to every connection of the match, here at once and in other processes through Redis;
a ticker marks connected players as present and ends matches by forfeit or expiry.

    ws://HOST:WS_PORT/v1/matches/{match_id}/state[?token=T]
"""

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable

import orjson
from django.conf import settings

from ..exceptions import BoardUnavailable, InvalidToken, MatchNotFound, MoveRefused
from ..match_rules import COLUMNS
from ..metrics import MATCH_ACTIONS
from ..services import matches
from .socket import CLOSE_NOT_FOUND, CLOSE_TRY_AGAIN, Socket

logger = logging.getLogger(__name__)

CLOSE_BAD_TOKEN = 4401
FINAL = 1 << 62  # the version of a match's state read from SQL: nothing comes after it
UNKNOWN_MESSAGE = 'A message is a JSON object whose "type" is ACTION or SYNC_REQUEST.'
PLAYERS = 2  # of a match: a room without both connected here is checked for a forfeit
QUEUE_MAX = 16  # messages waiting for one client; past it, older states are skipped (each is whole)


class MatchClient:
    """One connection to a match: the player it plays as (None: a spectator), and its queue of
    messages, states in version order, each sent once."""

    def __init__(self, socket: Socket, match_id: str, player_id: str | None):
        self.socket, self.match_id, self.player_id = socket, match_id, player_id
        self._queue: deque[tuple[int | None, str]] = deque()
        self._newest = -1
        self._ready = asyncio.Event()

    def offer(self, version: int, message: str) -> None:
        """A published state: queued unless this client has been sent it, or a newer one."""
        if version > self._newest:
            self._newest = version
            self._queue.append((version, message))
            if len(self._queue) > QUEUE_MAX:
                self._skip_states()
            self._ready.set()

    def reply(self, message: str, *, version: int | None = None) -> None:
        """A message for this client alone (an error, or the full state it asked for)."""
        if version is not None:
            self._newest = max(self._newest, version)
        self._queue.append((None, message))
        self._ready.set()

    def _skip_states(self) -> None:
        newest = next(entry for entry in reversed(self._queue) if entry[0] is not None)
        self._queue = deque(entry for entry in self._queue if entry[0] is None or entry is newest)

    async def run(self) -> None:
        """Send what is queued, in order, until cancelled."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                await self.socket.send_text(self._queue.popleft()[1])


class MatchRooms:
    """One per process: its match connections by match, and the ticker that keeps them."""

    def __init__(self):
        self._rooms: dict[str, set[MatchClient]] = {}
        self._ticker: asyncio.Task | None = None
        self._made_here: dict[str, matches.Change] = {}  # by match: its last change, if made here

    def made_here(self, match_id: str) -> matches.Change | None:
        """The match's last change, if this process made it (a move on it starts from there)."""
        return self._made_here.get(match_id)

    def applied(self, match_id: str, change: matches.Change) -> None:
        """A change this process made: to each connection of the match here, and through Redis
        (the change's own publication) to the others."""
        self._made_here[match_id] = change
        self.published(match_id, f"{change.version}|{change.message}")

    def join(self, client: MatchClient) -> None:
        self._rooms.setdefault(client.match_id, set()).add(client)
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick(), name="speedrank-match-rooms")

    def leave(self, client: MatchClient) -> None:
        room = self._rooms.get(client.match_id, set())
        room.discard(client)
        if not room:
            self._rooms.pop(client.match_id, None)
            self._made_here.pop(client.match_id, None)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()

    def published(self, match_id: str, payload: str) -> None:
        """A match's new state, "version|STATE message", to each of its connections here."""
        version, _, message = payload.partition("|")
        made_here = self._made_here.get(match_id)
        if made_here is not None and made_here.version < int(version):
            del self._made_here[match_id]  # another process changed it since
        for client in self._rooms.get(match_id, ()):
            client.offer(int(version), message)

    def resubscribed(self) -> None:
        """States published while the subscription was down are lost: each room is read again."""
        for match_id in list(self._rooms):
            asyncio.create_task(self._read_again(match_id))

    async def _read_again(self, match_id: str) -> None:
        try:
            state, version = await matches.match_state_on_loop(match_id=match_id)
        except (BoardUnavailable, MatchNotFound) as error:
            logger.warning("live: could not read match %s again: %s", match_id, error)
            return
        self.published(match_id, f"{_known(version)}|{_encoded(state.message())}")

    async def _tick(self) -> None:
        """Every second or so: mark the players connected here present, all rooms in one round
        trip, and end a match a player of which is not here and has been away
        MATCH_FORFEIT_SECONDS (forfeit), or that expired. On the event loop, as the moves are: a
        thread doing this for every room would hold the GIL from the loop while it builds them."""
        while self._rooms:
            await asyncio.sleep(min(1.0, settings.MATCH_FORFEIT_SECONDS / 4))
            connected = {
                match_id: sorted({client.player_id for client in room if client.player_id is not None})
                for match_id, room in self._rooms.items()
            }
            incomplete = {match_id for match_id, players in connected.items() if len(players) < PLAYERS}
            try:
                await self._keep(connected, incomplete)
            except BoardUnavailable as error:
                logger.warning("live: could not keep the match rooms: %s", error)
            except Exception:  # noqa: BLE001  the rooms' presence must go on being kept
                logger.exception("live: keeping the match rooms failed; trying again next tick")

    async def _keep(self, connected: dict[str, list[str]], incomplete: set[str]) -> None:
        now = time.time()
        gone, idle = await matches.mark_connected_on_loop(connected, now=now)
        for match_id in gone:  # read from SQL, and recorded abandoned
            asyncio.create_task(self._read_again(match_id))
        for match_id in idle:
            await self._ended(match_id, matches.expire_idle_on_loop(match_id=match_id))
        for match_id in incomplete.difference(gone, idle):
            present = set(connected[match_id])
            await self._ended(match_id, matches.forfeit_absent_on_loop(match_id=match_id, connected=present, now=now))

    async def _ended(self, match_id: str, ending: Awaitable[matches.Change | None]) -> None:
        """Hand the change the ending made, if any, to the room, then record it."""
        try:
            change = await ending
        except MatchNotFound:  # gone from Redis meanwhile: read from SQL, and recorded abandoned
            asyncio.create_task(self._read_again(match_id))
            return
        if change is not None:
            self.applied(match_id, change)
            await asyncio.to_thread(matches.record_if_finished, change)


class MatchSocket(Socket):
    """One client of a match: a player (with their token) or a spectator (without)."""

    def __init__(self, rooms: MatchRooms, match_id: str, scope, receive, send):
        super().__init__(scope, receive, send)
        self.rooms, self.match_id = rooms, match_id

    async def serve(self) -> None:
        try:
            token = self.query().get("token")
            player_id = matches.player_of_token(token, match_id=self.match_id) if token else None
            client = MatchClient(self, self.match_id, player_id)
            self.rooms.join(client)  # before the first read: no state published after it is missed
            try:
                await self._greet(client)
            except BaseException:
                self.rooms.leave(client)
                raise
        except InvalidToken as error:
            return await self.refuse("invalid_token", str(error), CLOSE_BAD_TOKEN)
        except MatchNotFound as error:
            return await self.refuse("match_not_found", str(error), CLOSE_NOT_FOUND)
        except BoardUnavailable:
            return await self.refuse("service_unavailable", "Match state temporarily unavailable.", CLOSE_TRY_AGAIN)
        sender = asyncio.create_task(client.run())
        try:
            await self._take_messages(client)
        finally:
            self.rooms.leave(client)
            sender.cancel()

    async def _greet(self, client: MatchClient) -> None:
        """The full state, after checking the token's player plays in this match."""
        state, version = await matches.match_state_on_loop(match_id=self.match_id)
        if client.player_id is not None and client.player_id not in state.players:
            raise InvalidToken("The token's player does not play in this match.")
        if client.player_id is not None:
            await matches.mark_connected_on_loop({self.match_id: [client.player_id]}, now=time.time())
        client.reply(_encoded(state.message()), version=_known(version))

    async def _take_messages(self, client: MatchClient) -> None:
        async for text in self.messages():
            received = time.perf_counter()
            try:
                message = orjson.loads(text)
            except orjson.JSONDecodeError:
                message = None
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "ACTION":
                change = await self._act(client, message.get("payload"))
                if change is not None:
                    MATCH_ACTIONS.observe(time.perf_counter() - received)
                    if change.finished:  # recorded after the broadcast, before this client's next message
                        await asyncio.to_thread(matches.record_if_finished, change)
            elif kind == "SYNC_REQUEST":
                await self._sync(client)
            else:
                client.reply(_error("invalid_request", UNKNOWN_MESSAGE))

    async def _act(self, client: MatchClient, payload) -> matches.Change | None:
        """Apply the client's move, on this event loop, and hand the new state to the room: the
        change, or None if the move was refused."""
        if client.player_id is None:
            client.reply(_error("forbidden", "Spectators watch; only the match's players act."))
            return None
        column = payload.get("column") if isinstance(payload, dict) else None
        if type(column) is not int:
            client.reply(_error("invalid_request", f'payload: {{"column": 0 to {COLUMNS - 1}}} is required.'))
            return None
        try:
            known = self.rooms.made_here(self.match_id)
            change = await matches.play_on_loop(
                match_id=self.match_id, player_id=client.player_id, column=column, known=known
            )
        except MoveRefused as refused:
            client.reply(_error(refused.code, str(refused)))
            return None
        except (BoardUnavailable, MatchNotFound) as error:
            client.reply(_error("service_unavailable", f"The move was not applied: {error}"))
            return None
        self.rooms.applied(self.match_id, change)
        return change

    async def _sync(self, client: MatchClient) -> None:
        try:
            state, version = await matches.match_state_on_loop(match_id=self.match_id)
        except (BoardUnavailable, MatchNotFound) as error:
            return client.reply(_error("service_unavailable", f"The state could not be read: {error}"))
        client.reply(_encoded(state.message()), version=_known(version))


def _known(version: int | None) -> int:
    """A state's version as the queues order it: one read from SQL (None) comes after any other."""
    return FINAL if version is None else version


def _error(code: str, detail: str) -> str:
    return _encoded({"type": "ERROR", "error": code, "detail": detail})


def _encoded(message: dict) -> str:
    return orjson.dumps(message).decode()
