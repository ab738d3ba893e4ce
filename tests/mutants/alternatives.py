"""The gallery of correct alternatives: the reference server making the other allowed choices.

Where docs/spec/receipts-spec.md and docs/spec/protocol-v1.md leave room (a code for a case
no source names, an exact HTTP status, refusing or ignoring an unknown field, a limit with no
number in the spec, ...), docs/protocol.md records the reference server's own choice. A server
that chose otherwise is still correct: the suite must pass it at its core level and, at its
strict level, report each such choice as a deviation and nothing else.

Each alternative here is the reference server with one or more of its pieces replaced by a
subclass that makes the other choice on one latitude point and overrides as little as it can.
It is registered with ``@alternative(NAME, *SECTIONS)``: ``SECTIONS`` are the docs/protocol.md
sections (``"§1.2"``) whose strict checks the choice should trip, empty when the suite has no
strict check that can see it; the class docstring says which choice it makes and why the spec
allows it. ``every_choice`` makes all of them at once, except one_status_for_every_refusal, which
excludes own_statuses_for_spec_codes.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from seenby.contract import vocabulary
from seenby.contract.vocabulary import Code
from seenby.reference_server.domain import (
    ON_RECV_C2C_READ_RECEIPT,
    Caller,
    ReceiptService,
)
from seenby.reference_server.http_api import MAX_SAFE_INTEGER, RequestHandler
from seenby.reference_server.methods import METHODS
from seenby.reference_server.push import PushHub
from seenby.reference_server.storage import SqliteStorage
from seenby.reference_server.values import (
    Capabilities,
    Chat,
    Elem,
    Event,
    Group,
    JsonObject,
    JsonValue,
    MemberFilter,
    MemberPage,
    Message,
    MessageView,
    NewUser,
    Receipt,
    ReceiptError,
    TextElem,
)

from .gallery import REFERENCE, Variant, _BodyRewritingHandler, variant_named

__all__ = [
    "ALTERNATIVES",
    "Alternative",
    "alternative",
    "alternative_named",
    "server_named",
]

Piece = TypeVar("Piece", bound=type)


@dataclass(frozen=True)
class Alternative:
    """A correct server that chose differently from the reference where the spec allows it."""

    server: Variant
    """The server, assembled like a gallery variant (``server.bug`` is the choice it makes)."""
    deviates: tuple[str, ...]
    """The docs/protocol.md sections (``"§1.2"``) where a strict run should report it."""

    @property
    def name(self) -> str:
        """The alternative's name (that of its server)."""
        return self.server.name

    @property
    def choice(self) -> str:
        """Which choice it makes and why the spec allows it."""
        return self.server.bug

    @property
    def layers(self) -> list[str]:
        """The pieces of the server it replaces (``rules``, ``storage``, ``http``, ``push``)."""
        return [
            layer
            for layer, field in _LAYERS.items()
            if getattr(self.server, field) is not getattr(REFERENCE, field)
        ]


ALTERNATIVES: list[Alternative] = []
"""Every correct alternative, the combined one last."""

_PIECES = {
    ReceiptService: "service",
    SqliteStorage: "storage",
    RequestHandler: "handler",
    PushHub: "hub",
}
_LAYERS = {"rules": "service", "storage": "storage", "http": "handler", "push": "hub"}
_SECTION = re.compile(r"§\d+(?:\.\d+)*")


def alternative(name: str, *sections: str) -> Callable[[Piece], Piece]:
    """Register the decorated subclass of a server piece as the alternative ``name``, expected to
    deviate at ``sections`` of docs/protocol.md."""
    assert all(_SECTION.fullmatch(section) for section in sections), sections

    def register(piece: Piece) -> Piece:
        (field,) = [field for base, field in _PIECES.items() if issubclass(piece, base)]
        # __doc__, not inspect.getdoc: an alternative must not inherit its piece's docstring.
        choice = piece.__doc__
        assert choice, f"alternative {name} needs a docstring saying which choice it makes"
        server = Variant(name, (), " ".join(choice.split()), **{field: piece})
        ALTERNATIVES.append(Alternative(server, tuple(sections)))
        return piece

    return register


def alternative_named(name: str) -> Alternative:
    """The correct alternative called ``name``."""
    for each in ALTERNATIVES:
        if each.name == name:
            return each
    raise KeyError(f"no correct alternative is called {name!r}")


