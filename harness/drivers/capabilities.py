"""What a driver can express: the capability names scenarios declare with ``@needs-<name>``.

A scenario tagged ``@needs-<name>`` runs only through a driver that declares ``<name>``;
through any other it is *not applicable* (its own verdict, never a pass). Three of the names are
also optional features a seenby-wire target advertises in ``GET /v1/capabilities``: through the
``seenby`` driver, a scenario needing one the target does not advertise is skipped, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = [
    "ADMIN_SETTINGS",
    "CAPABILITIES",
    "EVENT_REPLAY",
    "GROUP_TYPES",
    "NEEDS_PREFIX",
    "NOT_APPLICABLE_PREFIX",
    "ONLINE_USER_ONLY",
    "RAW_WIRE",
    "TARGET_FEATURES",
    "NotApplicable",
    "not_applicable_reason",
]

NEEDS_PREFIX: Final = "needs-"
"""The tag prefix: ``@needs-raw-wire`` names the capability ``raw-wire``."""

RAW_WIRE: Final = "raw-wire"
ADMIN_SETTINGS: Final = "adminSettings"
EVENT_REPLAY: Final = "eventReplay"
GROUP_TYPES: Final = "group-types"
ONLINE_USER_ONLY: Final = "onlineUserOnly"

CAPABILITIES: Final[Mapping[str, str]] = {
    RAW_WIRE: "seenby protocol v1 itself: envelopes, HTTP statuses, malformed bodies, headers, "
    "the WebSocket handshake and `since` on its URL (the raw calls `call`, `post_raw`, "
    "`request_raw`)",
    ADMIN_SETTINGS: "application settings an administrator reads and changes: edition, group "
    "types with receipts, member ceiling, batch limit",
    EVENT_REPLAY: "replay of a user's missed push events after a given event sequence number",
    ONLINE_USER_ONLY: "messages that reach only the recipients online when they are sent",
    GROUP_TYPES: "groups of the five V2TIM types (Work, Public, Meeting, Community, AVChatRoom), "
    "each with its own receipt rules",
}
"""Every capability a driver may declare, with what it means."""

TARGET_FEATURES: Final = frozenset({ADMIN_SETTINGS, EVENT_REPLAY, ONLINE_USER_ONLY})
"""Capabilities that are also optional features a seenby-wire target advertises."""

NOT_APPLICABLE_PREFIX: Final = "not applicable: "
"""How the skip reason of a not-applicable scenario begins; reports give it its own verdict."""


def not_applicable_reason(driver: str, capability: str) -> str:
    """The skip reason of a scenario that needs ``capability``, which ``driver`` lacks."""
    return f"{NOT_APPLICABLE_PREFIX}driver '{driver}' lacks capability '{capability}'"


class NotApplicable(Exception):
    """A call the driver cannot express: its target's API has no ``capability``."""

    def __init__(self, capability: str, call: str) -> None:
        super().__init__(
            f"{call} needs the driver capability '{capability}', which this driver lacks "
            f"(tag the scenario @{NEEDS_PREFIX}{capability})"
        )
        self.capability = capability
