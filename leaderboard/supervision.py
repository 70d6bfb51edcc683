"""What the servers' supervisors share: started on entering, a thread that keeps their processes
running until the block ends, then stops them; and, in a supervised process, an end of its own
when its supervisor is gone (killed, say), rather than serving on unsupervised."""

import os
import signal
import threading
import time

PARENT_CHECK_SECONDS = 1


class Supervisor:
    """Subclasses start their processes in start() and keep them in keep_running(), which returns
    once `stopping` is set, having stopped them."""

    thread_name = "supervisor"

    def __init__(self):
        self.stopping = threading.Event()
        self._keeper: threading.Thread | None = None

    def __enter__(self):
        self.start()
        self._keeper = threading.Thread(target=self.keep_running, name=self.thread_name, daemon=True)
        self._keeper.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        if self._keeper is not None:
            self._keeper.join()

    def start(self) -> None:
        raise NotImplementedError

    def keep_running(self) -> None:
        raise NotImplementedError


def stop_with(parent: int, *, name: str) -> None:
    """In a supervised process: SIGTERM to itself (a graceful stop) once `parent` is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name=name, daemon=True).start()
