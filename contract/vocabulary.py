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
from enum import IntEnum, StrEnum
from typing import Final

__all__ = [
    "C2C_CONVERSATION_PREFIX",
    "CODES",
    "DEFAULT_LIMITS",
    "EVENTS",
    "EVENT_NAMES",
    "GROUP_CONVERSATION_PREFIX",
    "LIMITS",
    "PROTOCOL",
    "SUCCESS",
    "Code",
    "ErrorCode",
    "Level",
    "Limit",
    "PushEvent",
    "Unit",
    "c2c_conversation_id",
    "code_named",
    "group_conversation_id",
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


class Code(IntEnum):
    """Every envelope code of docs/protocol.md §1.2, by the name the code of both sides uses."""

    OK = 0
    INVALID_PARAMETERS = 6017
    INTERFACE_NOT_SUPPORTED = 7013
    ADMIN_INVALID_PARAMETER = 10004
    GROUP_NOT_FOUND = 10010
    INVALID_GROUP_ID = 10015
    GROUP_ID_IN_USE = 10021
    RECEIPT_INFO_NOT_FOUND = 10062
    UNAUTHENTICATED = 90001
    WRONG_CREDENTIAL = 90002
    UNKNOWN_ROUTE = 90003
    METHOD_NOT_ALLOWED = 90004
    BODY_TOO_LARGE = 90005
    MALFORMED_BODY = 90006
    USER_EXISTS = 90007
    GROUP_TYPE_WITHOUT_RECEIPTS = 90101
    GROUP_TOO_LARGE = 90102
    FEATURE_NOT_OFFERED = 90103
    INTERNAL_ERROR = 90500


@dataclass(frozen=True)
class ErrorCode:
    """One envelope code of docs/protocol.md §1.2: one row of its table."""

    code: Code
    http_status: int
    name: str
    """The name the SDK documents (``ERR_INVALID_PARAMETERS``), or a short one of seenby's."""
    level: Level
    """``CORE``: the spec names this code for its case [E-2]; ``STRICT``: seenby's own code."""
    when: str
    """When a server answers it, as docs/protocol.md says; ``{limitName}`` stands for a limit."""


CODES: Final[tuple[ErrorCode, ...]] = (
    ErrorCode(Code.OK, 200, "success", Level.CORE, ""),
    ErrorCode(
        Code.INVALID_PARAMETERS,
        400,
        "`ERR_INVALID_PARAMETERS`",
        Level.CORE,
        "a user method's body is invalid: missing or unknown field, wrong type, value out of "
        "range, empty or oversize batch, messages from more than one conversation, a message the "
        "caller may not see or did not send where it must have, an unknown C2C peer "
        "[R-1, R-2, R-3, Q-3, L-2, X-2]",
    ),
    ErrorCode(
        Code.INTERFACE_NOT_SUPPORTED,
        403,
        "`ERR_SDK_INTERFACE_NOT_SUPPORT`",
        Level.CORE,
        "the application's edition lacks read receipts: `sendMessage` with "
        "`needReadReceipt: true`, `sendMessageReadReceipts`, `getMessageReadReceipts`, "
        "`getGroupMessageReadMemberList` [A-1]",
    ),
    ErrorCode(
        Code.ADMIN_INVALID_PARAMETER,
        400,
        "invalid parameter (group REST)",
        Level.CORE,
        "an admin method's body is invalid (unknown user, bad group type, bad setting value, "
        "unknown field, removing the owner)",
    ),
    ErrorCode(
        Code.GROUP_NOT_FOUND,
        404,
        "group not found",
        Level.CORE,
        "the group does not exist — or, for a user method, the caller is not a member of it: "
        "the two answers are identical, so non-members learn nothing [X-2]",
    ),
    ErrorCode(
        Code.INVALID_GROUP_ID,
        400,
        "invalid group ID",
        Level.CORE,
        "`admin/createGroup` with a `groupID` that is empty, too long or has control characters",
    ),
    ErrorCode(
        Code.GROUP_ID_IN_USE,
        409,
        "group ID in use",
        Level.STRICT,
        "`admin/createGroup` with a `groupID` that exists",
    ),
    ErrorCode(
        Code.RECEIPT_INFO_NOT_FOUND,
        404,
        "receipt info does not exist",
        Level.CORE,
        "`getGroupMessageReadMemberList` for the caller's own group message sent without "
        "`needReadReceipt` [S-3, L-2]",
    ),
    ErrorCode(
        Code.UNAUTHENTICATED,
        401,
        "unauthenticated",
        Level.STRICT,
        "no `Authorization` header, or a token / key the server does not know",
    ),
    ErrorCode(
        Code.WRONG_CREDENTIAL,
        403,
        "wrong credential",
        Level.STRICT,
        "a user token on an admin method, or the admin key on a user method",
    ),
    ErrorCode(
        Code.UNKNOWN_ROUTE,
        404,
        "unknown route",
        Level.STRICT,
        "a path that is not a method of this page",
    ),
    ErrorCode(
        Code.METHOD_NOT_ALLOWED,
        405,
        "method not allowed",
        Level.STRICT,
        "a known path with the wrong HTTP method (`Allow` header set)",
    ),
    ErrorCode(
        Code.BODY_TOO_LARGE,
        413,
        "body too large",
        Level.STRICT,
        "a body over {bodyMaxBytes}",
    ),
    ErrorCode(
        Code.MALFORMED_BODY,
        400,
        "malformed request",
        Level.STRICT,
        "body not valid UTF-8, not JSON, not a JSON object, duplicate keys, nesting deeper than "
        "{nestingMax}, numbers outside ±2^53, missing `Content-Length`, "
        "`Transfer-Encoding: chunked`; or `GET /v1/events` without a WebSocket upgrade",
    ),
    ErrorCode(
        Code.USER_EXISTS,
        409,
        "user exists",
        Level.STRICT,
        "`admin/createUser` for a user ID that exists",
    ),
    ErrorCode(
        Code.GROUP_TYPE_WITHOUT_RECEIPTS,
        403,
        "group type without receipts",
        Level.STRICT,
        "`sendMessage` with `needReadReceipt: true` to a group whose type is not enabled in "
        "`groupReceiptTypes`, or is `Community` / `AVChatRoom` (never supported) [A-2, A-3]",
    ),
    ErrorCode(
        Code.GROUP_TOO_LARGE,
        403,
        "group too large for receipts",
        Level.STRICT,
        "`sendMessage` with `needReadReceipt: true` to a group with more than "
        "`groupReceiptMaxMembers` members [A-4]",
    ),
    ErrorCode(
        Code.FEATURE_NOT_OFFERED,
        404,
        "feature not offered",
        Level.STRICT,
        "an admin method behind a capability the deployment does not advertise (e.g. "
        "`admin/setSettings` without `adminSettings`); the reference server offers every "
        "feature and never sends it",
    ),
    ErrorCode(
        Code.INTERNAL_ERROR,
        500,
        "internal error",
        Level.STRICT,
        "a server fault; the body never carries a traceback",
    ),
)
"""Every code a seenby server sends, in the order of docs/protocol.md §1.2."""

SUCCESS: Final = 0
_BY_CODE: Final[dict[int, ErrorCode]] = {entry.code: entry for entry in CODES}


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


@dataclass(frozen=True)
class PushEvent:
    """One push event of docs/protocol.md §6: one row of its table."""

    name: str
    data: str
    """What the frame's ``data`` holds."""
    to: str
    """Who receives it."""


EVENTS: Final[tuple[PushEvent, ...]] = (
    PushEvent(
        ON_RECV_NEW_MESSAGE, "`V2TimMessage` as the recipient sees it", "each recipient [S-1]"
    ),
    PushEvent(
        ON_RECV_MESSAGE_READ_RECEIPTS,
        "array of `V2TimMessageReceipt` (group or C2C shape)",
        "the message's sender [P-1]",
    ),
    PushEvent(
        ON_RECV_C2C_READ_RECEIPT,
        "array with one conversation-mark receipt",
        "the peer of the marking user [C-1]",
    ),
    PushEvent(
        ON_REPLAY_GAP,
        '`{"since": N, "firstAvailableSeq": M}`',
        "the connecting client, see §6.1",
    ),
)
"""Every push event, in the order of docs/protocol.md §6."""

EVENT_NAMES: Final = tuple(event.name for event in EVENTS)
"""Every push event name of docs/protocol.md §6, in its table's order."""

C2C_CONVERSATION_PREFIX: Final = "c2c_"
GROUP_CONVERSATION_PREFIX: Final = "group_"


def c2c_conversation_id(peer_id: str) -> str:
    """The conversation ID of a one-to-one chat with ``peer_id``, as V2TIM spells it."""
    return C2C_CONVERSATION_PREFIX + peer_id


def group_conversation_id(group_id: str) -> str:
    """The conversation ID of the group chat ``group_id``, as V2TIM spells it."""
    return GROUP_CONVERSATION_PREFIX + group_id


class Unit(StrEnum):
    """What a limit counts, which decides how docs/protocol.md prints its value."""

    COUNT = "count"
    BYTES = "bytes"
    SECONDS = "seconds"


@dataclass(frozen=True)
class Limit:
    """One limit of docs/protocol.md §1.3 or §2: its value in the reference server and level."""

    name: str
    value: int
    level: Level
    """``CORE``: the spec gives this number (a default a target may announce otherwise in its
    capabilities); ``STRICT``: the reference server's choice where the spec gives none."""
    unit: Unit = Unit.COUNT
    row: str = ""
    """The limit's row in docs/protocol.md §1.3 (empty: no row of its own)."""
    rule: str = ""
    """The row's value column; ``{limitName}`` stands for a limit's value as printed."""
    codes: tuple[Code, ...] = ()
    """The codes a call over the limit is refused with."""

    def printed(self) -> str:
        """The value as docs/protocol.md prints it (``1 MiB``, ``1,024``, ``20 s``)."""
        if self.unit is Unit.SECONDS:
            return f"{self.value:,} s"
        if self.unit is Unit.BYTES:
            for size, suffix in ((1 << 20, "MiB"), (1 << 10, "KiB")):
                if self.value % size == 0:
                    return f"{self.value // size} {suffix}"
        return f"{self.value:,}"


_INVALID = (Code.INVALID_PARAMETERS,)
_ADMIN_INVALID = (Code.ADMIN_INVALID_PARAMETER,)

RECEIPT_BATCH_MAX: Final = Limit(
    "receiptBatchMax",
    30,
    Level.CORE,  # default 30
    row="`msgIDs` per call",
    rule="1..`receiptBatchMax` (default {receiptBatchMax}) distinct IDs "
    "(**[strict]** a repeated ID counts once)",
    codes=_INVALID,
)
MEMBER_LIST_COUNT_MAX: Final = Limit(
    "memberListCountMax",
    100,
    Level.CORE,  # [L-2]
    row="`getGroupMessageReadMemberList.count`",
    rule="1..`memberListCountMax` ({memberListCountMax})",
    codes=_INVALID,
)
GROUP_RECEIPT_MAX_MEMBERS: Final = Limit("groupReceiptMaxMembers", 200, Level.CORE)
HISTORY_COUNT_MAX: Final = Limit(
    "historyCountMax",
    100,
    Level.STRICT,
    row="`getHistoryMessageList.count`",
    rule="1–{historyCountMax}",
    codes=_INVALID,
)
BODY_MAX_BYTES: Final = Limit(
    "bodyMaxBytes",
    1_048_576,
    Level.STRICT,
    Unit.BYTES,
    row="request body",
    rule="{bodyMaxBytes}",
    codes=(Code.BODY_TOO_LARGE,),
)
NESTING_MAX: Final = Limit(
    "nestingMax",
    32,
    Level.STRICT,
    row="JSON nesting depth",
    rule="{nestingMax}",
    codes=(Code.MALFORMED_BODY,),
)
ID_MAX_CHARS: Final = Limit(
    "idMaxChars",
    64,
    Level.STRICT,
    row="`userID`, `groupID`",
    rule="1–{idMaxChars} characters, no C0 control characters (U+0000–U+001F) or DEL",
    codes=(Code.INVALID_PARAMETERS, Code.ADMIN_INVALID_PARAMETER, Code.INVALID_GROUP_ID),
)
NICK_NAME_MAX_CHARS: Final = Limit(
    "nickNameMaxChars",
    64,
    Level.STRICT,
    row="`nickName`",
    rule="0–{nickNameMaxChars} characters",
    codes=_ADMIN_INVALID,
)
FACE_URL_MAX_CHARS: Final = Limit(
    "faceURLMaxChars",
    1024,
    Level.STRICT,
    row="`faceURL`",
    rule="0–{faceURLMaxChars} characters",
    codes=_ADMIN_INVALID,
)
ELEM_TEXT_MAX_BYTES: Final = Limit(
    "elemTextMaxBytes",
    12_000,
    Level.STRICT,
    row="`elem.text`, `elem.data`",
    rule="0–{elemTextMaxBytes} UTF-8 bytes",
    codes=_INVALID,
)
ELEM_DESC_MAX_CHARS: Final = Limit(
    "elemDescMaxChars",
    1024,
    Level.STRICT,
    row="`elem.desc`, `elem.extension`",
    rule="0–{elemDescMaxChars} characters",
    codes=_INVALID,
)
ADMIN_ID_LIST_MAX: Final = Limit(
    "adminIDListMax",
    1000,
    Level.STRICT,
    row="`memberIDs` / `userIDs` per admin call",
    rule="0–{adminIDListMax}",
    codes=_ADMIN_INVALID,
)
PUSH_QUEUE_EVENTS: Final = Limit(
    "pushQueueEvents",
    1024,
    Level.STRICT,
    row="WebSocket: outgoing queue per connection",
    rule="{pushQueueEvents} events; a connection whose queue is full is closed with 1008 and may "
    "reconnect with `since`",
)
PUSH_INCOMING_MAX_BYTES: Final = Limit(
    "pushIncomingMaxBytes",
    65_536,
    Level.STRICT,
    Unit.BYTES,
    row="WebSocket: incoming message",
    rule="{pushIncomingMaxBytes}; larger closes with 1009",
)
REQUEST_SECONDS: Final = Limit(
    "requestSeconds",
    10,
    Level.STRICT,
    Unit.SECONDS,
    row="WebSocket: handshake",
    rule="the upgrade request must arrive within {requestSeconds}",
)
PING_INTERVAL_SECONDS: Final = Limit(
    "pingIntervalSeconds",
    20,
    Level.STRICT,
    Unit.SECONDS,
    row="WebSocket: keep-alive",
    rule="the server pings every {pingIntervalSeconds} and closes a peer silent for {idleSeconds}",
)
CONNECTIONS_MAX: Final = Limit(
    "connectionsMax",
    4096,
    Level.STRICT,
    row="connections",
    rule="{connectionsMax} open connections; past that a new connection is closed at once",
)
IDLE_SECONDS: Final = Limit(
    "idleSeconds",
    60,
    Level.STRICT,
    Unit.SECONDS,
    row="idle HTTP keep-alive",
    rule="closed after {idleSeconds} without a request",
)
REPLAY_RETAINED_EVENTS: Final = Limit("replayRetainedEvents", 10_000, Level.STRICT)
SAFE_INTEGER_MAX: Final = Limit("safeIntegerMax", 2**53, Level.STRICT)
GROUP_RECEIPT_MAX_MEMBERS_CEILING: Final = Limit(
    "groupReceiptMaxMembersCeiling", 1_000_000, Level.STRICT
)
RECEIPT_BATCH_MAX_CEILING: Final = Limit("receiptBatchMaxCeiling", 1000, Level.STRICT)

LIMITS: Final[tuple[Limit, ...]] = (
    BODY_MAX_BYTES,
    NESTING_MAX,
    ID_MAX_CHARS,
    NICK_NAME_MAX_CHARS,
    FACE_URL_MAX_CHARS,
    ELEM_TEXT_MAX_BYTES,
    ELEM_DESC_MAX_CHARS,
    RECEIPT_BATCH_MAX,
    HISTORY_COUNT_MAX,
    MEMBER_LIST_COUNT_MAX,
    ADMIN_ID_LIST_MAX,
    PUSH_QUEUE_EVENTS,
    PUSH_INCOMING_MAX_BYTES,
    REQUEST_SECONDS,
    PING_INTERVAL_SECONDS,
    CONNECTIONS_MAX,
    IDLE_SECONDS,
    GROUP_RECEIPT_MAX_MEMBERS,
    REPLAY_RETAINED_EVENTS,
    SAFE_INTEGER_MAX,
    GROUP_RECEIPT_MAX_MEMBERS_CEILING,
    RECEIPT_BATCH_MAX_CEILING,
)
"""Every limit of the protocol; those with a row in the order of docs/protocol.md §1.3."""

DEFAULT_LIMITS: Final = {limit.name: limit.value for limit in LIMITS if limit.level is Level.CORE}
"""The limits ``GET /v1/capabilities`` announces, at the spec's defaults: what the suite assumes
when a target leaves one out."""
