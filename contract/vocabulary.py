"""Every envelope code with its HTTP status, every push event name and every limit: written once.

docs/protocol.md, the JSON Schemas, the reference server and the harness are all held to this
module by ``tests/contract/test_vocabulary.py``.

Each entry carries its conformance level (docs/protocol.md "Conformance levels"): ``CORE`` when
the behaviour spec or the SDK facts require it of every server (the codes the spec names, the
limits it gives a number), ``STRICT`` when it is the reference server's own choice where the
spec is silent. A correct server may answer a strict code with another non-zero code and a
strict limit with another value; it deviates, it does not fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "CODES",
    "DEFAULT_LIMITS",
    "EVENT_NAMES",
    "LIMITS",
    "PROTOCOL",
    "SUCCESS",
    "ErrorCode",
    "Level",
    "Limit",
    "code_named",
    "http_status",
    "is_refusal_status",
]

PROTOCOL: Final = "seenby/1"
"""The protocol name and version every target announces in ``GET /v1/capabilities``."""


class Level(StrEnum):
    """How binding a requirement is: ``core`` (MUST) or ``strict`` (SHOULD: the reference's
    choice)."""

    CORE = "core"
    STRICT = "strict"


@dataclass(frozen=True)
class ErrorCode:
    """One envelope code of docs/protocol.md §1.2."""

    code: int
    http_status: int
    name: str
    level: Level
    """``CORE``: the spec names this code for its case [E-2]; ``STRICT``: seenby's own code."""


CODES: Final[tuple[ErrorCode, ...]] = (
    ErrorCode(0, 200, "success", Level.CORE),
    ErrorCode(6017, 400, "ERR_INVALID_PARAMETERS", Level.CORE),
    ErrorCode(7013, 403, "ERR_SDK_INTERFACE_NOT_SUPPORT", Level.CORE),
    ErrorCode(10004, 400, "invalid parameter (group REST)", Level.CORE),
    ErrorCode(10010, 404, "group not found", Level.CORE),
    ErrorCode(10015, 400, "invalid group ID", Level.CORE),
    ErrorCode(10021, 409, "group ID in use", Level.STRICT),
    ErrorCode(10062, 404, "receipt info does not exist", Level.CORE),
    ErrorCode(90001, 401, "unauthenticated", Level.STRICT),
    ErrorCode(90002, 403, "wrong credential", Level.STRICT),
    ErrorCode(90003, 404, "unknown route", Level.STRICT),
    ErrorCode(90004, 405, "method not allowed", Level.STRICT),
    ErrorCode(90005, 413, "body too large", Level.STRICT),
    ErrorCode(90006, 400, "malformed request", Level.STRICT),
    ErrorCode(90007, 409, "user exists", Level.STRICT),
    ErrorCode(90101, 403, "group type without receipts", Level.STRICT),
    ErrorCode(90102, 403, "group too large for receipts", Level.STRICT),
    ErrorCode(90103, 404, "feature not offered", Level.STRICT),
    ErrorCode(90500, 500, "internal error", Level.STRICT),
)
"""Every code a seenby server sends, in the order of docs/protocol.md §1.2."""

SUCCESS: Final = 0
_BY_CODE: Final = {entry.code: entry for entry in CODES}


def code_named(code: int) -> ErrorCode | None:
    """The table entry of ``code``, or ``None`` for a code the protocol does not list."""
    return _BY_CODE.get(code)


def http_status(code: int) -> int:
    """The HTTP status docs/protocol.md pairs with ``code`` (``KeyError`` for an unlisted one)."""
    return _BY_CODE[code].http_status


def is_refusal_status(status: int) -> bool:
    """Whether ``status`` is what every server answers a refused call with: a 4xx [E-1]."""
    return 400 <= status < 500


