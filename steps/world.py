"""The scenario's world: who is in it, their chats, what was sent and read, and the last answer.

Steps stay one or two lines because what they share lives here: users by their scenario names
("Alice" → a fresh ``alice-9f3c2a1b`` on the target), each user's current chat, messages by label,
push streams, the outcome of the last call, and the settings to restore. The world also keeps
the scenario's own expectations (who received which message, who has read it) so the member-list
steps can say exactly which members a walk must list. It speaks to the target only through the
harness.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import pytest

from seenby.harness import (
    HISTORY_COUNT_MAX as HISTORY_COUNT_LIMIT,
)
from seenby.harness import (
    ON_RECV_C2C_READ_RECEIPT,
    ON_RECV_MESSAGE_READ_RECEIPTS,
    ON_RECV_NEW_MESSAGE,
    WALK_MAX_PAGES,
    ApiError,
    Conversation,
    Deviation,
    Event,
    Group,
    MemberInfo,
    Message,
    ProtocolViolation,
    PushStream,
    ReadFilter,
    ReadMemberPage,
    Receipt,
    Settings,
    StrictCheck,
    Target,
    UserClient,
    WireResponse,
)
from seenby.harness.run.preflight import Preflight

__all__ = ["WORLD_KEY", "Chat", "MemberWalk", "Outcome", "Probe", "World", "world"]

RECEIPTS_EVENT = ON_RECV_MESSAGE_READ_RECEIPTS
MARK_EVENT = ON_RECV_C2C_READ_RECEIPT
NEW_MESSAGE_EVENT = ON_RECV_NEW_MESSAGE

HISTORY_COUNT_MAX = HISTORY_COUNT_LIMIT.value
"""The largest ``getHistoryMessageList`` page (docs/protocol.md §1.3)."""
BURST_BUDGETS = 3
"""A burst of concurrent calls (and its last push) may take this many time budgets in all."""

_T = TypeVar("_T")

_CUSTOM_ELEM = {
    "elemType": "custom",
    "data": '{"businessID": "typing", "typingStatus": 1}',
    "desc": "正在输入中",
    "extension": "seed example: a custom message that needs a read receipt",
}


@dataclass
class Chat:
    """A conversation of the scenario: one-to-one between two users, or a group."""

    kind: Literal["c2c", "group"]
    members: list[str]
    """The users' scenario names; for a group, its current members (owner first)."""
    group: Group | None = None

    @property
    def is_group(self) -> bool:
        """Whether this is a group chat."""
        return self.kind == "group"

    def peer_of(self, name: str) -> str:
        """The other user of a one-to-one chat."""
        assert self.kind == "c2c", f"{name}'s chat is a group, not a one-to-one chat"
        (peer,) = (member for member in self.members if member != name)
        return peer

    def group_id(self) -> str:
        """The group's ID (group chats only)."""
        assert self.group is not None, "this chat is a one-to-one chat, not a group"
        return self.group.group_id


@dataclass(frozen=True)
class Outcome:
    """What the last call answered: a success (code 0) or a documented error."""

    method: str
    code: int
    desc: str
    http_status: int
    data: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def success(cls, method: str, data: Any = None) -> Outcome:
        """A call that succeeded through the typed client API."""
        return cls(method, 0, "ok", 200, data)

    @classmethod
    def of_error(cls, error: ApiError) -> Outcome:
        """A call that the typed client API raised ``ApiError`` for."""
        return cls(error.method, error.code, error.desc, error.http_status)

    @classmethod
    def of_response(cls, response: WireResponse) -> Outcome:
        """A raw call's checked answer."""
        return cls(
            response.method,
            response.code,
            response.desc,
            response.http_status,
            response.data,
            response.headers,
        )

    def __str__(self) -> str:
        return f"{self.method} → {self.code} (HTTP {self.http_status}): {self.desc}"


@dataclass(frozen=True)
class Probe:
    """The last attempted request about one subject (a message or a group), kept so that the
    same request can be repeated about an unknown subject and the two answers compared [X-2]."""

    subject: str
    repeat: Callable[[str], object]


