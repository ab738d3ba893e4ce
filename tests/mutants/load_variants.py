"""Servers for ``seenby load``: faulty ones whose bugs only load reveals, and correct ones that
choose what the spec allows.

Built like the gallery's variants (``@variant`` over one replaced server piece) but kept in
lists of their own, so that the conformance kill run's counts do not change. ``LOAD_VARIANTS``
are faulty: bugs that only concurrency or reconnects reveal, a server fault (5xx) and a refusal
the spec forbids; the lost update is the gallery's own variant, shared rather than copied, and
``EXPECTED`` names the invariant of `seenby.harness.load.verdict` each one must break.
``LOAD_ALTERNATIVES`` are correct: refusing a whole call where the spec allows it, which the
verdict must count as a refusal and never as a fault.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from seenby.contract.vocabulary import Code
from seenby.reference_server.domain import (
    ON_RECV_MESSAGE_READ_RECEIPTS,
    Caller,
    ReceiptService,
    _receipt,
)
from seenby.reference_server.storage import SqliteStorage
from seenby.reference_server.values import (
    Event,
    JsonValue,
    MemberFilter,
    MemberPage,
    Receipt,
    ReceiptError,
)

from .gallery import DATABASE_ROUND_TRIP_SECONDS, Variant, variant, variant_named

__all__ = ["EXPECTED", "LOAD_ALTERNATIVES", "LOAD_VARIANTS"]

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


@variant("E1_member_list_page_of_seven_answers_500", "E-1", into=LOAD_VARIANTS)
class MemberListPageOfSevenFaults(ReceiptService):
    """A member-list page of exactly seven members crashes the handler (an off-by-one in a
    page buffer): the call is answered 500, a server fault."""

    def get_group_message_read_member_list(
        self,
        caller: Caller,
        msg_id: str,
        member_filter: MemberFilter,
        next_seq: int,
        count: int,
    ) -> MemberPage:
        if count == 7:
            raise IndexError("page buffer overrun")
        return super().get_group_message_read_member_list(
            caller, msg_id, member_filter, next_seq, count
        )


@variant("R4_batch_with_own_message_refused", "R-4", into=LOAD_VARIANTS)
class BatchWithOwnMessageRefused(ReceiptService):
    """A receipt batch that names one of the caller's own messages is refused whole with 6017,
    though the spec says such messages are skipped and the call succeeds [R-4]: a refusal the
    spec forbids."""

    def send_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> None:
        def refuse_own(_: list[Event]) -> None:
            for message in self._storage.messages(list(dict.fromkeys(msg_ids))).values():
                if message.sender == caller.user_id:
                    raise ReceiptError(
                        Code.INVALID_PARAMETERS, f"message {message.msg_id} is the caller's own"
                    )

        self._run(refuse_own)
        super().send_message_read_receipts(caller, msg_ids)


EXPECTED: dict[str, str] = {
    "P3_concurrent_receipts_lose_updates": "read-count",
    "P3_receipt_push_published_late": "push-monotonic",
    "P1_replay_skips_the_first_missed_event": "seq-gap-free",
    "E1_member_list_page_of_seven_answers_500": "no-server-fault",
    "R4_batch_with_own_message_refused": "no-server-fault",
}
"""The invariant each variant must break (it may break others too)."""


LOAD_ALTERNATIVES: list[Variant] = []
"""Correct servers ``seenby load`` must pass, each refusing whole calls where the spec allows."""


@variant("pull_refused_whole_for_a_plain_message", into=LOAD_ALTERNATIVES)
class PullRefusedWholeForPlainMessage(ReceiptService):
    """Correct: a pull naming a message sent without needReadReceipt is refused as a whole with
    10062 ("receipt info does not exist") and changes nothing, instead of leaving that message
    out; the spec says only that such a message has no receipt information [S-3]."""

    def get_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> list[Receipt]:
        unique_ids = list(dict.fromkeys(msg_ids))

        def work(_: list[Event]) -> list[Receipt]:
            self._check_batch(unique_ids)
            messages = self._batch(caller, unique_ids, own=True)
            plain = [message for message in messages if not message.need_read_receipt]
            if plain:
                raise ReceiptError(
                    Code.RECEIPT_INFO_NOT_FOUND,
                    f"message {plain[0].msg_id} was sent without needReadReceipt: it has no "
                    "receipt information",
                )
            return [
                _receipt(m, None if m.group_id else self._storage.receipt_time(m)) for m in messages
            ]

        return self._run(work)