ON_RECV_NEW_MESSAGE: Final = "onRecvNewMessage"
ON_RECV_MESSAGE_READ_RECEIPTS: Final = "onRecvMessageReadReceipts"
ON_RECV_C2C_READ_RECEIPT: Final = "onRecvC2CReadReceipt"
ON_REPLAY_GAP: Final = "onReplayGap"
EVENT_NAMES: Final = (
    ON_RECV_NEW_MESSAGE,
    ON_RECV_MESSAGE_READ_RECEIPTS,
    ON_RECV_C2C_READ_RECEIPT,
    ON_REPLAY_GAP,
)
"""Every push event name of docs/protocol.md §6, in its table's order."""


@dataclass(frozen=True)
class Limit:
    """One limit of docs/protocol.md §1.3 or §2: its value in the reference server and level."""

    name: str
    value: int
    level: Level
    """``CORE``: the spec gives this number (a default a target may announce otherwise in its
    capabilities); ``STRICT``: the reference server's choice where the spec gives none."""


RECEIPT_BATCH_MAX: Final = Limit("receiptBatchMax", 30, Level.CORE)  # default 30
MEMBER_LIST_COUNT_MAX: Final = Limit("memberListCountMax", 100, Level.CORE)  # [L-2]
GROUP_RECEIPT_MAX_MEMBERS: Final = Limit("groupReceiptMaxMembers", 200, Level.CORE)
HISTORY_COUNT_MAX: Final = Limit("historyCountMax", 100, Level.STRICT)
BODY_MAX_BYTES: Final = Limit("bodyMaxBytes", 1_048_576, Level.STRICT)
NESTING_MAX: Final = Limit("nestingMax", 32, Level.STRICT)
ID_MAX_CHARS: Final = Limit("idMaxChars", 64, Level.STRICT)
NICK_NAME_MAX_CHARS: Final = Limit("nickNameMaxChars", 64, Level.STRICT)
FACE_URL_MAX_CHARS: Final = Limit("faceURLMaxChars", 1024, Level.STRICT)
ELEM_TEXT_MAX_BYTES: Final = Limit("elemTextMaxBytes", 12_000, Level.STRICT)
ELEM_DESC_MAX_CHARS: Final = Limit("elemDescMaxChars", 1024, Level.STRICT)
ADMIN_ID_LIST_MAX: Final = Limit("adminIDListMax", 1000, Level.STRICT)
REPLAY_RETAINED_EVENTS: Final = Limit("replayRetainedEvents", 10_000, Level.STRICT)
SAFE_INTEGER_MAX: Final = Limit("safeIntegerMax", 2**53, Level.STRICT)
GROUP_RECEIPT_MAX_MEMBERS_CEILING: Final = Limit(
    "groupReceiptMaxMembersCeiling", 1_000_000, Level.STRICT
)
RECEIPT_BATCH_MAX_CEILING: Final = Limit("receiptBatchMaxCeiling", 1000, Level.STRICT)

LIMITS: Final[tuple[Limit, ...]] = (
    RECEIPT_BATCH_MAX,
    MEMBER_LIST_COUNT_MAX,
    GROUP_RECEIPT_MAX_MEMBERS,
    HISTORY_COUNT_MAX,
    BODY_MAX_BYTES,
    NESTING_MAX,
    ID_MAX_CHARS,
    NICK_NAME_MAX_CHARS,
    FACE_URL_MAX_CHARS,
    ELEM_TEXT_MAX_BYTES,
    ELEM_DESC_MAX_CHARS,
    ADMIN_ID_LIST_MAX,
    REPLAY_RETAINED_EVENTS,
    SAFE_INTEGER_MAX,
    GROUP_RECEIPT_MAX_MEMBERS_CEILING,
    RECEIPT_BATCH_MAX_CEILING,
)
"""Every limit of the protocol."""

DEFAULT_LIMITS: Final = {limit.name: limit.value for limit in LIMITS if limit.level is Level.CORE}
"""The limits ``GET /v1/capabilities`` announces, at the spec's defaults: what the suite assumes
when a target leaves one out."""
