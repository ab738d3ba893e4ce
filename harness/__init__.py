"""seenby harness: targets, wire clients, schema validation and reports.

Typical use (``open_target()`` starts the bundled reference server; ``open_target(url,
admin_key)`` reaches a deployment)::

    from seenby.harness import open_target

    with open_target() as target:
        alice, bob = target.users("alice", "bob")
        msg = alice.send_text("lunch?", to=bob, need_read_receipt=True)
        bob.send_message_read_receipts([msg])
        alice.get_message_read_receipts([msg])
"""

from seenby.contract.vocabulary import (
    BODY_MAX_BYTES,
    DEFAULT_LIMITS,
    HISTORY_COUNT_MAX,
    NESTING_MAX,
    ON_RECV_C2C_READ_RECEIPT,
    ON_RECV_MESSAGE_READ_RECEIPTS,
    ON_RECV_NEW_MESSAGE,
    Code,
    Level,
    code_named,
    http_status,
    is_refusal_status,
)
from seenby.harness.api.client import WALK_MAX_PAGES, AdminClient, UserClient
from seenby.harness.api.models import (
    Capabilities,
    Conversation,
    Event,
    Group,
    MemberInfo,
    Message,
    ReadFilter,
    ReadMemberPage,
    Receipt,
    ResultList,
    Settings,
)
from seenby.harness.api.target import BundledTarget, RemoteTarget, Target, open_target
from seenby.harness.drivers import Driver, get_driver, installed_drivers
from seenby.harness.drivers.capabilities import NotApplicable
from seenby.harness.wire.deviations import Deviation, DeviationLog, StrictCheck, strict_check
from seenby.harness.wire.push import PushStream, SeqGap, UnexpectedEvent, WaitTimeout
from seenby.harness.wire.transport import (
    DEFAULT_TIMEOUT,
    ApiError,
    NoAnswer,
    ProtocolViolation,
    ServerFault,
    WireResponse,
    status_deviation,
)
from seenby.harness.wire.validation import SchemaViolation

__all__ = [
    "BODY_MAX_BYTES",
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "HISTORY_COUNT_MAX",
    "NESTING_MAX",
    "ON_RECV_C2C_READ_RECEIPT",
    "ON_RECV_MESSAGE_READ_RECEIPTS",
    "ON_RECV_NEW_MESSAGE",
    "WALK_MAX_PAGES",
    "AdminClient",
    "ApiError",
    "BundledTarget",
    "Capabilities",
    "Code",
    "Conversation",
    "Deviation",
    "DeviationLog",
    "Driver",
    "Event",
    "Group",
    "Level",
    "MemberInfo",
    "Message",
    "NoAnswer",
    "NotApplicable",
    "ProtocolViolation",
    "PushStream",
    "ReadFilter",
    "ReadMemberPage",
    "Receipt",
    "RemoteTarget",
    "ResultList",
    "SchemaViolation",
    "SeqGap",
    "ServerFault",
    "Settings",
    "StrictCheck",
    "Target",
    "UnexpectedEvent",
    "UserClient",
    "WaitTimeout",
    "WireResponse",
    "code_named",
    "get_driver",
    "http_status",
    "installed_drivers",
    "is_refusal_status",
    "open_target",
    "status_deviation",
    "strict_check",
]
