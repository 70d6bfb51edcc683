"""Supervision of the live server (`python -m speedrank.serve live`), beside the REST API's
workers: started with them, started again if it ends, stopped with them."""

import logging
import os
import signal
import subprocess
import sys
from contextlib import suppress

from ..supervision import Supervisor

logger = logging.getLogger(__name__)

CHECK_SECONDS = 1
CHECK_MAX_SECONDS = 60
STOP_SECONDS = 10


class LiveServerSupervisor(Supervisor):
    """Keeps the live server running while started; one that keeps ending at once is started
    again less and less often."""

    thread_name = "live-server"

    def __init__(self):
        super().__init__()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = self._started()

    def _started(self) -> subprocess.Popen:
        # A session of its own: a Ctrl-C meant for the server reaches it through this process.
        command = [sys.executable, "-m", "speedrank.serve", "live", "--parent", str(os.getpid())]
        return subprocess.Popen(command, start_new_session=True)

    def keep_running(self) -> None:
        pause = CHECK_SECONDS
        while not self.stopping.wait(pause):
            if self.process.poll() is None:
                pause = CHECK_SECONDS
                continue
            logger.warning("live server ended (exit %s); starting another", self.process.returncode)
            self._end_its_workers()
            pause = min(2 * pause, CHECK_MAX_SECONDS)
            self.process = self._started()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._end_its_workers()

    def _end_its_workers(self) -> None:
        """Workers left behind by a live server that died (killed, say) would go on serving
        their connections with nobody to restart them: its whole process group ends with it."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
