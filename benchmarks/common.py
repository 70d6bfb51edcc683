"""Helpers the benchmarks share: the machine they print, a private redis-server and PostgreSQL, stopping a process.

It imports nothing from the application, so a script that speaks to the app only over HTTP
(bench_http.py) can use it without loading the app's code.
"""

import argparse
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

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


# --- a private PostgreSQL cluster -------------------------------------------------------


@contextmanager
def postgres_cluster() -> Iterator[Path]:
    """A PostgreSQL cluster of its own, made with initdb in a temporary directory and listening on a
    unix socket there (no TCP port); yields the socket's directory, and stops and removes the
    cluster on the way out. As root, initdb and the server run as the postgres user (initdb
    refuses root), in a directory of their own outside the benchmark's."""
    binaries = postgres_binaries()
    directory = Path(tempfile.mkdtemp(prefix="speedrank-postgres-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    data, log = directory / "data", directory / "server.log"
    started = False
    try:
        initdb = [str(binaries / "initdb"), "--pgdata", str(data), "--username", "postgres", "--auth", "trust"]
        run_or_raise([*as_owner, *initdb, "--encoding", "UTF8", "--no-instructions"], "initdb")
        options = f"-c listen_addresses='' -c unix_socket_directories='{directory}' -c max_connections=200"
        pg_ctl = [str(binaries / "pg_ctl"), "--pgdata", str(data), "--log", str(log), "--wait", "--silent"]
        run_or_raise([*as_owner, *pg_ctl, "start", "-o", options], "pg_ctl start", log)
        started = True
        yield directory
    finally:
        if started:
            stop_cluster = [str(binaries / "pg_ctl"), "--pgdata", str(data), "--mode", "fast", "--wait", "stop"]
            subprocess.run([*as_owner, *stop_cluster], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


def create_database(socket_directory: Path, name: str) -> str:
    """A new database in the cluster; its DATABASE_URL (the socket's directory, percent-encoded, as the host)."""
    createdb = postgres_binaries() / "createdb"
    run_or_raise([str(createdb), "--host", str(socket_directory), "--username", "postgres", name], "createdb")
    return f"postgres://postgres@{quote(str(socket_directory), safe='')}/{name}"


def postgres_version() -> str:
    done = subprocess.run([str(postgres_binaries() / "postgres"), "--version"], capture_output=True, text=True)
    return done.stdout.strip()


def postgres_binaries() -> Path:
    """The newest PostgreSQL server Debian's packages installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if not found:
        raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql: install Debian's postgresql package")
    return found[-1].parent


def run_or_raise(command: list[str], label: str, log: Path | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        details = log.read_text() if log is not None and log.exists() else ""
        raise RuntimeError(f"{label} exited with {done.returncode}:\n{done.stdout}{done.stderr}{details}")
