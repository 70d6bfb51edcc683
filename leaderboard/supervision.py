"""What the servers' supervisors share: started on entering, a thread that keeps their processes
running until the block ends, then stops them."""

import threading


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
