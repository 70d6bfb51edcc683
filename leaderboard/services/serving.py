"""What a server worker does when it starts."""

from django.db import connections

from .. import metrics
from ..writes import process_boundary


def start_serving() -> None:
    """Have the catch-up replay what Redis may have missed and rebuild the boards it lost, and the
    request metrics flushed; then free this thread's database connection, which serves no request."""
    process_boundary.start()
    metrics.requests.start_flushing()
    connections.close_all()
