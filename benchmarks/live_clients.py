"""The WebSocket clients bench_live.py runs against the live server: board subscribers, idle
sockets (each set in a child process of its own, so their event loop shares no GIL with the load)
and match players. Each records what it received and when (time.monotonic, one clock for every
process), and leaves the judging to bench_live.py. Imports nothing from the app."""

import asyncio
import json
import random
import time
import traceback
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

import orjson
from websockets.asyncio.client import ClientConnection, connect

CONNECTING_AT_ONCE = 64  # handshakes in flight at once
OPEN_SECONDS = 60
FIRST_MESSAGE_SECONDS = 60


async def open_sockets(urls: list[str]) -> list[ClientConnection]:
    """A WebSocket to each URL, a few handshakes at a time (no pings: a browser sends none)."""
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)

    async def one(url: str) -> ClientConnection:
        async with gate:
            return await connect(url, ping_interval=None, open_timeout=OPEN_SECONDS, max_size=2**20)

    return await asyncio.gather(*(one(url) for url in urls))


def in_child(work, *args) -> None:
    """Run work(*args) (a coroutine function) in this child process; its result, or the error as
    text, goes on the last argument (a multiprocessing queue)."""
    results = args[-1]
    try:
        results.put(asyncio.run(work(*args[:-1])))
    except BaseException:  # noqa: BLE001  reported to the parent, which stops with it
        results.put(RuntimeError(traceback.format_exc()))


async def wait_for(event) -> None:
    """A multiprocessing.Event, awaited without blocking the loop."""
    await asyncio.to_thread(event.wait)


# --- board subscribers ---------------------------------------------------------------------------


@dataclass
class Subscriber:
    """One socket on a board: what it received, as (arrival, type, value): a TOP's best score, a
    RANK's rank."""

    kind: str  # "top" or "rank" (following a player too)
    received: list[tuple[float, str, int]] = field(default_factory=list)
    last_top: dict | None = None
    first_rank: int | None = None
    last_rank: int | None = None
    others: Counter = field(default_factory=Counter)  # OVERTAKEN, ERROR, ...
    greeted: asyncio.Event = field(default_factory=asyncio.Event)

    def take(self, raw: str | bytes, at: float) -> None:
        message = orjson.loads(raw)
        kind = message["type"]
        if kind == "TOP":
            self.last_top = message
            self.received.append((at, kind, message["entries"][0]["score"] if message["entries"] else -1))
        elif kind == "RANK":
            self.first_rank = self.first_rank if self.first_rank is not None else message["rank"]
            self.last_rank = message["rank"]
            self.received.append((at, kind, message["rank"]))
        else:
            self.others[kind] += 1
        if self.last_top is not None and (self.kind == "top" or self.first_rank is not None):
            self.greeted.set()

    def report(self) -> dict:
        return {
            "kind": self.kind, "received": self.received, "last_top": self.last_top,
            "first_rank": self.first_rank, "last_rank": self.last_rank, "others": dict(self.others),
        }  # fmt: skip


async def subscribe(urls: list[tuple[str, str]], ready, stop) -> list[dict]:
    """Each (kind, url) subscribed; `ready` set once every one has its first TOP (and RANK);
    then listening until `stop` is set. Every subscriber's report."""
    subscribers = [Subscriber(kind) for kind, _url in urls]
    sockets = await open_sockets([url for _kind, url in urls])
    readers = [asyncio.create_task(listen(sub, ws)) for sub, ws in zip(subscribers, sockets, strict=True)]
    await asyncio.wait_for(asyncio.gather(*(sub.greeted.wait() for sub in subscribers)), FIRST_MESSAGE_SECONDS)
    ready.set()
    await wait_for(stop)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return [sub.report() for sub in subscribers]


async def listen(subscriber: Subscriber, ws: ClientConnection) -> None:
    async for raw in ws:
        subscriber.take(raw, time.monotonic())


# --- idle sockets --------------------------------------------------------------------------------


async def hold_idle(url: str, count: int, ready, stop) -> int:
    """count sockets on url, each given its first message, then held without a word until `stop`."""
    sockets = await open_sockets([url] * count)
    await asyncio.wait_for(asyncio.gather(*(ws.recv() for ws in sockets)), FIRST_MESSAGE_SECONDS)
    ready.set()
    await wait_for(stop)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return len(sockets)


# --- match rooms ---------------------------------------------------------------------------------


@dataclass
class RoomTally:
    """Every room's figures together."""

    other: list[float] = field(default_factory=list)  # ACTION sent -> the other player's STATE
    mover: list[float] = field(default_factory=list)  # ACTION sent -> the mover's own STATE
    actions: int = 0
    unanswered: int = 0  # an ACTION whose STATE did not reach both players in time
    gaps: int = 0  # seqs a client never received
    duplicates: int = 0  # seqs a client received more than once
    states: int = 0
    matches_started: int = 0
    matches_finished: int = 0
    unseated: Counter = field(default_factory=Counter)  # greetings that never came, by what happened instead
    errors: Counter = field(default_factory=Counter)


