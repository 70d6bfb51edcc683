"""The seed reads with no framework: the same Redis work as the app, the least Python can do it with.

bench_http.py serves it under the app's server settings (`python -m speedrank.serve
benchmarks.floor_app:application`) as the floor the app's top-players and my-rank are held to,
after checking that it answers as the app does. One redis-py client per process, orjson out.
"""

import os
from urllib.parse import parse_qs

import orjson
import redis

# A board's score is rank value << 33 | sequence bits; the points are the rank value. Above every
# entry sits the board's header (score +inf), which the app reads with the entries.
SEQUENCE_BITS = 33
TOP_COUNT = 10
BOARD = f"{os.environ.get('REDIS_KEY_PREFIX', 'speedrank')}:board:{{default}}"
NOT_RANKED = orjson.dumps({"message": "Player not found in leaderboard."})
NOT_FOUND = orjson.dumps({"detail": "Not found."})
HEALTHY = orjson.dumps({"status": "ok"})

client = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)


def application(environ, start_response):
    path = environ.get("PATH_INFO", "").rstrip("/")
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
    _header, *entries = client.zrevrange(BOARD, 0, TOP_COUNT, withscores=True)
    return orjson.dumps(
        [
            {"rank": rank, "username": username, "points": int(score) >> SEQUENCE_BITS}
            for rank, (username, score) in enumerate(entries, start=1)
        ]
    )


def my_rank(username: str) -> bytes | None:
    pipeline = client.pipeline(transaction=False)
    pipeline.zrevrank(BOARD, username)
    pipeline.zscore(BOARD, username)
    rank, score = pipeline.execute()
    if rank is None or score is None:
        return None
    return orjson.dumps({"username": username, "rank": rank, "points": int(score) >> SEQUENCE_BITS})  # 0 is the header


def answer(start_response, status: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
