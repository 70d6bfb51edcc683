"""The reads with no framework: the same Redis work as the app, the least Python can do it with.

bench_http.py serves it under the app's server settings (`python -m speedrank.serve
benchmarks.floor_app:application`), after checking that it answers as the app does:
- the seed reads, the floor the app's top-players and my-rank are held to;
- the /v1/ reads on the default game, each with its rate-limit count (INCR and an expiry) in the
  read's round trip as the app does it, which bench_http.py weighs the /v1/ targets against.
A read's commands are packed by hiredis, written at once on the thread's connection and read back
with redis-py's parser: a round trip's least Python. (redis-py's own command methods and pipelines
add a pool checkout with a readiness poll, a command stack and response callbacks to each call,
which measured about 1.6 times this floor's cost per read.) orjson out.
"""

import os
import threading
import time
from urllib.parse import parse_qs

import orjson
import redis
from hiredis import pack_command

# A board's score is rank value << 33 | sequence bits; the points are the rank value. Above every
# entry sits the board's header (score +inf), which the app reads with the entries.
SEQUENCE_BITS = 33
TOP_COUNT = 10
PREFIX = os.environ.get("REDIS_KEY_PREFIX", "speedrank")
BOARD = f"{PREFIX}:board:{{default}}"
NOT_RANKED = orjson.dumps({"message": "Player not found in leaderboard."})
NOT_FOUND = orjson.dumps({"detail": "Not found."})
HEALTHY = orjson.dumps({"status": "ok"})
# The /v1/ read limit's window, as the app's settings give it (its length only shapes the key).
WINDOW_MS = int(os.environ.get("RATE_LIMIT_WINDOW", "60")) * 1000
READ_LIMIT = int(os.environ.get("RATE_LIMIT_READS_PER_IP", "1000"))

client = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
# A player's rank, the board's entries, and the entries around the player (the header at 0).
AROUND = client.script_load(
    """
local rank = redis.call('ZREVRANK', KEYS[1], ARGV[1])
if not rank then return false end
local context = tonumber(ARGV[2])
local first = math.max(rank - context, 1)
return {rank, redis.call('ZCOUNT', KEYS[1], '-inf', '(+inf'), first,
        redis.call('ZREVRANGE', KEYS[1], first, rank + context, 'WITHSCORES')}
"""
)


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/v1/"):
        return v1(path, parse_qs(environ.get("QUERY_STRING", "")), environ, start_response)
    path = path.rstrip("/")
    if path == "/api/top-players":
        return answer(start_response, "200 OK", top_players())
    if path == "/api/my-rank":
        username = parse_qs(environ.get("QUERY_STRING", "")).get("username", [""])[0]
        found = my_rank(username)
        return answer(start_response, "200 OK", found) if found else answer(start_response, "404 Not Found", NOT_RANKED)
    if path == "/health":  # what bench_http.py waits for before it starts
        return answer(start_response, "200 OK", HEALTHY)
    return answer(start_response, "404 Not Found", NOT_FOUND)