class Seat:
    """One player's socket in a match: the states it received, checked for order."""

    def __init__(self, ws: ClientConnection, player_id: str, tally: RoomTally):
        self.ws, self.player_id, self.tally = ws, player_id, tally
        self.expected = 0  # the next seq this client should receive
        self.state: dict | None = None
        self.at = 0.0
        self.arrived = asyncio.Condition()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            at = time.monotonic()
            message = orjson.loads(raw)
            if message["type"] != "STATE":
                self.tally.errors[message.get("error", message["type"])] += 1
                continue
            self._check(message["seq"])
            async with self.arrived:
                self.state, self.at = message, at
                self.arrived.notify_all()

    def _check(self, seq: int) -> None:
        self.tally.states += 1
        if seq < self.expected:
            self.tally.duplicates += 1
        else:
            self.tally.gaps += seq - self.expected
            self.expected = seq + 1

    async def state_at(self, seq: int, timeout: float) -> float | None:
        """When the state with this seq (or a later one) arrived; None if not within timeout."""
        async with self.arrived:
            try:
                await asyncio.wait_for(self.arrived.wait_for(lambda: self.state and self.state["seq"] >= seq), timeout)
            except TimeoutError:
                return None
        return self.at if self.state["seq"] == seq else None

    async def close(self) -> None:
        self.reader.cancel()
        await self.ws.close()


@dataclass(frozen=True)
class RoomPlan:
    api_url: str  # http://host:port
    server_key: str
    game_id: str
    rooms: int
    actions_per_second: float
    seconds: float
    answer_seconds: float = 5.0


class Room:
    """Two players playing random legal Connect-Four moves in turn, one move per slot; a finished
    match is followed by a new one."""

    def __init__(self, number: int, plan: RoomPlan, tally: RoomTally, rng: random.Random):
        self.number, self.plan, self.tally, self.rng = number, plan, tally, rng
        self.players = (f"room{number}a", f"room{number}b")
        self.seats: dict[str, Seat] = {}

    async def play(self, start: float, end: float) -> None:
        interval = self.plan.rooms / self.plan.actions_per_second
        slot = start + interval * self.number / self.plan.rooms
        while self.seats and slot < end:
            await asyncio.sleep(max(slot - time.monotonic(), 0))
            if not await self.move() and not await self.begin():
                break
            slot = max(slot + interval, time.monotonic() - interval)  # a late room skips slots, not moves
        await self.leave()

    async def begin(self) -> bool:
        """A new match for this room's players, with both seated and greeted (its STATE seq 0);
        False, and nobody seated, if a greeting did not come."""
        await self.leave()
        created = await asyncio.to_thread(create_match, self.plan, self.players)
        state_url = created["state_url"]
        sockets = await open_sockets([f"{state_url}?token={created['tokens'][p]}" for p in self.players])
        self.seats = {p: Seat(ws, p, self.tally) for p, ws in zip(self.players, sockets, strict=True)}
        for seat in self.seats.values():
            if await seat.state_at(0, self.plan.answer_seconds) is None:
                code = seat.ws.close_code
                self.tally.unseated["no STATE in time" if code is None else f"closed {code} without a STATE"] += 1
                await self.leave()
                return False
        self.tally.matches_started += 1
        return True

    async def move(self) -> bool:
        """One move by the player whose turn it is, timed to both players' STATE; False once the
        match is over (or lost its way)."""
        state = self.seats[self.players[0]].state
        if state is None or state["status"] != "playing":
            return False
        mover = self.seats[state["turn"]]
        other = next(seat for seat in self.seats.values() if seat is not mover)
        seq = state["seq"] + 1
        column = self.rng.choice([c for c, cell in enumerate(state["board"][0]) if cell is None])
        sent = time.monotonic()
        await mover.ws.send(orjson.dumps({"type": "ACTION", "payload": {"column": column}}).decode())
        self.tally.actions += 1
        arrivals = await asyncio.gather(*(seat.state_at(seq, self.plan.answer_seconds) for seat in (other, mover)))
        if None in arrivals:
            self.tally.unanswered += 1
            return False
        self.tally.other.append(arrivals[0] - sent)
        self.tally.mover.append(arrivals[1] - sent)
        if other.state["status"] != "playing":
            self.tally.matches_finished += 1
            return False
        return True

    async def leave(self) -> None:
        await asyncio.gather(*(seat.close() for seat in self.seats.values()), return_exceptions=True)
        self.seats = {}


def create_match(plan: RoomPlan, players: tuple[str, str]) -> dict:
    body = json.dumps({"game_id": plan.game_id, "players": list(players), "rules": "connect_four"}).encode()
    headers = {"Content-Type": "application/json", "X-API-Key": plan.server_key}
    request = urllib.request.Request(f"{plan.api_url}/v1/matches", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


async def play_rooms(plan: RoomPlan, seed: int, mark=lambda: None) -> tuple[RoomTally, float, float]:
    """Every room playing for plan.seconds after all are seated: the tally, and when the moves
    started and ended; mark() is called just before the first move and after the last."""
    tally, rng = RoomTally(), random.Random(seed)
    rooms = [Room(n, plan, tally, random.Random(rng.random())) for n in range(plan.rooms)]
    # Seated first, all of them, so the timed part is the play alone.
    await asyncio.gather(*(room.begin() for room in rooms))
    mark()
    start = time.monotonic()
    await asyncio.gather(*(room.play(start, start + plan.seconds) for room in rooms))
    end = time.monotonic()
    mark()
    return tally, start, end
