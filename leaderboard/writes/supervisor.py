"""Supervision of the write server, beside the HTTP workers: started first, replaced when it ends
or stops answering, stopped last."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .server import answer_timeout, answers_ping, listening

logger = logging.getLogger(__name__)

START_SECONDS = 10
CHECK_SECONDS = 1
CHECK_MAX_SECONDS = 60
STOP_SECONDS = 10


class WriteServerSupervisor:
    """Keeps a write server (`manage.py run_write_server`) running on `path` while it is started;
    one that keeps ending at once is started again less and less often."""

    def __init__(self, path: Path):
        self.path = path
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._keeper: threading.Thread | None = None

    def start(self) -> None:
        if not listening(self.path):  # otherwise another server's write server serves this database
            self.process = self._started()
        self._keeper = threading.Thread(target=self._keep_running, name="write-server", daemon=True)
        self._keeper.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._keeper is not None:
            self._keeper.join()

    def __enter__(self) -> "WriteServerSupervisor":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _started(self) -> subprocess.Popen:
        # A session of its own: a Ctrl-C meant for the server reaches it through this process, last.
        command = [sys.executable, "-m", "django", "run_write_server", "--parent", str(os.getpid())]
        process = subprocess.Popen(command, start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while not listening(self.path) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # until then, workers write themselves
        return process

    def _keep_running(self) -> None:
        pause = CHECK_SECONDS
        while not self._stopping.wait(pause):
            if self.process is not None and self.process.poll() is None:
                if answers_ping(self.path, answer_timeout()) or self._stopping.is_set():
                    pause = CHECK_SECONDS
                    continue
                logger.warning("write server did not answer within %.0f s; replacing it", answer_timeout())
                self._end(signal.SIGKILL)
            elif listening(self.path):
                continue
            elif self.process is not None:
                logger.warning("write server ended (exit %s); starting another", self.process.returncode)
                pause = min(2 * pause, CHECK_MAX_SECONDS)
            self.process = self._started()
        if self.process is not None:
            self._end(signal.SIGTERM)

    def _end(self, signal_number: int) -> None:
        """Stop the write server: SIGTERM lets it finish the group in hand."""
        self.process.send_signal(signal_number)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
