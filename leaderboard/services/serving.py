"""What a process that serves requests or writes does when it starts."""

from django.db import connections

from ..writes import process_boundary, publish_all_rules


def start_serving() -> None:
    """Replay the scores Redis may have missed and republish the games' rules (Redis may have
    lost them); then free this thread's database connection, which serves no request."""
    process_boundary.start()
    publish_all_rules()
    connections.close_all()
