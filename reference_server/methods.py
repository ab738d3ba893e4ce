"""The protocol's methods: a parsed JSON body in, typed arguments to ``ReceiptService``, JSON out.

Bodies are strict: each field has one type, limits from docs/protocol.md §1.3 are checked here,
and a field the method does not define is refused (6017 for user methods, 10004 for admin
methods). Rules that depend on state or settings (batch size, existence, visibility) are the
domain's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import NoReturn, TypeVar, cast

from seenby.contract import vocabulary
from seenby.contract.vocabulary import Code
from seenby.reference_server.domain import Caller, ReceiptService
from seenby.reference_server.values import (
    ADMIN_ID_LIST_MAX,
    EDITIONS,
    ELEM_DESC_MAX_CHARS,
    ELEM_TEXT_MAX_BYTES,
    FACE_URL_MAX_CHARS,
    GROUP_RECEIPT_MAX_MEMBERS_CEILING,
    GROUP_TYPES,
    HISTORY_COUNT_MAX,
    ID_MAX_CHARS,
    MEMBER_LIST_COUNT_MAX,
    NICK_NAME_MAX_CHARS,
    READ,
    RECEIPT_BATCH_MAX_CEILING,
    UNREAD,
    Chat,
    CustomElem,
    Elem,
    GroupChat,
    JsonObject,
    JsonValue,
    PeerChat,
    ReceiptError,
    SettingsChange,
    TextElem,
    has_control_characters,
)

T = TypeVar("T")


class BodyReader:
    """Reads one JSON object field by field, after refusing any field not in ``fields``.

    ``code`` is the error code for any problem (6017 for user methods, 10004 for admin ones);
    ``path`` prefixes field names in messages (``elem.``).
    """

    def __init__(
        self, body: JsonObject, code: Code, fields: Collection[str], path: str = ""
    ) -> None:
        self._body = body
        self._code = code
        self._path = path
        unknown = sorted(set(body) - set(fields))
        if unknown:
            # A misspelt field must fail loudly, before anything is said about what is missing.
            self.fail(f"unknown field {self._name(unknown[0])!r}")

    def fail(self, desc: str, code: Code | None = None) -> NoReturn:
        """Refuse the body."""
        raise ReceiptError(code if code is not None else self._code, desc)

    def _name(self, name: str) -> str:
        return f"{self._path}{name}"

    def _value(self, name: str) -> JsonValue:
        if name not in self._body:
            self.fail(f"{self._name(name)} is required")
        return self._body[name]

    def has(self, name: str) -> bool:
        """Whether the body holds ``name``."""
        return name in self._body

    def optional(self, name: str, read: Callable[[str], T]) -> T | None:
        """``read(name)`` if the body holds ``name``, else ``None`` (``null`` is a value)."""
        return read(name) if name in self._body else None

    def text(self, name: str, *, max_chars: int | None = None, max_bytes: int | None = None) -> str:
        """A string, within ``max_chars`` characters or ``max_bytes`` UTF-8 bytes."""
        value = self._value(name)
        if not isinstance(value, str):
            self.fail(f"{self._name(name)} must be a string")
        if max_chars is not None and len(value) > max_chars:
            self.fail(f"{self._name(name)} must be at most {max_chars} characters")
        if max_bytes is not None and len(value.encode()) > max_bytes:
            self.fail(f"{self._name(name)} must be at most {max_bytes} UTF-8 bytes")
        return value

    def identifier(self, name: str, code: Code | None = None) -> str:
        """An ID: 1-64 characters without control characters (``code`` overrides the error)."""
        return self._check_identifier(self._name(name), self._value(name), code)

    def _check_identifier(self, label: str, value: JsonValue, code: Code | None = None) -> str:
        if not isinstance(value, str):
            self.fail(f"{label} must be a string")
        if not 1 <= len(value) <= ID_MAX_CHARS or has_control_characters(value):
            self.fail(
                f"{label} must be 1-{ID_MAX_CHARS} characters without control characters", code
            )
        return value

    def identifiers(self, name: str, *, max_items: int | None = None) -> list[str]:
        """An array of IDs, at most ``max_items`` long."""
        value = self._value(name)
        if not isinstance(value, list):
            self.fail(f"{self._name(name)} must be an array of strings")
        if max_items is not None and len(value) > max_items:
            self.fail(f"{self._name(name)} must hold at most {max_items} IDs")
        for index, item in enumerate(value):
            if (
                not isinstance(item, str)
                or not 1 <= len(item) <= ID_MAX_CHARS
                or (has_control_characters(item))
            ):  # the label is built only for the message
                self._check_identifier(f"{self._name(name)}[{index}]", item)
        return cast(list[str], list(value))

    def flag(self, name: str) -> bool:
        """An optional boolean, ``false`` when absent."""
        value = self._body.get(name, False)
        if not isinstance(value, bool):
            self.fail(f"{self._name(name)} must be true or false")
        return value

    def integer(self, name: str, low: int, high: int) -> int:
        """An integer in ``low..high`` (booleans and floats are not integers)."""
        value = self._value(name)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(f"{self._name(name)} must be an integer")
        if not low <= value <= high:
            self.fail(f"{self._name(name)} must be between {low} and {high}")
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        """One of ``choices``."""
        value = self._value(name)
        if not isinstance(value, str) or value not in choices:
            self.fail(f"{self._name(name)} must be one of {', '.join(choices)}")
        return value

    def object(self, name: str) -> JsonObject:
        """A required nested object (read it with its own ``BodyReader``)."""
        value = self._value(name)
        if not isinstance(value, dict):
            self.fail(f"{self._name(name)} must be an object")
        return value

    def nested(self, value: JsonObject, name: str, fields: Collection[str]) -> BodyReader:
        """A reader for the nested object ``value`` found at field ``name``."""
        return BodyReader(value, self._code, fields, f"{self._name(name)}.")


def _chat(body: BodyReader, peer_field: str) -> Chat:
    """Exactly one of ``peer_field`` (a user) and ``groupID``."""
    if body.has(peer_field) == body.has("groupID"):
        body.fail(f"give exactly one of {peer_field} and groupID")
    if body.has(peer_field):
        return PeerChat(body.identifier(peer_field))
    return GroupChat(body.identifier("groupID"))


_ELEM_FIELDS = {"text": ("elemType", "text"), "custom": ("elemType", "data", "desc", "extension")}


def _elem(body: BodyReader) -> Elem:
    raw = body.object("elem")
    elem_type = raw.get("elemType")
    if not isinstance(elem_type, str) or elem_type not in _ELEM_FIELDS:
        body.fail("elem.elemType must be text or custom")
    elem_body = body.nested(raw, "elem", _ELEM_FIELDS[elem_type])
    if elem_type == "text":
        return TextElem(elem_body.text("text", max_bytes=ELEM_TEXT_MAX_BYTES))

    def note(name: str) -> str:
        return elem_body.text(name, max_chars=ELEM_DESC_MAX_CHARS)

    return CustomElem(
        elem_body.text("data", max_bytes=ELEM_TEXT_MAX_BYTES),
        elem_body.optional("desc", note),
        elem_body.optional("extension", note),
    )


# -- user methods ------------------------------------------------------------------------------


def _send_message(service: ReceiptService, caller: Caller, body: BodyReader) -> JsonValue:
    chat = _chat(body, "receiver")
    elem = _elem(body)
    need_read_receipt = body.flag("needReadReceipt")
    online_user_only = body.flag("onlineUserOnly")
    return service.send_message(
        caller,
        chat,
        elem,
        need_read_receipt=need_read_receipt,
        online_user_only=online_user_only,
    ).to_json()


def _get_history_message_list(
    service: ReceiptService, caller: Caller, body: BodyReader
) -> JsonValue:
    chat = _chat(body, "userID")
    count = body.integer("count", 1, HISTORY_COUNT_MAX)
    last_msg_id = body.optional("lastMsgID", body.identifier)
    views = service.get_history_message_list(caller, chat, count, last_msg_id)
    return [view.to_json() for view in views]


def _get_conversation_list(service: ReceiptService, caller: Caller, body: BodyReader) -> JsonValue:
    return [conversation.to_json() for conversation in service.get_conversation_list(caller)]


def _send_message_read_receipts(
    service: ReceiptService, caller: Caller, body: BodyReader
) -> JsonValue:
    msg_ids = body.identifiers("msgIDs")
    service.send_message_read_receipts(caller, msg_ids)
    return None


def _get_message_read_receipts(
    service: ReceiptService, caller: Caller, body: BodyReader
) -> JsonValue:
    msg_ids = body.identifiers("msgIDs")
    return [receipt.to_json() for receipt in service.get_message_read_receipts(caller, msg_ids)]


def _get_group_message_read_member_list(
    service: ReceiptService, caller: Caller, body: BodyReader
) -> JsonValue:
    msg_id = body.identifier("msgID")
    member_filter = body.integer("filter", READ, UNREAD)
    next_seq = body.integer("nextSeq", 0, vocabulary.SAFE_INTEGER_MAX.value)
    count = body.integer("count", 1, MEMBER_LIST_COUNT_MAX)
    page = service.get_group_message_read_member_list(
        caller, msg_id, READ if member_filter == READ else UNREAD, next_seq, count
    )
    return page.to_json()


def _mark_c2c_message_as_read(
    service: ReceiptService, caller: Caller, body: BodyReader
) -> JsonValue:
    peer_id = body.identifier("userID")
    service.mark_c2c_message_as_read(caller, peer_id)
    return None


# -- admin methods -----------------------------------------------------------------------------


def _get_settings(service: ReceiptService, body: BodyReader) -> JsonValue:
    return service.get_settings().to_json()


def _set_settings(service: ReceiptService, body: BodyReader) -> JsonValue:
    edition = body.optional("edition", lambda name: body.choice(name, EDITIONS))
    group_types: tuple[str, ...] | None = None
    if body.has("groupReceiptTypes"):
        raw = body.identifiers("groupReceiptTypes")
        if any(t not in GROUP_TYPES for t in raw):
            body.fail(f"groupReceiptTypes may only hold {', '.join(GROUP_TYPES)}")
        if len(set(raw)) != len(raw):
            body.fail("groupReceiptTypes must not repeat a type")
        group_types = tuple(raw)
    change = SettingsChange(
        edition=edition,
        group_receipt_types=group_types,
        group_receipt_max_members=body.optional(
            "groupReceiptMaxMembers",
            lambda name: body.integer(name, 1, GROUP_RECEIPT_MAX_MEMBERS_CEILING),
        ),
        receipt_batch_max=body.optional(
            "receiptBatchMax", lambda name: body.integer(name, 1, RECEIPT_BATCH_MAX_CEILING)
        ),
    )
    return service.set_settings(change).to_json()


def _create_user(service: ReceiptService, body: BodyReader) -> JsonValue:
    user_id = body.identifier("userID")
    nick_name = body.optional(
        "nickName", lambda name: body.text(name, max_chars=NICK_NAME_MAX_CHARS)
    )
    face_url = body.optional("faceURL", lambda name: body.text(name, max_chars=FACE_URL_MAX_CHARS))
    return service.create_user(user_id, nick_name, face_url).to_json()


def _create_group(service: ReceiptService, body: BodyReader) -> JsonValue:
    group_id = body.optional(
        "groupID", lambda name: body.identifier(name, code=Code.INVALID_GROUP_ID)
    )
    group_type = body.choice("groupType", GROUP_TYPES)
    owner_id = body.identifier("ownerID")
    member_ids = body.identifiers("memberIDs", max_items=ADMIN_ID_LIST_MAX)
    return service.create_group(group_id, group_type, owner_id, member_ids).to_json()


def _add_group_members(service: ReceiptService, body: BodyReader) -> JsonValue:
    group_id = body.identifier("groupID")
    user_ids = body.identifiers("userIDs", max_items=ADMIN_ID_LIST_MAX)
    service.add_group_members(group_id, user_ids)
    return None


def _remove_group_members(service: ReceiptService, body: BodyReader) -> JsonValue:
    group_id = body.identifier("groupID")
    user_ids = body.identifiers("userIDs", max_items=ADMIN_ID_LIST_MAX)
    service.remove_group_members(group_id, user_ids)
    return None


UserHandler = Callable[[ReceiptService, Caller, BodyReader], JsonValue]
AdminHandler = Callable[[ReceiptService, BodyReader], JsonValue]


@dataclass(frozen=True)
class UserMethod:
    """A method called with a user token, as that user; ``fields`` is its body's fields."""

    handler: UserHandler
    fields: tuple[str, ...]

    def call(self, service: ReceiptService, caller: Caller, body: JsonObject) -> JsonValue:
        """Validate ``body`` (errors are 6017) and run the method as ``caller``."""
        reader = BodyReader(body, Code.INVALID_PARAMETERS, self.fields)
        return self.handler(service, caller, reader)