def server_named(name: str) -> Variant:
    """The server called ``name``: a correct alternative, a faulty variant or ``reference``."""
    try:
        return alternative_named(name).server
    except KeyError:
        return variant_named(name)


# -- hooks shared by several alternatives --------------------------------------------------------


@dataclass(frozen=True)
class _EditedCapabilities(Capabilities):
    edit: Callable[[JsonObject], JsonObject]

    def to_json(self) -> JsonObject:
        return self.edit(super().to_json())


class _EditsCapabilities(ReceiptService):
    """A service whose ``GET /v1/capabilities`` answer passes through ``edit_capabilities``."""

    def capabilities(self) -> Capabilities:
        return _EditedCapabilities(super().capabilities().settings, self.edit_capabilities)

    def edit_capabilities(self, capabilities: JsonObject) -> JsonObject:
        """The capabilities this server announces (subclasses edit, then call ``super``)."""
        return capabilities


class _AnswersItsOwnWay(RequestHandler):
    """A handler that writes the envelope through three hooks: the code on the wire, the HTTP
    status, and the envelope object itself (the reference's ``_send_envelope`` otherwise)."""

    def wire_code(self, code: Code) -> int:
        """The number this server sends for ``code``."""
        return int(code)

    def wire_status(self, code: Code) -> int:
        """The HTTP status this server sends with ``code``."""
        return vocabulary.http_status(code)

    def wire_envelope(self, envelope: JsonObject) -> JsonObject:
        """The envelope as sent."""
        return envelope

    def _send_envelope(
        self,
        code: Code,
        desc: str,
        data: JsonValue,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        envelope: JsonObject = {"code": self.wire_code(code), "desc": desc, "data": data}
        body = json.dumps(
            self.wire_envelope(envelope), ensure_ascii=False, separators=(",", ":")
        ).encode()
        self.send_response(self.wire_status(code))
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in [*(headers or []), *([("Connection", "close")] * self.close_connection)]:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()


def _with_vendor_field(value: JsonValue) -> JsonValue:
    """``value`` with a vendor's own field added to every message or receipt object in it (the
    object itself, or the items of an array)."""
    if isinstance(value, dict) and "msgID" in value:
        return {**value, "vendorTrace": "alt-1"}
    if isinstance(value, list):
        return [_with_vendor_field(item) for item in value]
    return value


# == §2 Discovery ================================================================================


@alternative("capabilities_without_implementation", "§2")
class NoImplementationMetadata(_EditsCapabilities):
    """GET /v1/capabilities leaves out the implementation object. protocol-v1.md's discovery
    sketch lists only protocol, features and limits; implementation is the reference's own
    metadata."""

    def edit_capabilities(self, capabilities: JsonObject) -> JsonObject:
        edited = super().edit_capabilities(capabilities)
        return {key: value for key, value in edited.items() if key != "implementation"}


@alternative("capabilities_leave_member_list_limit_to_default", "§2")
class MemberListLimitLeftToDefault(_EditsCapabilities):
    """The capabilities' limits leave out memberListCountMax, which this server keeps at the
    spec's own 100 [L-2]: a limit the spec fixes needs no announcing, the spec default applies."""

    def edit_capabilities(self, capabilities: JsonObject) -> JsonObject:
        edited = super().edit_capabilities(capabilities)
        limits = edited["limits"]
        assert isinstance(limits, dict)
        kept = {name: value for name, value in limits.items() if name != "memberListCountMax"}
        return {**edited, "limits": kept}


@alternative("without_online_user_only")
class NoOnlineUserOnly(_EditsCapabilities):
    """The onlineUserOnly feature is not offered: the capabilities do not list it and a message
    sent with onlineUserOnly true is refused as a feature not offered. protocol.md §2 lists it
    among the optional parts a target may lack; the suite skips, with the reason, what needs it."""

    def edit_capabilities(self, capabilities: JsonObject) -> JsonObject:
        edited = super().edit_capabilities(capabilities)
        features = edited["features"]
        assert isinstance(features, list)
        return {**edited, "features": [name for name in features if name != "onlineUserOnly"]}

    def send_message(
        self,
        caller: Caller,
        chat: Chat,
        elem: Elem,
        *,
        need_read_receipt: bool = False,
        online_user_only: bool = False,
    ) -> MessageView:
        if online_user_only:
            raise ReceiptError(
                Code.FEATURE_NOT_OFFERED, "this deployment does not offer onlineUserOnly messages"
            )
        return super().send_message(
            caller,
            chat,
            elem,
            need_read_receipt=need_read_receipt,
            online_user_only=online_user_only,
        )


# == §1 Transport: codes, statuses, request bodies ===============================================


_OWN_CODES: Final[Mapping[Code, int]] = {
    Code.UNAUTHENTICATED: 40101,
    Code.WRONG_CREDENTIAL: 40301,
    Code.UNKNOWN_ROUTE: 40401,
    Code.METHOD_NOT_ALLOWED: 40501,
    Code.BODY_TOO_LARGE: 41301,
    Code.MALFORMED_BODY: 40001,
    Code.USER_EXISTS: 40901,
    Code.GROUP_ID_IN_USE: 40902,
    Code.GROUP_TYPE_WITHOUT_RECEIPTS: 40302,
    Code.GROUP_TOO_LARGE: 40303,
    Code.FEATURE_NOT_OFFERED: 40402,
}
"""own_codes_for_unnamed_cases: this vendor's number for each code the spec does not name; its
HTTP status is the number's first three digits."""

_OWN_STATUSES: Final[Mapping[Code, int]] = {
    Code.INVALID_PARAMETERS: 422,
    Code.ADMIN_INVALID_PARAMETER: 422,
    Code.INVALID_GROUP_ID: 422,
    Code.RECEIPT_INFO_NOT_FOUND: 422,
    Code.INTERFACE_NOT_SUPPORTED: 402,
}
"""own_statuses_for_spec_codes: this vendor's HTTP status for some of the spec's own codes."""


@alternative("own_codes_for_unnamed_cases", "§1.1", "§1.2")
class OwnCodesForUnnamedCases(_AnswersItsOwnWay):
    """Every case the spec names no code for gets this vendor's own number (HTTP-derived, 4xx
    statuses, the reference's desc), and a taken group ID, which the SDK facts give no code
    either, gets one too. E-2 asks for the documented codes where they exist and lets the
    protocol doc list the others; protocol-v1.md leaves those to the deployment (core: a
    non-zero code, a 4xx status and a desc). X-2 holds: an unknown and an unseen thing still get
    the same code."""

    def wire_code(self, code: Code) -> int:
        return _OWN_CODES.get(code) or super().wire_code(code)

    def wire_status(self, code: Code) -> int:
        own = _OWN_CODES.get(code)
        return own // 100 if own is not None else super().wire_status(code)


@alternative("own_statuses_for_spec_codes", "§1.2")
class OwnStatusesForSpecCodes(_AnswersItsOwnWay):
    """The spec's own codes come with other 4xx statuses: 422 for an invalid body or value
    (6017, 10004, 10015, 10062) and 402 for the edition without receipts (7013, a paid
    feature). E-1 asks only that the status agree with the code (2xx exactly with code 0);
    which 4xx is the protocol doc's choice (protocol-v1.md: "any other code comes with a 4xx")."""

    def wire_status(self, code: Code) -> int:
        return _OWN_STATUSES.get(code) or super().wire_status(code)


@alternative("one_status_for_every_refusal", "§1.2")
class OneStatusForEveryRefusal(_AnswersItsOwnWay):
    """Every refused call is answered HTTP 400, whatever its code (5xx stays for real server
    faults, 90500). protocol-v1.md: "any other code comes with a 4xx status"; the code in the
    body, not the status, tells the cases apart [E-1]."""

    def wire_status(self, code: Code) -> int:
        status = super().wire_status(code)
        return 400 if code is not Code.INTERNAL_ERROR and status >= 400 else status


@alternative("unknown_fields_ignored", "§1")
class UnknownFieldsIgnored(_BodyRewritingHandler):
    """A body field the method does not define is ignored instead of refused: a misspelt
    needReadReciept sends a plain message, a userID or sender naming another user changes
    nothing, since the caller is always the token's user [X-1]. protocol-v1.md names "whether
    an unknown body field is refused or ignored" among a deployment's choices; ignoring never
    obeys the field."""

    def rewrite(self, method: str, body: JsonObject) -> JsonObject:
        known = METHODS.get(method)
        if known is None:
            return body
        return {name: value for name, value in body.items() if name in known.fields}


@alternative("error_envelopes_carry_details", "§1.1")
class ErrorEnvelopesCarryDetails(_AnswersItsOwnWay):
    """An error's envelope carries the error again in data ({"error": desc}) instead of data
    null. E-1 asks for data on success only; protocol-v1.md's envelope says nothing of data on
    an error, and null there is the reference's choice (§1.1)."""

    def wire_envelope(self, envelope: JsonObject) -> JsonObject:
        sent = super().wire_envelope(envelope)
        if sent["code"] != 0 and sent["data"] is None:
            return {**sent, "data": {"error": sent["desc"]}}
        return sent


@alternative("oversize_body_refused_as_malformed", "§1.2")
class OversizeBodyRefusedAsMalformed(RequestHandler):
    """A body over the size limit is refused as malformed (90006, HTTP 400) instead of as too
    large (90005, HTTP 413). E-3 asks for a clear error and no partial read; both codes are
    seenby's own, and which of them an oversize body gets is the reference's choice (§1.2)."""

    def _read_body(self) -> bytes:
        try:
            return super()._read_body()
        except ReceiptError as refusal:
            if refusal.code is not Code.BODY_TOO_LARGE:
                raise
            raise ReceiptError(Code.MALFORMED_BODY, refusal.desc) from refusal


@alternative("group_id_in_use_is_invalid_parameter", "§1.2")
class GroupIDInUseIsInvalidParameter(ReceiptService):
    """admin/createGroup with a group ID in use answers 10004, the group REST's invalid
    parameter, instead of 10021. The SDK facts give no code for a taken group ID [T §6]; 10021
    is the reference's choice (§1.2), and the group REST documents 10004 for a request it
    cannot carry out as asked."""

    def create_group(
        self, group_id: str | None, group_type: str, owner_id: str, member_ids: Sequence[str]
    ) -> Group:
        try:
            return super().create_group(group_id, group_type, owner_id, member_ids)
        except ReceiptError as refusal:
            if refusal.code is not Code.GROUP_ID_IN_USE:
                raise
            raise ReceiptError(Code.ADMIN_INVALID_PARAMETER, refusal.desc) from refusal


@alternative("vendor_fields_in_payloads", "§1.1", "§4", "§5")
class VendorFieldsInAnswers(_AnswersItsOwnWay):
    """Answers carry this vendor's own fields beside the documented ones: a requestID in every
    envelope and a vendorTrace in every message and receipt object. The schemas' core layer
    allows extra properties ("vendors add fields"); V-1 asks that the
    documented fields validate."""

    def wire_envelope(self, envelope: JsonObject) -> JsonObject:
        sent = super().wire_envelope(envelope)
        return {**sent, "requestID": "req-alt", "data": _with_vendor_field(sent["data"])}


@alternative("vendor_fields_in_events", "§6")
class VendorFieldsInEvents(ReceiptService):
    """Pushed events carry a vendorTrace in every message and receipt object beside the
    documented fields, for the same reason as the answers (V-1 asks only that the documented
    fields validate)."""

    def _emit(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        super()._emit(outbox, user_ids, name, _with_vendor_field(data))


# == §1.3 Limits =================================================================================


@alternative("replay_positions_up_to_2_64", "§1.2")
class ReplayPositionsUpTo2To64(RequestHandler):
    """GET /v1/events?since=N accepts any N up to 2^64 - 1 (the SDK's sequence numbers are
    uint64 [T §2]); a position beyond the latest event replays nothing, like any other position
    past it. The spec gives replay no range: 0..2^53 is the reference's choice (§6.1; the suite
    reports the accepted position as a refusal it expected, §1.2)."""

    def _open_push_channel(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        since = [value for name, value in query if name == "since"]
        wide = len(since) == 1 and since[0].isascii() and since[0].isdigit()
        if wide and MAX_SAFE_INTEGER < int(since[0]) < 2**64:
            # Every seq is far below 2^53: both positions replay nothing.
            clamped = [(n, str(MAX_SAFE_INTEGER) if n == "since" else v) for n, v in query]
            self.path = urlunsplit(parts._replace(query=urlencode(clamped)))
        super()._open_push_channel()


@alternative("smaller_limits")
class SmallerLimits(ReceiptService):
    """Limits the spec gives no number for are smaller: at most 256 user IDs per admin call
    (the reference: 1,000) and text or custom data of at most 4,000 UTF-8 bytes (the
    reference: 12,000), refused with the spec's invalid-parameter codes. protocol-v1.md names
    these limits a deployment's choice; the suite has no scenario that sends more."""

    ADMIN_IDS_MAX = 256
    ELEM_TEXT_MAX_BYTES = 4_000

    def create_group(
        self, group_id: str | None, group_type: str, owner_id: str, member_ids: Sequence[str]
    ) -> Group:
        self._check_admin_ids(member_ids)
        return super().create_group(group_id, group_type, owner_id, member_ids)

    def add_group_members(self, group_id: str, user_ids: Sequence[str]) -> None:
        self._check_admin_ids(user_ids)
        super().add_group_members(group_id, user_ids)

    def remove_group_members(self, group_id: str, user_ids: Sequence[str]) -> None:
        self._check_admin_ids(user_ids)
        super().remove_group_members(group_id, user_ids)

    def send_message(
        self,
        caller: Caller,
        chat: Chat,
        elem: Elem,
        *,
        need_read_receipt: bool = False,
        online_user_only: bool = False,
    ) -> MessageView:
        body = elem.text if isinstance(elem, TextElem) else elem.data
        if len(body.encode()) > self.ELEM_TEXT_MAX_BYTES:
            raise ReceiptError(
                Code.INVALID_PARAMETERS,
                f"a message's text or data holds at most {self.ELEM_TEXT_MAX_BYTES} UTF-8 bytes",
            )
        return super().send_message(
            caller,
            chat,
            elem,
            need_read_receipt=need_read_receipt,
            online_user_only=online_user_only,
        )

    def _check_admin_ids(self, user_ids: Sequence[str]) -> None:
        if len(user_ids) > self.ADMIN_IDS_MAX:
            raise ReceiptError(
                Code.ADMIN_INVALID_PARAMETER,
                f"at most {self.ADMIN_IDS_MAX} user IDs per call",
            )


# == §3 Admin conveniences =======================================================================


@alternative("create_user_is_idempotent", "§1.2")
class CreateUserIdempotent(ReceiptService):
    """admin/createUser for a user this server already created answers success with that
    user's first answer (the same token) instead of refusing, as a PUT would. The spec defines
    no answer for an existing user; 90007 is the reference's choice (§3)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._created: dict[str, NewUser] = {}
        self._created_lock = threading.Lock()

    def create_user(
        self, user_id: str, nick_name: str | None = None, face_url: str | None = None
    ) -> NewUser:
        with self._created_lock:
            if user_id in self._created:
                return self._created[user_id]
            created = super().create_user(user_id, nick_name, face_url)
            self._created[user_id] = created
            return created


@alternative("owner_removal_skipped", "§1.2")
class OwnerRemovalSkipped(ReceiptService):
    """admin/removeGroupMembers naming the owner removes the others and skips the owner (it
    stays a member), as non-members are skipped, instead of refusing the call. The spec says
    nothing of removing an owner; refusing with 10004 is the reference's choice (§3)."""

    def remove_group_members(self, group_id: str, user_ids: Sequence[str]) -> None:
        owner = self._run(lambda _: self._admin_group(group_id)).owner_id
        super().remove_group_members(group_id, [user for user in user_ids if user != owner])


@alternative("admin_member_calls_refuse_no_ops", "§3")
class AdminMemberCallsRefuseNoOps(ReceiptService):
    """admin/addGroupMembers naming a user already in the group, admin/removeGroupMembers
    naming a user not in it, and admin/createGroup naming a member twice or the owner among the
    members refuse the whole call with 10004, changing nothing, instead of skipping (or
    counting once) that user. The spec gives the admin methods no rule for any of these;
    skipping is the reference's choice (§3)."""

    def create_group(
        self, group_id: str | None, group_type: str, owner_id: str, member_ids: Sequence[str]
    ) -> Group:
        named = [u for u, times in Counter([owner_id, *member_ids]).items() if times > 1]
        if named:
            raise ReceiptError(
                Code.ADMIN_INVALID_PARAMETER, f"user {named[0]!r} is named more than once"
            )
        return super().create_group(group_id, group_type, owner_id, member_ids)

    def add_group_members(self, group_id: str, user_ids: Sequence[str]) -> None:
        self._refuse_if(group_id, user_ids, member=True)
        super().add_group_members(group_id, user_ids)

    def remove_group_members(self, group_id: str, user_ids: Sequence[str]) -> None:
        self._refuse_if(group_id, user_ids, member=False)
        super().remove_group_members(group_id, user_ids)

    def _refuse_if(self, group_id: str, user_ids: Sequence[str], *, member: bool) -> None:
        """10004 when one of ``user_ids`` is (``member``) or is not a member already. Checked
        before the write, in its own transaction: a user whose membership changes in between
        is then skipped, as the reference would."""

        def work(_: list[Event]) -> list[str]:
            self._admin_group(group_id)
            return [u for u in user_ids if self._storage.is_member(group_id, u) is member]

        named = self._run(work)
        if named:
            state = "already a member of" if member else "not a member of"
            raise ReceiptError(
                Code.ADMIN_INVALID_PARAMETER, f"user {named[0]!r} is {state} group {group_id!r}"
            )


@alternative("other_error_precedence", "§1.2")
class OtherErrorPrecedence(ReceiptService):
    """When several errors apply, others win: the edition (7013) before the batch's size
    (6017), and a taken group ID (10021) before unknown users (10004). The spec orders no
    errors; protocol.md §1.2's precedence is the reference's choice."""

    def _check_batch(self, unique_ids: Sequence[str]) -> None:
        if not self._storage.settings().has_receipts:
            raise ReceiptError(Code.INTERFACE_NOT_SUPPORTED, "read receipts need ultimate")
        super()._check_batch(unique_ids)

    def create_group(
        self, group_id: str | None, group_type: str, owner_id: str, member_ids: Sequence[str]
    ) -> Group:
        taken = group_id is not None and self._run(lambda _: self._storage.group(group_id))
        if taken:
            raise ReceiptError(Code.GROUP_ID_IN_USE, f"group ID {group_id!r} is taken")
        return super().create_group(group_id, group_type, owner_id, member_ids)


# == §4, §6 Receipts and pushes ==================================================================


@alternative("mark_push_without_is_peer_read", "§5.2", "§6")
class MarkPushWithoutIsPeerRead(ReceiptService):
    """The conversation read mark push (onRecvC2CReadReceipt) carries userID, timestamp and an
    empty msgID, without isPeerRead: the SDK's callback carries only the peer and the time
    [C-1, T §1] and a mark always means read."""

    def _emit(
        self, outbox: list[Event], user_ids: Sequence[str], name: str, data: JsonValue
    ) -> None:
        if name == ON_RECV_C2C_READ_RECEIPT and isinstance(data, list):
            data = [
                {key: value for key, value in mark.items() if key != "isPeerRead"}
                for mark in data
                if isinstance(mark, dict)
            ]
        super()._emit(outbox, user_ids, name, data)


@alternative("recipient_pull_told_why", "§4")
class RecipientPullToldWhy(ReceiptService):
    """A recipient pulling the receipts or member lists of a message it can see but did not
    send gets 6017 with its own desc ("only its sender may pull ..."). X-2 hides only what the
    caller is not part of; a recipient knows the message exists, and Q-3 / L-2 ask only for
    6017."""

    def get_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> list[Receipt]:
        try:
            return super().get_message_read_receipts(caller, msg_ids)
        except ReceiptError as refusal:
            raise self._told_why(caller, msg_ids, refusal) from refusal

    def get_group_message_read_member_list(
        self,
        caller: Caller,
        msg_id: str,
        member_filter: MemberFilter,
        next_seq: int,
        count: int,
    ) -> MemberPage:
        try:
            return super().get_group_message_read_member_list(
                caller, msg_id, member_filter, next_seq, count
            )
        except ReceiptError as refusal:
            raise self._told_why(caller, [msg_id], refusal) from refusal

    def _told_why(
        self, caller: Caller, msg_ids: Sequence[str], refusal: ReceiptError
    ) -> ReceiptError:
        """``refusal``, or a 6017 saying why when a message is one the caller received."""
        if refusal.code is not Code.INVALID_PARAMETERS:
            return refusal

        def received(_: list[Event]) -> Message | None:
            found = self._storage.messages(msg_ids).values()
            return next(
                (m for m in found if m.sender != caller.user_id and self._can_see(caller, m)),
                None,
            )

        message = self._run(received)
        if message is None:
            return refusal
        return ReceiptError(
            Code.INVALID_PARAMETERS,
            f"only its sender may pull the receipts of message {message.msg_id!r}",
        )


# == §4 Latitude: a call refused as a whole, changing nothing =====================================


def _refuse_repeats(msg_ids: Sequence[str]) -> None:
    """6017 when ``msg_ids`` names a message more than once."""
    repeated = [msg_id for msg_id, times in Counter(msg_ids).items() if times > 1]
    if repeated:
        raise ReceiptError(Code.INVALID_PARAMETERS, f"msgIDs names {repeated[0]!r} more than once")


@alternative("pull_refuses_unreceipted_message", "§4")
class PullRefusesUnreceiptedMessage(ReceiptService):
    """getMessageReadReceipts naming a message sent without needReadReceipt refuses the whole
    pull with 10062 (receipt information does not exist) instead of leaving that message out.
    S-3 says only that such a message has no receipt information; the SDK fails a pull with no
    eligible message (6017) and the REST pull answers 10062 for such a message [T §5, §7.3]."""

    def get_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> list[Receipt]:
        receipts = super().get_message_read_receipts(caller, msg_ids)
        stored = self._run(lambda _: self._storage.messages(list(dict.fromkeys(msg_ids))))
        plain = [msg_id for msg_id, message in stored.items() if not message.need_read_receipt]
        if plain:
            raise ReceiptError(
                Code.RECEIPT_INFO_NOT_FOUND,
                f"message {plain[0]!r} was sent without needReadReceipt: it has no receipts",
            )
        return receipts


@alternative("pull_refuses_repeated_message", "§4")
class PullRefusesRepeatedMessage(ReceiptService):
    """getMessageReadReceipts naming a message more than once refuses the whole pull with 6017
    instead of answering that message once. Q-1 asks for one receipt per message and says
    nothing of a list that repeats one; 6017 is the SDK's invalid message list [T §5]."""

    def get_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> list[Receipt]:
        _refuse_repeats(msg_ids)
        return super().get_message_read_receipts(caller, msg_ids)


@alternative("receipt_batch_refuses_repeated_message", "§4")
class ReceiptBatchRefusesRepeatedMessage(ReceiptService):
    """sendMessageReadReceipts naming a message more than once refuses the whole batch with
    6017, applying nothing, instead of counting that message once. R-5 makes a repeated
    receipt change nothing, and R-4's silent skips are the caller's own, plain, already
    receipted and pre-join messages: the spec does not say that a batch may repeat one."""

    def send_message_read_receipts(self, caller: Caller, msg_ids: Sequence[str]) -> None:
        _refuse_repeats(msg_ids)
        super().send_message_read_receipts(caller, msg_ids)


# == every choice at once ========================================================================


def _every_choice() -> Alternative:
    """One server making every choice above: per piece, a class deriving from each
    alternative's replacement of it (a choice that excludes an earlier one is left out)."""
    # own_statuses_for_spec_codes chose the statuses; smaller_declared_limits declares the page
    # size limit that capabilities_leave_member_list_limit_to_default leaves out.
    excluded = {"one_status_for_every_refusal", "smaller_declared_limits"}
    chosen = [each for each in ALTERNATIVES if each.name not in excluded]
    pieces: dict[str, type] = {}
    for base, field in _PIECES.items():
        replaced = [getattr(each.server, field) for each in chosen]
        bases = tuple(dict.fromkeys(piece for piece in replaced if piece is not base))
        if bases:
            pieces[field] = type(f"EveryChoice{base.__name__}", bases, {})
    names = ", ".join(each.name for each in chosen)
    server = Variant(
        "every_choice",
        (),
        f"Every choice of this gallery at once ({names}); one_status_for_every_refusal is left "
        "out, own_statuses_for_spec_codes having chosen the statuses, and so is "
        "smaller_declared_limits, which declares the page size limit another choice leaves out.",
        **pieces,
    )
    sections = tuple(dict.fromkeys(s for each in chosen for s in each.deviates))
    return Alternative(server, sections)


from . import coverage_alternatives  # noqa: E402, F401  (registers its alternatives)

ALTERNATIVES.append(_every_choice())

assert REFERENCE.name not in {each.name for each in ALTERNATIVES}

from . import wire_variants  # noqa: E402, F401  (registers the plumbing alternatives)
