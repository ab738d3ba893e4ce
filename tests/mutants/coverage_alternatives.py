"""Correct alternatives for the coverage scenarios: servers that declare smaller limits.

Registered in the correct-alternatives gallery by a one-line import in ``alternatives.py``
(before the combined ``every_choice`` is built, which leaves this one out: it contradicts
``capabilities_leave_member_list_limit_to_default``, which announces no page size limit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from seenby.contract.vocabulary import Code
from seenby.reference_server.domain import Caller, Presence
from seenby.reference_server.group_commit import EventSink
from seenby.reference_server.storage import Storage
from seenby.reference_server.values import (
    JsonObject,
    MemberFilter,
    MemberPage,
    ReceiptError,
    now_ms,
)

from .alternatives import _EditsCapabilities, alternative

DECLARED_PAGE_SIZE_MAX = 10
"""The member-list page size limit the alternative declares (the spec's is 100)."""
DECLARED_BATCH_MAX = 10
"""The receipt batch limit the alternative starts with (the spec's default is 30)."""


@alternative("smaller_declared_limits")
class SmallerDeclaredLimits(_EditsCapabilities):
    """Declares and enforces smaller core limits: member-list pages of at most 10 and, until
    the settings change it, receipt batches of at most 10. protocol.md §1.3 and §2: a target
    announces its own values of the spec's limits in its capabilities, and is held to them."""

    def __init__(
        self,
        storage: Storage,
        admin_key: str,
        sink: EventSink,
        presence: Presence,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        super().__init__(storage, admin_key, sink, presence, clock)
        settings = self._run(lambda _: self._storage.settings())
        smaller = dataclasses.replace(settings, receipt_batch_max=DECLARED_BATCH_MAX)
        self._run(lambda _: self._storage.save_settings(smaller))

    def edit_capabilities(self, capabilities: JsonObject) -> JsonObject:
        edited = super().edit_capabilities(capabilities)
        limits = edited["limits"]
        assert isinstance(limits, dict)
        return {**edited, "limits": {**limits, "memberListCountMax": DECLARED_PAGE_SIZE_MAX}}

    def get_group_message_read_member_list(
        self,
        caller: Caller,
        msg_id: str,
        member_filter: MemberFilter,
        next_seq: int,
        count: int,
    ) -> MemberPage:
        if count > DECLARED_PAGE_SIZE_MAX:
            raise ReceiptError(
                Code.INVALID_PARAMETERS, f"count must be between 1 and {DECLARED_PAGE_SIZE_MAX}"
            )
        return super().get_group_message_read_member_list(
            caller, msg_id, member_filter, next_seq, count
        )
