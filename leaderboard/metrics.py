"""Prometheus metrics counted as the service runs: requests and their latency by endpoint, Redis
errors, and which path committed the writes. Shared across the server's processes through
PROMETHEUS_MULTIPROC_DIR when it is set (speedrank/serve.py sets it); health.py exposes them.

Requests are tallied (RequestTally) rather than counted one by one: under the server every change
to a metric takes a lock shared by the process's threads and writes the file the processes share,
and three such changes a request cost the seed reads a fifth of their throughput.
"""

import atexit
import threading
import time
from bisect import bisect_left
from collections import Counter as Tally
from collections import deque

from prometheus_client import Counter, Histogram


class BatchedHistogram(Histogram):
    """A Histogram that also takes many observations at once: one change per bucket they fall in
    and one to the sum, where observe() makes two per observation."""

    def observe_many(self, amounts: list[float]) -> None:
        self._raise_if_not_observable()
        falling = Tally(bisect_left(self._upper_bounds, amount) for amount in amounts)  # the first bound >= amount
        self._sum.inc(sum(amounts))
        for bucket, count in falling.items():
            self._buckets[bucket].inc(count)


REQUESTS = Counter("speedrank_requests_total", "HTTP requests answered", ["endpoint", "method", "status"])
LATENCY = BatchedHistogram(
    "speedrank_request_seconds", "Time to answer a request", ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)  # fmt: skip
REDIS_ERRORS = Counter("speedrank_redis_errors_total", "Redis calls that failed or timed out")
WRITES = Counter(
    "speedrank_writes_total",
    "Writes committed, by the path that committed them: inline, group (a worker's own group commit) or write_server",
    ["path"],
)

MATCH_ACTIONS = Histogram(
    "speedrank_match_action_seconds",
    "Live server: from a match ACTION received to its new STATE handed to the room's connections",
    buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25),
)


# Methods counted under their own label; any other is counted as OTHER, so the labels stay few.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestTally:
    """Answered requests, each one append to a queue, added to REQUESTS and LATENCY in batches:
    every `interval` seconds by a thread of a serving process, before a scrape, and whenever
    `most` are waiting (so a process that never flushes holds no more than that)."""

    def __init__(self, *, interval: float = 0.5, most: int = 10_000):
        self.interval, self.most = interval, most
        self._answered: deque[tuple[str, str, int, float]] = deque()
        self._adding = threading.Lock()  # one flush at a time (a request flushes only when `most` wait)
        self._flusher: threading.Thread | None = None

    def record(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self._answered.append((endpoint, method, status, seconds))
        if len(self._answered) >= self.most:
            self.flush()

    def flush(self) -> None:
        with self._adding:
            answered = [self._answered.popleft() for _ in range(len(self._answered))]
            for (endpoint, method, status), count in Tally(row[:3] for row in answered).items():
                REQUESTS.labels(endpoint, method if method in KNOWN_METHODS else "OTHER", str(status)).inc(count)
            latencies: dict[str, list[float]] = {}
            for endpoint, _method, _status, seconds in answered:
                latencies.setdefault(endpoint, []).append(seconds)
            for endpoint, amounts in latencies.items():
                LATENCY.labels(endpoint).observe_many(amounts)

    def start_flushing(self) -> None:
        """Flush every `interval` seconds from now on in this process, and once more at its exit."""
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_forever, name="speedrank-metrics", daemon=True)
            self._flusher.start()
            atexit.register(self.flush)

    def _flush_forever(self) -> None:
        while True:  # a daemon thread: it ends with its process
            time.sleep(self.interval)
            self.flush()


requests = RequestTally()
