"""Faulty servers for ``seenby load``: bugs that only concurrency or reconnects reveal.

Built like the gallery's variants (``@variant`` over one replaced server piece) but kept in a
list of their own, ``LOAD_VARIANTS``, so that the conformance kill run's counts do not change.
The lost update is the gallery's own variant, shared rather than copied. ``EXPECTED`` names the
invariant of `seenby.harness.load.verdict` each one must break.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from seenby.reference_server.domain import (
    ON_RECV_MESSAGE_READ_RECEIPTS,
    Caller,
    ReceiptService,
    _receipt,
)
from seenby.reference_server.model import Event, JsonValue, Receipt
from seenby.reference_server.storage import SqliteStorage

from .gallery import DATABASE_ROUND_TRIP_SECONDS, Variant, variant, variant_named

__all__ = ["EXPECTED", "LOAD_VARIANTS"]

LOAD_VARIANTS: list[Variant] = [variant_named("P3_concurrent_receipts_lose_updates")]
"""Every faulty variant the load verdict must catch."""


@variant("P3_receipt_push_published_late", "P-3", into=LOAD_VARIANTS)
class PushPublishedLate(ReceiptService):
    """The receipt is committed in one transaction and its push, built from the counts of that
    transaction, is published in a second one, a database round trip later: two readers of one
    message can publish in the opposite order, so the sender sees an older count after a newer
    one."""

    def send_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> None:
        unique_ids = list(dict.fromkeys(msg_ids))

        def record(_: list[Event]) -> dict[str, list[Receipt]]:
            self._check_batch(unique_ids)
            read_ms = self._clock()
            by_sender: dict[str, list[Receipt]] = {}
            for message in self._batch(caller, unique_ids, own=False):
                if message.sender == caller.user_id or not message.need_read_receipt:
                    continue
                counted = self._storage.record_receipt(message, caller.user_id, read_ms)
                if counted is None:
                    continue
                by_sender.setdefault(message.sender, []).append(_receipt(counted, read_ms))
            return by_sender

        by_sender = self._run(record)
        time.sleep(DATABASE_ROUND_TRIP_SECONDS)

        def publish(outbox: list[Event]) -> None:
            for sender, receipts in by_sender.items():
                data: JsonValue = [receipt.to_json() for receipt in receipts]
                self._emit(outbox, [sender], ON_RECV_MESSAGE_READ_RECEIPTS, data)

        self._run(publish)


@variant("P1_replay_skips_the_first_missed_event", "P-1", into=LOAD_VARIANTS)
class ReplaySkipsFirstMissed(SqliteStorage):
    """Replay after since=N starts after event N + 1: a client that reconnects loses the
    first event it missed."""

    def events_after(self, user_id: str, since: int) -> list[Event]:
        return super().events_after(user_id, since + 1 if since > 0 else since)


EXPECTED: dict[str, str] = {
    "P3_concurrent_receipts_lose_updates": "read-count",
    "P3_receipt_push_published_late": "push-monotonic",
    "P1_replay_skips_the_first_missed_event": "seq-gap-free",
}
"""The invariant each variant must break (it may break others too)."""