@dataclass(frozen=True)
class AdminMethod:
    """A method called with the admin key; ``fields`` is its body's fields."""

    handler: AdminHandler
    fields: tuple[str, ...]

    def call(self, service: ReceiptService, body: JsonObject) -> JsonValue:
        """Validate ``body`` (errors are 10004) and run the method."""
        return self.handler(service, BodyReader(body, Code.ADMIN_INVALID_PARAMETER, self.fields))


METHODS: dict[str, UserMethod | AdminMethod] = {
    "admin/getSettings": AdminMethod(_get_settings, ()),
    "admin/setSettings": AdminMethod(
        _set_settings,
        ("edition", "groupReceiptTypes", "groupReceiptMaxMembers", "receiptBatchMax"),
    ),
    "admin/createUser": AdminMethod(_create_user, ("userID", "nickName", "faceURL")),
    "admin/createGroup": AdminMethod(
        _create_group, ("groupID", "groupType", "ownerID", "memberIDs")
    ),
    "admin/addGroupMembers": AdminMethod(_add_group_members, ("groupID", "userIDs")),
    "admin/removeGroupMembers": AdminMethod(_remove_group_members, ("groupID", "userIDs")),
    "sendMessage": UserMethod(
        _send_message, ("receiver", "groupID", "elem", "needReadReceipt", "onlineUserOnly")
    ),
    "getHistoryMessageList": UserMethod(
        _get_history_message_list, ("userID", "groupID", "count", "lastMsgID")
    ),
    "getConversationList": UserMethod(_get_conversation_list, ()),
    "sendMessageReadReceipts": UserMethod(_send_message_read_receipts, ("msgIDs",)),
    "getMessageReadReceipts": UserMethod(_get_message_read_receipts, ("msgIDs",)),
    "getGroupMessageReadMemberList": UserMethod(
        _get_group_message_read_member_list, ("msgID", "filter", "nextSeq", "count")
    ),
    "markC2CMessageAsRead": UserMethod(_mark_c2c_message_as_read, ("userID",)),
}
"""Every ``POST /v1/<name>`` method of docs/protocol.md §3 and §4, by name."""