@dataclass
class MemberWalk:
    """A page-by-page walk of one member list, with what the list held when it began."""

    reader: UserClient
    message: Message
    filter: ReadFilter
    count: int
    list_at_start: list[str]
    pages: list[ReadMemberPage] = field(default_factory=list)
    read_meanwhile: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """The last page fetched said ``isFinished``."""
        return bool(self.pages) and self.pages[-1].is_finished

    @property
    def members(self) -> list[MemberInfo]:
        """Every member the pages gave, in order, duplicates kept."""
        return [member for page in self.pages for member in page.members]

    @property
    def listed_ids(self) -> list[str]:
        """The user IDs of every member the pages gave, in order, duplicates kept."""
        return [member.user_id for member in self.members]

    def page_sizes(self) -> list[int]:
        """How many members each page held; a final empty page (allowed by docs/protocol.md
        §4: "isFinished: true marks the last page (which may be empty)") is left out."""
        sizes = [len(page.members) for page in self.pages]
        if len(sizes) > 1 and sizes[-1] == 0:
            sizes.pop()
        return sizes


class World:
    """One scenario's state on one target."""

    def __init__(self, target: Target, undeliverable: Mapping[str, str] | None = None) -> None:
        self.target = target
        self._undeliverable = dict(undeliverable or {})
        self.timeout = target.timeout
        """The time budget of every wait (``--seenby-timeout``)."""
        self.burst_timeout = BURST_BUDGETS * target.timeout
        self._fence_sender: UserClient | None = None
        self.people: dict[str, UserClient] = {}
        self.chats: dict[str, Chat] = {}
        """Each user's current chat: the last one the scenario put it in."""
        self.group: Group | None = None
        """The group the scenario set up last ("the group")."""
        self.last_message: Message | None = None
        self.labelled: dict[str, Message] = {}
        self.batch: list[Message] = []
        """The messages the last multi-message step sent ("them")."""
        self.messages: dict[str, Message] = {}
        self.elems: dict[str, dict[str, Any]] = {}
        self.recipients: dict[str, list[str]] = {}
        self.readers: dict[str, list[str]] = {}
        self.devices: dict[str, list[PushStream]] = {}
        self.noted_seq: dict[str, int] = {}
        """Per user, the seq of the last event a step noticed; "again" means after it."""
        self.last_notified: dict[str, Receipt] = {}
        self.seq_when_offline: dict[str, int] = {}
        self.outcome: Outcome | None = None
        self.probe: Probe | None = None
        self.history: dict[str, list[Message]] = {}
        self.pulled: list[Receipt] = []
        self.pulled_ids: list[str] = []
        self.walks: dict[ReadFilter, MemberWalk] = {}
        self.walk: MemberWalk | None = None
        self.noted_list: list[str] = []
        self.asked_group_id: str | None = None
        """The group ID the last admin/createGroup attempt asked for."""
        self._settings_before: Settings | None = None
        self._violations_before = len(target.violations)
        self._deviations_before = len(target.deviation_log.snapshot())
        self._transcript_start = target.transcript.mark()

    # -- people and chats -----------------------------------------------------------------

    def user(self, name: str) -> UserClient:
        """The user called ``name`` in this scenario, created on first mention."""
        if name not in self.people:
            self.people[name] = self.target.user(name.lower())
        return self.people[name]

    def add_user(self, name: str, *, face_url: str | None = None) -> UserClient:
        """Create ``name`` now (with a profile picture, if given)."""
        assert name not in self.people, f"{name} already exists in this scenario"
        self.people[name] = self.target.user(name.lower(), face_url=face_url)
        return self.people[name]

    def name_of(self, user_id: str) -> str:
        """The scenario name of a user ID (the ID itself if the scenario does not know it)."""
        for name, client in self.people.items():
            if client.user_id == user_id:
                return name
        return user_id

    def chat_of(self, name: str) -> Chat:
        """``name``'s current chat."""
        assert name in self.chats, f"{name} is in no chat: the scenario must put them in one"
        return self.chats[name]

    def start_c2c(self, first: str, second: str, *, current: bool = True) -> Chat:
        """A one-to-one chat between two users; unless ``current`` is false it becomes both
        users' current chat."""
        self.user(first)
        self.user(second)
        chat = Chat("c2c", [first, second])
        if current:
            self.chats[first] = self.chats[second] = chat
        return chat

    def start_group(self, group_type: str, names: Sequence[str], *, current: bool = True) -> Chat:
        """A group owned by the first of ``names``; unless ``current`` is false it becomes
        every member's current chat and "the group"."""
        clients = [self.user(name) for name in names]
        group = self.target.group(group_type, clients[0], clients[1:], name=group_type.lower())
        chat = Chat("group", list(names), group)
        if current:
            self.group = group
            for name in names:
                self.chats[name] = chat
        return chat

    def start_chat(self, conversation: str, names: Sequence[str], *, current: bool = True) -> Chat:
        """``"one-to-one chat"``, ``"group chat"`` (a Work group) or ``"<Type> group"``."""
        if conversation == "one-to-one chat":
            assert len(names) == 2, f"a one-to-one chat has two users, not {names}"
            return self.start_c2c(*names, current=current)
        group_type = "Work" if conversation == "group chat" else conversation.split()[0]
        return self.start_group(group_type, names, current=current)

    def group_chat(self) -> Chat:
        """The chat of the group the scenario set up last."""
        assert self.group is not None, "the scenario has set up no group"
        for chat in self.chats.values():
            if chat.group is self.group:
                return chat
        raise AssertionError("the scenario's group has no chat")

    def others_in_group(self) -> list[str]:
        """The members of the last group other than its owner, in the order they were added."""
        return self.group_chat().members[1:]

    def join(self, names: Sequence[str]) -> None:
        """Add users to the scenario's group (creating them first if needed)."""
        chat = self.group_chat()
        self.target.admin.add_group_members(chat.group_id(), [self.user(name) for name in names])
        for name in names:
            if name not in chat.members:
                chat.members.append(name)
            self.chats[name] = chat

    def leave(self, names: Sequence[str]) -> None:
        """Remove users from the scenario's group; their current chat stays that group."""
        chat = self.group_chat()
        self.target.admin.remove_group_members(chat.group_id(), [self.user(n) for n in names])
        for name in names:
            chat.members.remove(name)

    @staticmethod
    def unknown_user_id() -> str:
        """A user ID no target has created."""
        return f"no-such-user-{secrets.token_hex(8)}"

    # -- settings -------------------------------------------------------------------------

    def change_settings(self, **changes: Any) -> Settings:
        """Change the deployment's settings; the scenario restores them when it ends."""
        if self._settings_before is None:
            self._settings_before = self.target.admin.get_settings()
        return self.target.admin.set_settings(**changes)

    def limit(self, name: str) -> int:
        """A current limit from ``GET /v1/capabilities`` (they follow the settings)."""
        return self.target.capabilities.limits[name]

    def page_size_max(self) -> int:
        """The largest member-list page the target declares (``memberListCountMax``): walks
        use it, so a target declaring less than the spec's 100 is walked at its own limit."""
        return self.limit("memberListCountMax")

    # -- messages -------------------------------------------------------------------------

    def send(
        self,
        sender: str,
        *,
        need_receipt: bool,
        label: str | None = None,
        kind: str = "text",
        online_only: bool = False,
        chat: Chat | None = None,
    ) -> Message:
        """``sender`` sends a message to its current chat (or ``chat``) and the world
        remembers it, its recipients, and its label."""
        chat = chat or self.chat_of(sender)
        text = label if label is not None else f"message {len(self.messages) + 1}"
        elem = dict(_CUSTOM_ELEM) if kind == "custom" else {"elemType": "text", "text": text}
        client = self.user(sender)
        recipients = [name for name in chat.members if name != sender]
        if online_only:
            recipients = [name for name in recipients if self.is_online(name)]
        message = client.send_message(
            elem,
            **self.address(chat, sender),
            need_read_receipt=need_receipt,
            online_user_only=online_only,
        )
        self.remember(message, elem, recipients, label)
        self.outcome = Outcome.success("sendMessage", message)
        return message

    def address(self, chat: Chat, sender: str) -> dict[str, Any]:
        """The ``to=`` / ``group=`` keyword that sends to ``chat`` from ``sender``."""
        if chat.is_group:
            return {"group": chat.group_id()}
        return {"to": self.user(chat.peer_of(sender))}

    def remember(
        self, message: Message, elem: dict[str, Any], recipients: list[str], label: str | None
    ) -> None:
        """Keep a sent message as "the message" (and under its label)."""
        self.last_message = message
        self.messages[message.msg_id] = message
        self.elems[message.msg_id] = elem
        self.recipients[message.msg_id] = recipients
        self.readers[message.msg_id] = []
        if label is not None:
            self.labelled[label] = message

    def send_batch(self, sender: str, count: int, *, need_receipt: bool = True) -> list[Message]:
        """``sender`` sends ``count`` messages to its current chat; they become "them"."""
        self.batch = [self.send(sender, need_receipt=need_receipt) for _ in range(count)]
        return self.batch

    def message(self, ref: str) -> Message:
        """``"the message"`` (the last one sent) or a quoted label (``'"one"'``)."""
        if ref == "the message":
            assert self.last_message is not None, "no message has been sent in this scenario"
            return self.last_message
        label = ref.strip('"')
        assert label in self.labelled, f"no message labelled {ref} was sent in this scenario"
        return self.labelled[label]

    def message_ids(self, refs: Sequence[str]) -> list[str]:
        """The IDs of message references, as a step lists them."""
        return [self.message(ref).msg_id for ref in refs]

    @staticmethod
    def unknown_message_id() -> str:
        """A message ID no target has issued."""
        return f"no-such-message-{secrets.token_hex(8)}"

    @staticmethod
    def unknown_group_id() -> str:
        """A group ID no target has created."""
        return f"no-such-group-{secrets.token_hex(8)}"

    def history_of(self, name: str, message: Message | None = None) -> list[Message]:
        """``name``'s history of the conversation of ``message`` (default: its current chat),
        newest first, one page of the largest size."""
        client = self.user(name)
        if message is None:
            chat = self.chat_of(name)
            if chat.is_group:
                return client.get_history_message_list(
                    group=chat.group_id(), count=HISTORY_COUNT_MAX
                )
            peer_id = self.user(chat.peer_of(name)).user_id
        elif message.group_id is not None:
            return client.get_history_message_list(group=message.group_id, count=HISTORY_COUNT_MAX)
        else:
            other = message.receiver if message.sender == client.user_id else message.sender
            assert other is not None, f"{message.msg_id} names no receiver"
            peer_id = other
        return client.get_history_message_list(user=peer_id, count=HISTORY_COUNT_MAX)

    def as_seen_in_history(self, name: str, message: Message) -> Message:
        """``message`` as it appears in ``name``'s history of its conversation."""
        history = self.history_of(name, message)
        for stored in history:
            if stored.msg_id == message.msg_id:
                return stored
        raise AssertionError(
            f"expected {message.msg_id} in {name}'s history, which holds "
            f"{[stored.msg_id for stored in history]}"
        )

    def unread_count(self, name: str) -> int:
        """``name``'s unread count for its current chat; a chat missing from its conversation
        list has none."""
        chat = self.chat_of(name)
        if chat.is_group:
            conversation_id = f"group_{chat.group_id()}"
        else:
            conversation_id = f"c2c_{self.user(chat.peer_of(name)).user_id}"
        for conversation in self.conversations(name):
            if conversation.conversation_id == conversation_id:
                return conversation.unread_count
        return 0

    # -- receipts -------------------------------------------------------------------------

    def send_receipts(self, reader: str, msg_ids: Sequence[str]) -> None:
        """``reader`` sends read receipts for ``msg_ids`` in one call; on success the world
        notes which of them this reader has now read."""
        self.user(reader).send_message_read_receipts(msg_ids)
        self.outcome = Outcome.success("sendMessageReadReceipts")
        for msg_id in dict.fromkeys(msg_ids):
            message = self.messages.get(msg_id)
            readers = self.readers.get(msg_id, [])
            counts = (
                message is not None
                and message.need_read_receipt
                and reader in self.recipients[msg_id]
                and reader not in readers
            )
            if counts:
                readers.append(reader)

    def read_concurrently(self, readers: Sequence[str], msg_ids: Sequence[str]) -> None:
        """Every reader sends one receipt call per message of ``msg_ids``, all at the same
        moment (a barrier releases all the calls together) [P-3]."""
        calls = [(self.user(name), msg_id) for name in readers for msg_id in msg_ids]
        start = threading.Barrier(len(calls))

        def read(client: UserClient, msg_id: str) -> None:
            start.wait(self.burst_timeout)
            client.send_message_read_receipts([msg_id])

        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            for future in [pool.submit(read, *call) for call in calls]:
                future.result(timeout=self.burst_timeout)
        for msg_id in msg_ids:
            self.readers[msg_id].extend(readers)

    def pull(self, name: str, msg_ids: Sequence[str]) -> list[Receipt]:
        """``name`` pulls receipts for ``msg_ids``, in calls of at most the batch limit."""
        batch_max = self.limit("receiptBatchMax")
        receipts: list[Receipt] = []
        for start in range(0, len(msg_ids), batch_max):
            chunk = msg_ids[start : start + batch_max]
            receipts.extend(self.user(name).get_message_read_receipts(chunk))
        return receipts

    def receipt_of(self, name: str, message: Message) -> Receipt:
        """The receipt ``name`` pulls for one message."""
        receipts = self.pull(name, [message.msg_id])
        assert len(receipts) == 1, (
            f"expected one receipt for {message.msg_id} pulled by {name}, got {receipts}"
        )
        return receipts[0]

    def walk_list(
        self, name: str, message: Message | str, read: bool, count: int | None = None
    ) -> list[str]:
        """The user IDs of a whole read (or unread) list of ``message``, as ``name`` walks it
        (``count`` at a time; by default the declared page size limit)."""
        list_filter = ReadFilter.READ if read else ReadFilter.UNREAD
        page_size = count if count is not None else self.page_size_max()
        members = self.user(name).walk_group_message_read_members(message, list_filter, page_size)
        return [member.user_id for member in members]

    def names_listed(self, name: str, message: Message, read: bool) -> list[str]:
        """The scenario names of a whole read (or unread) list, in the order given."""
        return [self.name_of(user_id) for user_id in self.walk_list(name, message, read)]

    def start_walk(self, name: str, message: Message, read: bool, count: int) -> MemberWalk:
        """Begin a page-by-page walk; ``list_at_start`` is what the world expects the list to
        hold now."""
        readers = self.readers[message.msg_id]
        at_start = (
            list(readers)
            if read
            else [n for n in self.recipients[message.msg_id] if n not in readers]
        )
        list_filter = ReadFilter.READ if read else ReadFilter.UNREAD
        self.walk = MemberWalk(self.user(name), message, list_filter, count, at_start)
        self.walks[list_filter] = self.walk
        return self.walk

    def next_page(self, walk: MemberWalk) -> ReadMemberPage:
        """Fetch the walk's next page, following ``nextSeq``."""
        next_seq = walk.pages[-1].next_seq if walk.pages else 0
        page = walk.reader.get_group_message_read_member_list(
            walk.message, walk.filter, next_seq, walk.count
        )
        walk.pages.append(page)
        return page

    def current_walk(self) -> MemberWalk:
        """The walk the scenario began last."""
        assert self.walk is not None, "no member-list walk has begun in this scenario"
        return self.walk

    def read_during_walk(self, listed: int, unlisted: int) -> None:
        """While the current walk is under way, ``listed`` members it already gave and
        ``unlisted`` members that have not read yet (and it has not given) read the message."""
        walk = self.current_walk()
        msg_id = walk.message.msg_id
        given = [self.name_of(user_id) for user_id in walk.listed_ids]
        already = [name for name in given if name in walk.list_at_start][:listed]
        readers = self.readers[msg_id]
        not_yet = [n for n in self.recipients[msg_id] if n not in given and n not in readers]
        for name in [*already, *not_yet[:unlisted]]:
            self.send_receipts(name, [msg_id])
            walk.read_meanwhile.append(name)

    def finish_walk(self, walk: MemberWalk) -> None:
        """Fetch pages until one says ``isFinished`` (at most ``WALK_MAX_PAGES``)."""
        while not walk.finished:
            if len(walk.pages) >= WALK_MAX_PAGES:
                raise ProtocolViolation(
                    f"the member list of {walk.message.msg_id} did not finish within "
                    f"{WALK_MAX_PAGES} pages of {walk.count} [target {self.target.url}]"
                )
            self.next_page(walk)

    # -- push -----------------------------------------------------------------------------

    def go_online(self, name: str, devices: int = 1) -> None:
        """Open ``devices`` push connections for ``name`` (in addition to any open ones)."""
        client = self.user(name)
        streams = [self._opened(client.connect()) for _ in range(devices)]
        self.devices.setdefault(name, []).extend(streams)

    def is_online(self, name: str) -> bool:
        """Whether ``name`` has an open push connection."""
        return any(not stream.closed for stream in self.devices.get(name, []))

    def stream(self, name: str) -> PushStream:
        """``name``'s most recent push connection."""
        streams = self.devices.get(name)
        assert streams, (
            f"{name} is not online: the scenario must say '{name} is online' before "
            "expecting pushed events"
        )
        return streams[-1]

    def go_offline(self, name: str) -> None:
        """Close ``name``'s connections, remembering the last seq they delivered."""
        seqs = [event.seq for stream in self.devices.get(name, []) for event in stream.events]
        assert seqs, f"{name} saw no event before going offline"
        for stream in self.devices.pop(name, []):
            stream.close()
        self.seq_when_offline[name] = max(seqs)

    def come_online(self, name: str, since: int) -> PushStream:
        """Reconnect ``name`` asking for replay after ``since``."""
        stream = self._opened(self.user(name).connect(since=since))
        self.devices.setdefault(name, []).append(stream)
        return stream

    def _opened(self, stream: PushStream) -> PushStream:
        """``stream``, told which events the preflight found the target never delivers."""
        stream.unavailable.update(self._undeliverable)
        return stream

    def notice(self, name: str, event: Event) -> Event:
        """Remember that a step saw ``event``: later "again" checks look after it."""
        self.noted_seq[name] = max(self.noted_seq.get(name, -1), event.seq)
        return event

    def wait_for_receipts(
        self,
        name: str,
        matches: Callable[[Receipt], bool],
        description: str,
        stream: PushStream | None = None,
        timeout: float | None = None,
    ) -> Receipt:
        """Wait until ``name`` is pushed a read receipt for which ``matches`` holds."""
        stream = stream or self.stream(name)
        event = stream.wait_for(
            lambda e: e.name == RECEIPTS_EVENT and any(matches(r) for r in e.receipts),
            timeout=timeout,
            description=description,
            event=RECEIPTS_EVENT,
        )
        self.notice(name, event)
        receipt = next(r for r in event.receipts if matches(r))
        self.last_notified[name] = receipt
        return receipt

    def conversations(self, name: str) -> list[Conversation]:
        """``name``'s conversation list, without its chat with the fence sender (the fences
        are the suite's, not the scenario's)."""
        fence_id = self._fence_sender.user_id if self._fence_sender is not None else None
        return [
            conversation
            for conversation in self.user(name).get_conversation_list()
            if fence_id is None or conversation.user_id != fence_id
        ]

    def fence(self, name: str) -> str:
        """Send ``name`` a message from a user of its own (made on first use), caused after
        every call the scenario made so far: the fence of an absence proof. Its ``msgID``."""
        if self._fence_sender is None:
            self._fence_sender = self.target.user("fence")
        return self._fence_sender.send_text("fence", to=self.user(name)).msg_id

    def expect_no_event(
        self, name: str, forbidden: Callable[[Event], bool], description: str
    ) -> None:
        """Prove that ``name``'s latest connection got no ``forbidden`` event, behind a fence
        (see ``PushStream.expect_none``): exact, and as fast as the target delivers."""
        self.stream(name).expect_none(
            forbidden, fence=lambda: self.fence(name), description=description
        )

    def receipt_events(self, name: str, msg_id: str) -> list[Receipt]:
        """Every pushed receipt of ``msg_id`` on ``name``'s latest connection, in order."""
        return [
            receipt
            for event in self.stream(name).events
            if event.name == RECEIPTS_EVENT
            for receipt in event.receipts
            if receipt.msg_id == msg_id
        ]

    # -- outcomes -------------------------------------------------------------------------

    def act(self, method: str, action: Callable[[], _T]) -> _T:
        """Run a call that must succeed; its outcome becomes the last one."""
        result = action()
        self.outcome = Outcome.success(method, result)
        return result

    def attempt(
        self, method: str, action: Callable[[], object], probe: Probe | None = None
    ) -> None:
        """Run a call that may fail; keep its outcome (and the probe to repeat it) [X-2]."""
        try:
            result = action()
        except ApiError as error:
            self.outcome = Outcome.of_error(error)
        else:
            self.outcome = Outcome.success(method, result)
        self.probe = probe

    def do(self, attempt: bool, method: str, action: Callable[[], object]) -> None:
        """``attempt`` (the step said "tries to") or ``act``."""
        if attempt:
            self.attempt(method, action)
        else:
            self.act(method, action)

    def probe_messages(
        self, msg_ids: list[str], action: Callable[[list[str]], object]
    ) -> Probe | None:
        """For a request about exactly one message, the probe that repeats it about another."""
        if len(msg_ids) != 1:
            return None
        return Probe(msg_ids[0], lambda other: action([other]))

    def sender_name(self) -> str:
        """The scenario name of the sender of "the message"."""
        return self.name_of(self.message("the message").sender)

    def record(self, response: WireResponse) -> None:
        """Keep a raw call's answer as the last outcome."""
        self.outcome = Outcome.of_response(response)

    def last_outcome(self) -> Outcome:
        """The last call's outcome."""
        assert self.outcome is not None, "no call has been made in this scenario yet"
        return self.outcome

    def new_violations(self) -> list[AssertionError]:
        """Contract violations the target's clients saw since the scenario began."""
        return self.target.violations[self._violations_before :]

    def deviate(
        self,
        check: StrictCheck,
        reference: object,
        observed: object,
        where: str = "",
        *,
        what: str | None = None,
    ) -> None:
        """Record that the strict ``check`` did not hold: the reference answers ``reference``,
        the target answered ``observed`` (``what`` words this occurrence, if it says more)."""
        self.target.deviation_log.record(check.deviation(reference, observed, where, what=what))

    def transcript(self) -> str:
        """Every exchange and push frame since the scenario began, rendered (credentials
        redacted)."""
        transcript = self.target.transcript
        return transcript.render(transcript.since(self._transcript_start))

    def new_deviations(self) -> list[Deviation]:
        """Strict deviations recorded since the scenario began, without repeats."""
        seen = self.target.deviation_log.snapshot()[self._deviations_before :]
        return list(dict.fromkeys(seen))

    # -- end of scenario ------------------------------------------------------------------

    def close(self) -> None:
        """Restore changed settings and close the scenario's users (and their streams)."""
        try:
            if self._settings_before is not None:
                before = self._settings_before
                self.target.admin.set_settings(
                    edition=before.edition,
                    group_receipt_types=list(before.group_receipt_types),
                    group_receipt_max_members=before.group_receipt_max_members,
                    receipt_batch_max=before.receipt_batch_max,
                )
        finally:
            for client in self.people.values():
                client.close()
            if self._fence_sender is not None:
                self._fence_sender.close()


WORLD_KEY = pytest.StashKey["World"]()
"""Where the scenario's world is kept on its test item, for the plugin's report hook."""


@pytest.fixture
def world(
    request: pytest.FixtureRequest, seenby_target: Target, seenby_preflight: Preflight
) -> Iterator[World]:
    """A fresh world for one scenario; settings it changed are restored afterwards. A part of
    the target the preflight found broken fails the scenario at once, with the reason."""
    if seenby_preflight.blocking_failure is not None:
        pytest.fail(seenby_preflight.blocking_failure, pytrace=False)
    scenario_world = World(seenby_target, undeliverable=seenby_preflight.undeliverable_events)
    request.node.stash[WORLD_KEY] = scenario_world
    yield scenario_world
    scenario_world.close()
