"""Prometheus metrics counted as the service runs: requests and their latency by endpoint, Redis
errors, and which path committed the writes. Shared across the server's processes through
PROMETHEUS_MULTIPROC_DIR when it is set (speedrank/serve.py sets it); health.py exposes them."""

from prometheus_client import Counter, Histogram

REQUESTS = Counter("speedrank_requests_total", "HTTP requests answered", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "speedrank_request_seconds", "Time to answer a request", ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)  # fmt: skip
REDIS_ERRORS = Counter("speedrank_redis_errors_total", "Redis calls that failed or timed out")
WRITES = Counter(
    "speedrank_writes_total",
    "Writes committed, by the path that committed them: inline, group (a worker's own group commit) or write_server",
    ["path"],
)
