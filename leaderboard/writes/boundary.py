"""The one write boundary: a service says what to write, commit() decides how, and returns the
outcome once the write is committed and mirrored.

- Inline, in the caller's transaction: on PostgreSQL, which runs writers side by side and groups
  their WAL flushes itself (one transaction for several players' writes there would lock their rows
  in no set order, and two such groups could deadlock); inside a transaction the caller holds; or
  with group commit off.
- Through the write server, on SQLite, when one runs.
- Otherwise grouped by this process's committer thread, on SQLite.
"""

import logging
from functools import partial

from django.conf import settings
from django.db import connection, transaction

from ..exceptions import RateLimited
from ..metrics import WRITES
from . import charges, mirror
from .catch_up import CatchUp
from .charges import Charged
from .group import GroupCommitter, Result, groups_writes, run_group
from .server import NOT_SENT, WriteServerClient, socket_for
from .turn import NoTurn, WriteTurn
from .work import AfterCommit, Work

logger = logging.getLogger(__name__)


class WriteBoundary:
    """This process's way of committing writes, and the machinery behind it: the committer thread,
    the connections to the write server, the write turn and the catch-up."""

    def __init__(self):
        self.catch_up = CatchUp()
        self.committer = GroupCommitter(self.turn, self.send)
        self.server = WriteServerClient()
        self._turns: dict[str, WriteTurn] = {}

    def commit(self, work: Work):
        """The work's outcome once committed and mirrored; raises the error that kept it from
        being committed (WriteUnconfirmed: the write server went away before it answered;
        RateLimited: the call's charge, counted with the write, refused it)."""
        charge = charges.claim()
        if charge is None:
            return self._commit(work)
        try:
            counted = self._commit(Charged(work, charge))
        except RateLimited as refused:
            charge.counted(refused.verdict, None)
            raise
        charge.counted(counted.verdict, counted.unavailable)
        return counted.outcome

    def _commit(self, work: Work):
        if not _grouped():
            WRITES.labels("inline").inc()
            return self._commit_inline(work)
        path = socket_for(connection.settings_dict["NAME"])  # _grouped(): SQLite, on a file
        if path is not None and settings.WRITE_SERVER:
            outcome = self.server.commit(work, path)
            if outcome is not NOT_SENT:
                WRITES.labels("write_server").inc()
                return outcome
        WRITES.labels("group").inc()
        return self.committer.commit(work)

    def commit_now(self, works: list[Work]) -> list[Result]:
        """Commit the works as one group in this thread, now (the write server's loop does): each
        one's outcome once committed and mirrored, or its error. Once a mirror has failed, the
        group's mirrors queue for the catch-up rather than each group waiting out Redis in turn."""
        if not works:
            return []
        try:
            connection.close_if_unusable_or_obsolete()
            with self.turn().held(wait=settings.SQLITE_BUSY_TIMEOUT_SECONDS) as hand_on_turn:
                results, afters = run_group(works, hand_on_turn)
        except Exception as error:  # noqa: BLE001  the turn or the commit failed: nothing of the group stands
            return [error] * len(works)
        self.send(afters, behind_backlog=True)
        return results

    def _commit_inline(self, work: Work):
        if refused := charges.count([work]):
            raise refused[0]
        after = AfterCommit()
        with transaction.atomic():
            outcome = work.apply(after)
            if after:
                transaction.on_commit(partial(self.send, [after]), robust=True)
        return outcome

    def send(self, afters: list[AfterCommit], *, behind_backlog: bool = False) -> None:
        """Tell Redis what the committed works changed; the writes stand whatever happens here."""
        try:
            mirror.send(afters, self.catch_up, behind_backlog=behind_backlog)
        except Exception:  # noqa: BLE001  the writes are committed: their callers are answered all the same
            logger.exception("the mirrors of a committed group failed")

    def turn(self) -> WriteTurn | NoTurn:
        """This process's turn at the database's write lock."""
        if connection.is_in_memory_db():
            return NoTurn()
        path = connection.settings_dict["NAME"]
        if path not in self._turns:
            self._turns[path] = WriteTurn(path)
        return self._turns[path]

    def start(self) -> None:
        """At a serving process's start: replay what Redis may have missed (queued scores, and
        recent ones whose mirror never ran if the process before this one died), and rebuild the
        boards it does not hold whole."""
        self.catch_up.schedule(replay_recent=True, check_boards=True)


def _grouped() -> bool:
    """Whether writes are grouped here: where the database groups them, outside a transaction of the caller's."""
    return groups_writes() and not connection.in_atomic_block


process_boundary = WriteBoundary()