def top_players() -> bytes:
    (flat,) = round_trip([("ZREVRANGE", BOARD, 0, TOP_COUNT, "WITHSCORES")])
    return orjson.dumps(
        [
            {"rank": 1 + i // 2, "username": flat[i + 2], "points": int(flat[i + 3]) >> SEQUENCE_BITS}
            for i in range(0, len(flat) - 2, 2)
        ]
    )


def my_rank(username: str) -> bytes | None:
    rank, score = round_trip([("ZREVRANK", BOARD, username), ("ZSCORE", BOARD, username)])
    if rank is None or score is None:
        return None
    return orjson.dumps({"username": username, "rank": rank, "points": int(score) >> SEQUENCE_BITS})  # 0 is the header


# --- /v1/ on the default game ----------------------------------------------------------


def v1(path: str, query: dict, environ, start_response):
    if path == "/v1/leaderboard":
        top = int(query["top"][0])
        read = [("ZREVRANGE", BOARD, 0, top, "WITHSCORES"), ("ZCOUNT", BOARD, "-inf", "(+inf")]
        flat, total, count = charged(read, environ)
        body = {"game_id": "default", "entries": standings(1, flat[2:]), "total_players": total}
    elif path == "/v1/leaderboard/players":
        player_ids = query["player_ids"][0].split(",")
        read = [("ZMSCORE", BOARD, *player_ids), *(("ZREVRANK", BOARD, player_id) for player_id in player_ids)]
        scores, *rest = charged(read, environ)
        ranks, count = rest[:-1], rest[-1]
        found = sorted(
            (rank, player_id, int(score) >> SEQUENCE_BITS)
            for player_id, score, rank in zip(player_ids, scores, ranks, strict=True)
            if rank is not None
        )
        body = {"game_id": "default", "entries": [{"rank": r, "player_id": p, "score": s} for r, p, s in found]}
    elif path in ("/v1/leaderboard/rank", "/v1/matchmaking"):
        player_id = query["player_id"][0]
        context = int(query["context"][0] if path == "/v1/leaderboard/rank" else query["size"][0])
        found, count = charged([("EVALSHA", AROUND, 1, BOARD, player_id, context)], environ)
        if not found:
            return answer(start_response, "404 Not Found", NOT_FOUND)
        rank, total, first, flat = found
        window = standings(first, flat)
        mine = rank - first
        if path == "/v1/matchmaking":
            others = sorted((s for s in window if s["rank"] != rank), key=lambda s: (abs(s["rank"] - rank), s["rank"]))
            body = {"game_id": "default", "player_id": player_id, "players": sorted(others[:context], key=by_rank)}
        else:
            percentile = round((total - rank + 1) / total * 100, 2)
            body = {
                "player": {**window[mine], "percentile": percentile},
                "above": window[:mine],
                "below": window[mine + 1 :],
            }
    else:
        return answer(start_response, "404 Not Found", NOT_FOUND)
    return answer(start_response, "200 OK", orjson.dumps(body), rate_limit_headers(count))


def charged(read: list[tuple], environ) -> list:
    """The read's replies in one round trip, the call's count against the per-IP read limit riding
    last: (the count, seconds until its window resets)."""
    now_ms = time.time() * 1000
    window = int(now_ms // WINDOW_MS)
    ends_ms = (window + 1) * WINDOW_MS
    key = f"{PREFIX}:floor-rate:read-ip:{environ.get('REMOTE_ADDR', '')}:{window}"
    *replies, count, _expiry = round_trip([*read, ("INCR", key), ("PEXPIREAT", key, ends_ms + 1000, "NX")])
    return [*replies, (count, max(1, -int((now_ms - ends_ms) // 1000)))]


def round_trip(commands: list[tuple]) -> list:
    link = connection()
    link.send_packed_command([b"".join([pack_command(command) for command in commands])])
    return [link.read_response() for _command in commands]


def connection():
    """The thread's own connection, taken from the client's pool once: the server's threads each
    wait on their replies at once."""
    link = getattr(_threads, "link", None)
    if link is None:
        link = _threads.link = client.connection_pool.get_connection()
    return link


_threads = threading.local()


def rate_limit_headers(count: tuple[int, int]) -> list[tuple[str, str]]:
    used, reset = count
    return [
        ("RateLimit-Limit", str(READ_LIMIT)),
        ("RateLimit-Remaining", str(max(READ_LIMIT - used, 0))),
        ("RateLimit-Reset", str(reset)),
    ]


def standings(first: int, flat: list) -> list[dict]:
    """Entries from member, score, member, score, ..., ranked from first."""
    return [
        {"rank": first + i // 2, "player_id": flat[i], "score": int(flat[i + 1]) >> SEQUENCE_BITS}
        for i in range(0, len(flat), 2)
    ]


def by_rank(entry: dict) -> int:
    return entry["rank"]


def answer(start_response, status: str, body: bytes, headers: list | None = None) -> list[bytes]:
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *(headers or [])])
    return [body]
