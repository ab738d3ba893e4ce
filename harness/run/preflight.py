"""The preflight: before any scenario, one round trip through each part of a target.

A target whose whole push channel is broken would otherwise make every scenario wait out its
time budget for pushes that never come (minutes for a verdict). The preflight tries, once per
process and within one time budget per part: discovery, user calls (two fresh users, one C2C
message that needs a receipt), the new-message push and the receipt push. A part that fails is
named with its reason; the suite then fails at once every scenario that needs that part,
repeating the reason, and runs the rest as usual.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from seenby.contract.vocabulary import ON_RECV_MESSAGE_READ_RECEIPTS, ON_RECV_NEW_MESSAGE
from seenby.harness.api.target import Target
from seenby.harness.wire.push import WaitTimeout
from seenby.harness.wire.transport import ApiError, NoAnswer, ProtocolViolation

__all__ = ["BLOCKING_PARTS", "PUSH_PARTS", "Preflight", "run_preflight"]

DISCOVERY = "discovery"
USER_CALLS = "user calls"
MESSAGE_PUSH = "the new-message push"
RECEIPT_PUSH = "the receipt push"

BLOCKING_PARTS = (DISCOVERY, USER_CALLS)
"""Parts every scenario needs: when one fails, every scenario fails with its reason."""
PUSH_PARTS: Mapping[str, str] = {
    MESSAGE_PUSH: ON_RECV_NEW_MESSAGE,
    RECEIPT_PUSH: ON_RECV_MESSAGE_READ_RECEIPTS,
}
"""Push parts and the event each delivers: when one fails, waits for that event fail at once."""


@dataclass(frozen=True)
class Preflight:
    """What the preflight found: ``failures`` maps each failed part to its reason."""

    failures: Mapping[str, str] = field(default_factory=dict)

    @property
    def blocking_failure(self) -> str | None:
        """The reason every scenario must fail, if a part they all need failed."""
        for part in BLOCKING_PARTS:
            if part in self.failures:
                return f"preflight: {part} failed: {self.failures[part]}"
        return None

    @property
    def undeliverable_events(self) -> dict[str, str]:
        """Event name → why the target is known not to deliver it."""
        return {
            event: f"{part} does not work ({self.failures[part]})"
            for part, event in PUSH_PARTS.items()
            if part in self.failures
        }


def run_preflight(target: Target) -> Preflight:
    """Try each part of ``target`` once (see the module docstring)."""
    failures: dict[str, str] = {}
    try:
        target.capabilities  # noqa: B018 - reading it is the check
    except (ApiError, ProtocolViolation, OSError) as error:
        return Preflight({DISCOVERY: _first_line(error)})
    try:
        sender, reader = target.users("preflight-sender", "preflight-reader")
    except (ApiError, ProtocolViolation, OSError) as error:
        return Preflight({USER_CALLS: _first_line(error)})
    try:
        with contextlib.ExitStack() as streams:
            try:
                sender_stream = streams.enter_context(sender.connect())
                reader_stream = streams.enter_context(reader.connect())
            except NoAnswer as error:  # the push channel gave no upgrade answer in time
                return Preflight(dict.fromkeys(PUSH_PARTS, _first_line(error)))
            message = sender.send_text("preflight", to=reader, need_read_receipt=True)
            try:
                reader_stream.wait_for(
                    lambda e: (
                        e.name == ON_RECV_NEW_MESSAGE and e.data.get("msgID") == message.msg_id
                    ),
                    description="the preflight's message",
                )
            except (WaitTimeout, ProtocolViolation) as missing:
                failures[MESSAGE_PUSH] = _first_line(missing)
            reader.send_message_read_receipts([message])
            try:
                sender_stream.wait_for(
                    lambda e: e.name == ON_RECV_MESSAGE_READ_RECEIPTS,
                    description="the receipt push of the preflight's message",
                )
            except (WaitTimeout, ProtocolViolation) as missing:
                failures[RECEIPT_PUSH] = _first_line(missing)
    except (ApiError, ProtocolViolation, OSError) as error:
        failures.setdefault(USER_CALLS, _first_line(error))
    finally:
        sender.close()
        reader.close()
    return Preflight(failures)


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
