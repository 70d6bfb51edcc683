"""Helpers the benchmarks share: the machine they print, a private redis-server, stopping a process,
latency figures.

It imports nothing from the application, so a script that speaks to the app only over HTTP
(bench_http.py) can use it without loading the app's code.
"""

import argparse
import os
import shlex
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

REDIS_SERVER = "redis-server"
REDIS_START_SECONDS = 10.0


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value


# --- the machine ------------------------------------------------------------------------


def print_host() -> None:
    """The command and the machine, the first lines of every benchmark's output."""
    print(f"command      {shlex.join(sys.orig_argv)}")
    print(f"cpu          {cpu_model()}")
    print(f"cores        {os.cpu_count()} (usable by this process: {len(os.sched_getaffinity(0))})")
    print(f"python       {sys.version.split()[0]}")
    print(f"sqlite       {sqlite3.sqlite_version}")
    print(f"redis-server {redis_server_version()}")


def print_environment(names: tuple[str, ...]) -> None:
    overrides = [f"{name}={os.environ[name]}" for name in names if name in os.environ]
    print(f"environment  {' '.join(overrides) or '(app defaults)'}")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown (no 'model name' in /proc/cpuinfo)"


def redis_server_version() -> str:
    output = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True, check=True).stdout
    return output.strip()


# --- a private redis-server -------------------------------------------------------------


@contextmanager
def redis_server(workdir: Path) -> Iterator[Path]:
    """A redis-server on a unix socket in workdir, without persistence, stopped on the way out."""
    socket, log = workdir / "redis.sock", workdir / "redis.log"
    command = [
        REDIS_SERVER, "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700",
        "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(workdir), "--logfile", str(log),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    try:
        wait_until_ready(process, socket, log)
        yield socket
    finally:
        stop(process)


def wait_until_ready(process: subprocess.Popen, socket: Path, log: Path) -> None:
    deadline = time.monotonic() + REDIS_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with redis.Redis(unix_socket_path=str(socket)) as probe:
                probe.ping()
            return
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    raise RuntimeError(f"redis-server not ready after {REDIS_START_SECONDS}s:\n{log.read_text()}")


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def p99(seconds: list[float]) -> float:
    if len(seconds) < 2:
        return seconds[0]
    return statistics.quantiles(seconds, n=100, method="inclusive")[98]


def micro(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"
