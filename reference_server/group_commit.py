"""Group commit: calls that queue for the database share one transaction and one ``fsync``.

The domain hands every call to :meth:`GroupCommit.run` as a *work*: a function that changes
storage and appends the events it causes to an outbox. Works run one at a time, in queue order.

Theory of operation
-------------------

*One call, one savepoint; one batch, one transaction.* Each call queues its work; the first in
the queue is the leader and runs up to ``GROUP_COMMIT_MAX`` queued works, in queue order, in one
storage transaction, each inside a savepoint of its own, then commits once: the batch shares one
``fsync`` instead of paying one per call. A batch of one work needs no savepoint (two statements
fewer): if that work raises, its whole transaction is rolled back instead. A work that raises is
rolled back to its savepoint alone and its caller gets the exception, so an error never changes
anything; the works after it see exactly the effects of the works before it, as if the calls had
run one at a time in queue order. Only after the commit does the leader publish each work's
events and answer the callers, so a successful return always means a durable change; if the
commit fails, every call of the batch that had not already failed gets that error and nothing is
published. The next leader starts after that, so batches never overlap. With one caller at a
time a batch is that one call.

*Waking callers.* Each queued call owns a lock that is acquired when it is queued; releasing it
is the one wake-up the call gets, either because its batch is done or because it is now first in
the queue and leads. The next leader is woken before the callers of the batch just done, so
that the next batch's commit overlaps their answers. A ``threading.Condition`` per call cost
a notify, a waiter lock and a re-acquisition of the queue lock per caller, about a tenth of a
receipt's CPU under load.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any, Generic, Protocol, TypeVar, cast

from seenby.reference_server.storage import Storage
from seenby.reference_server.values import Event

T = TypeVar("T")

GROUP_COMMIT_MAX = 256
"""The most calls one transaction holds, so that no caller waits behind an unbounded batch."""

Work = Callable[[list[Event]], T]
"""A call's storage work: it appends the events it causes to the list it is given."""


class EventSink(Protocol):
    """Where committed events go: the push hub delivers them to live connections."""

    def publish(self, events: Sequence[Event]) -> None:
        """Deliver events (in order) to their users' open connections; must not block."""


class _QueuedCall(Generic[T]):
    """One call's work in the queue, and its outcome once its batch is done."""

    __slots__ = ("after_commit", "done", "error", "outbox", "result", "wakeup", "work")

    def __init__(self, work: Work[T], after_commit: Callable[[], None] | None) -> None:
        self.work = work
        self.after_commit = after_commit
        self.wakeup = threading.Lock()
        self.wakeup.acquire()
        self.outbox: list[Event] = []
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = False

    def outcome(self) -> T:
        """The work's result, or its exception raised again."""
        if self.error is not None:
            raise self.error
        return cast(T, self.result)


class GroupCommit:
    """Runs works in queue order, batched into durable transactions (see above)."""

    def __init__(self, storage: Storage, sink: EventSink) -> None:
        self._storage = storage
        self._sink = sink
        self._lock = threading.Lock()
        self._queue: deque[_QueuedCall[Any]] = deque()

    def queued(self) -> int:
        """How many calls wait in the queue, the running batch included."""
        with self._lock:
            return len(self._queue)

    def run(self, work: Work[T], *, after_commit: Callable[[], None] | None = None) -> T:
        """Run ``work`` in a group-committed transaction; return its result once the
        transaction is durable and the events of ``work`` are published.

        ``after_commit`` runs after that publication, at the call's place in the order of
        publication (before the next batch starts), and only if the work and the commit
        succeeded.
        """
        call = _QueuedCall(work, after_commit)
        with self._lock:
            self._queue.append(call)
            leads = len(self._queue) == 1
        if not leads:
            call.wakeup.acquire()  # released once: the batch is done, or this call leads
            if call.done:
                return call.outcome()
        with self._lock:
            batch = list(islice(self._queue, GROUP_COMMIT_MAX))
        try:
            self._commit_batch(batch)
        finally:
            with self._lock:
                for queued in batch:
                    self._queue.popleft()
                    queued.done = True
                leader = self._queue[0] if self._queue else None
            # The next leader first: its batch (and its fsync, which frees the GIL) then runs
            # while this batch's callers write their answers, instead of after them.
            if leader is not None:
                leader.wakeup.release()
            for queued in batch:
                if queued is not call:
                    queued.wakeup.release()
        return call.outcome()

    def _commit_batch(self, batch: Sequence[_QueuedCall[Any]]) -> None:
        """Run each work in its savepoint, commit once, then publish in order (see above)."""
        try:
            with self._storage.transaction():
                if len(batch) == 1:  # its own transaction undoes it if it raises (below)
                    batch[0].result = batch[0].work(batch[0].outbox)
                else:
                    for call in batch:
                        try:
                            with self._storage.savepoint():
                                call.result = call.work(call.outbox)
                        except BaseException as error:  # the caller gets what its work raised
                            call.error = error
        except BaseException as error:
            # BEGIN or COMMIT failed, or the work of a batch of one raised (and was rolled
            # back with its transaction): no work of the batch applied.
            for call in batch:
                if call.error is None:
                    call.error = error
            return
        for call in batch:
            if call.error is not None:
                continue
            try:
                if call.outbox:
                    self._sink.publish(call.outbox)
                if call.after_commit is not None:
                    call.after_commit()
            except BaseException as error:
                call.error = error
