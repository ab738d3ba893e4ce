"""The receipt workload as Locust users: send, receive by push, read after a delay, pull, walk.

Theory of operation. Each process (the local runner, or each Locust worker) has one `WorkloadShare`.
Simulated users claim identities from it; identities come in *blocks* created on demand: a
block is ``group_size`` users of the target and one group holding them all, and a user's C2C
peers are the other users of its block. Identities of a block nobody claimed stay offline
members (they are recipients who never read). Groups never change, so a group message's
recipients are known exactly: the block minus the sender.

Every user holds a push connection. What it receives goes into its ledger `Connection` frame by
frame, and new receipt-needing messages into its inbox; after a random reading delay the user
sends receipts for them in batches of one conversation, sometimes with one of its own messages
(skipped [R-4]) or a message it already read (a repeat, changing nothing [R-5]). Users also pull
counts of their own messages, walk member lists, mark C2C conversations read, and drop or close
their connection and resume with ``since`` = the last seq seen.

Every call goes through `ReceiptUser.call`: it reports to Locust's statistics (by method name)
and to the ledger, and answers None when the outcome is unknown, which leaves the ledger entry
in doubt. A call is told whether the spec lets the target refuse it as a whole (``refusable``,
the reason): such a refusal is counted as a refusal with its code and changes nothing in the
ledger; a refusal of a call that had to succeed, a 5xx and a call that got no answer are server
faults.

Push latency pairs each push with the call that caused it: a receipt call registers, before it
is sent, one pending receipt per message it names for the first time (never a repeat the target
rightly ignores, never a message the reader had already receipted), withdrawn if the call is
refused or gets no answer. A C2C push names its reader and is paired exactly; a group push is
paired with the oldest pending receipt of its message (the Nth reader's push, with readCount N).
Each call notes the receiving user's connection as it stood: a push that came on that same
connection is *live*; one that came after the user reconnected waited for the reconnect and is
filed apart, with the time offline, so offline time never counts as delivery latency. Latencies
are reported to Locust as request type ``PUSH`` and kept raw in the `Timeline`, with the
generator's own event-loop lag and CPU share (`GeneratorMonitor`). When the users have stopped,
`WorkloadShare.settle` sends every connected user one last message and waits for it, so each feed is
complete before the verdict reads it.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from argparse import Namespace
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import websocket
from locust import User, task
from locust.env import Environment

from seenby.contract.vocabulary import (
    GROUP_RECEIPT_MAX_MEMBERS,
    ON_RECV_MESSAGE_READ_RECEIPTS,
    ON_RECV_NEW_MESSAGE,
    RECEIPT_BATCH_MAX,
    c2c_conversation_id,
    group_conversation_id,
)
from seenby.harness.api.cluster_target import split_target_urls
from seenby.harness.api.models import Event
from seenby.harness.wire.push import WebSocketPushStream
from seenby.harness.wire.transport import DEFAULT_TIMEOUT, HttpTransport, ViolationLog, WireResponse

from .ledger import Connection, Ledger, Send, frame_of
from .monitor import GeneratorMonitor
from .timeline import (
    MESSAGE_PUSH,
    MESSAGE_PUSH_AFTER_RECONNECT,
    OFFLINE,
    RECEIPT_PUSH,
    RECEIPT_PUSH_AFTER_RECONNECT,
    Timeline,
    call_series,
)

__all__ = ["LoadSettings", "ReceiptUser", "WorkloadShare"]

GROUP_TYPES = ("Work", "Public", "Meeting")
BLOCK_CREATION_CALLS = 8
"""Users of a new block are created this many at a time."""
OFFLINE_MAX_S = 1.0
"""A reconnecting user stays offline up to this long."""
PUSH = "PUSH"
"""Locust request type of push latencies (name: the event)."""
RECEIPT_METHODS = (
    "sendMessageReadReceipts",
    "getMessageReadReceipts",
    "getGroupMessageReadMemberList",
)
"""Methods an edition without read receipts refuses with 7013 [A-1]."""


@dataclass(frozen=True)
class LoadSettings:
    """What the workload does; the master sends these to its workers with Locust's options."""

    admin_key: str
    group_size: int = 12
    c2c_share: float = 0.3
    """Share of sends that go to a C2C peer; the rest go to the block's group."""
    custom_share: float = 0.2
    """Share of messages with a custom element instead of text."""
    plain_share: float = 0.1
    """Share of messages sent without ``needReadReceipt``."""
    think_s: float = 1.0
    """Mean pause between a user's actions (uniform over 0.5x .. 1.5x)."""
    reading_delay_s: float = 2.0
    """A received message is read after a uniform delay up to this."""
    seed: int = 1
    call_timeout_s: float = DEFAULT_TIMEOUT
    settle_timeout_s: float = 60.0

    @classmethod
    def from_options(cls, options: Namespace) -> LoadSettings:
        """The settings carried in Locust's ``parsed_options`` (``seenby_*`` attributes)."""
        given = {
            name: getattr(options, f"seenby_{name}", None) for name in cls.__dataclass_fields__
        }
        return cls(**{name: value for name, value in given.items() if value is not None})

    def to_options(self) -> dict[str, Any]:
        """``seenby_*`` attributes for Locust's ``parsed_options``."""
        return {f"seenby_{name}": value for name, value in vars(self).items()}


@dataclass(frozen=True)
class Identity:
    """A user of the target and the block it belongs to."""

    user_id: str
    token: str
    peers: tuple[str, ...]
    group_id: str
    group_type: str
    seat: str
    """``block-index``: the same seat gets the same random choices in every run of one seed."""


@dataclass(eq=False)
class _PendingReceipt:
    """A receipt a call is making: who reads, when the call began, the sender's connection."""

    reader: str
    began: float
    sender_connection: Connection | None
    """The sender's live connection when the call began (None: the sender was offline)."""


@dataclass(eq=False)
class _PendingSend:
    """A send in flight: when it began and each recipient's live connection then."""

    began: float
    connections: dict[str, Connection | None]


class WorkloadShare:
    """One process's share of the workload: identities, ledger, timeline, connected users."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.ledger = Ledger()
        self.timeline = Timeline()
        self.violations = ViolationLog()
        self.tag = uuid.uuid4().hex[:8]
        self.settings: LoadSettings | None = None
        self.base_url = ""
        self.node_urls: list[str] = []
        """Every node of the target (one, unless ``--target`` named several)."""
        self._placed = 0
        self.batch_max = RECEIPT_BATCH_MAX.value  # until the target announces its own
        self.users: dict[str, ReceiptUser] = {}
        self.sends_in_flight: dict[str, _PendingSend] = {}
        """ref → its send, until every recipient's push came (for message push latency)."""
        self.pending_receipts: dict[str, list[_PendingReceipt]] = defaultdict(list)
        """msgID → the receipts being made of it, oldest first (for receipt push latency)."""
        self.target_settings: dict[str, Any] = {}
        """The target's ``admin/getSettings``: which refusals of a send the spec allows."""
        self.monitor = GeneratorMonitor(self.timeline)
        self._free: list[Identity] = []
        self._blocks = 0
        self._settles = 0
        self._lock = threading.Lock()
        self._admin: HttpTransport | None = None

    def configure(self, base_url: str, settings: LoadSettings) -> None:
        """Point the world at the target (on a worker: once the master's options arrived);
        ``base_url`` may name several nodes, separated by commas."""
        self.node_urls = split_target_urls(base_url)
        self.base_url = self.node_urls[0]
        self.settings = settings
        self._admin = HttpTransport(
            self.base_url,
            settings.admin_key,
            violations=self.violations,
            timeout=settings.call_timeout_s,
        )
        limits = self._admin.raise_for_code(self._admin.get("capabilities"))["limits"]
        self.batch_max = int(limits.get("receiptBatchMax", 30))
        self.target_settings = self._admin.invoke("admin/getSettings", {})
        self.monitor.start()

    def without_receipts(self) -> bool:
        """The target's edition lacks read receipts [A-1]."""
        return self.target_settings.get("edition") == "standard"

    def refusable(self, method: str) -> str | None:
        """Why the spec lets the target refuse any ``method`` call as a whole, or None."""
        if method in RECEIPT_METHODS and self.without_receipts():
            return "the edition lacks read receipts [A-1]"
        return None

    def refusable_send(self, group_type: str | None, members: int, need: bool) -> str | None:
        """Why the spec lets the target refuse this send, or None (it must succeed)."""
        if not need:
            return None
        if self.without_receipts():
            return "the edition lacks read receipts [A-1]"
        if group_type is None:
            return None
        if group_type not in self.target_settings.get("groupReceiptTypes", GROUP_TYPES):
            return f"the target has no receipts in {group_type} groups [A-2, A-3]"
        limit = self.target_settings.get("groupReceiptMaxMembers", GROUP_RECEIPT_MAX_MEMBERS.value)
        if members > int(limit):
            return f"the group's {members} members exceed the target's receipt limit [A-4]"
        return None

    def live_connection(self, user_id: str) -> Connection | None:
        """``user_id``'s push connection if it is open now (None: offline, or not simulated
        in this process)."""
        user = self.users.get(user_id)
        return None if user is None else user.live_connection()

    @property
    def admin(self) -> HttpTransport:
        """The administrator's transport (after ``configure``)."""
        if self._admin is None:
            raise RuntimeError("the workload was not configured with a target")
        return self._admin

    def place(self) -> tuple[str, str]:
        """(calls node, push node) for the next user: user i calls node i and connects to node
        i - 1 (as ``seenby run``'s cluster target does), so pushes cross between nodes."""
        with self._lock:
            index, self._placed = self._placed, self._placed + 1
        nodes = self.node_urls or [self.base_url]
        return nodes[index % len(nodes)], nodes[(index - 1) % len(nodes)]

    def next_node(self, url: str) -> str:
        """The node after ``url``: where a user goes when ``url`` stopped answering."""
        nodes = self.node_urls or [self.base_url]
        return nodes[(nodes.index(url) + 1) % len(nodes)] if url in nodes else nodes[0]

    def claim(self) -> Identity:
        """A free identity, creating a new block when none is left."""
        with self._lock:
            if not self._free:
                self._free = self._new_block()
            return self._free.pop(0)

    def _new_block(self) -> list[Identity]:
        settings = self.current_settings()
        number = self._blocks
        self._blocks += 1
        members = [f"load-{self.tag}-{number}-{index}" for index in range(settings.group_size)]

        def create(user_id: str) -> str:
            data = self.admin.invoke("admin/createUser", {"userID": user_id, "nickName": user_id})
            token: str = data["token"]
            return token

        with ThreadPoolExecutor(BLOCK_CREATION_CALLS) as pool:  # greenlets, under gevent
            tokens = dict(zip(members, pool.map(create, members), strict=True))
        for user_id, token in tokens.items():
            self.ledger.add_user(user_id, token)
        group_id = f"load-{self.tag}-{number}"
        self.admin.invoke(
            "admin/createGroup",
            {
                "groupID": group_id,
                "groupType": GROUP_TYPES[number % len(GROUP_TYPES)],
                "ownerID": members[0],
                "memberIDs": members[1:],
            },
        )
        return [
            Identity(
                user_id,
                token,
                tuple(m for m in members if m != user_id),
                group_id,
                GROUP_TYPES[number % len(GROUP_TYPES)],
                f"{number}-{i}",
            )
            for i, (user_id, token) in enumerate(tokens.items())
        ]

    def current_settings(self) -> LoadSettings:
        """The settings (after ``configure``)."""
        if self.settings is None:
            raise RuntimeError("the workload was not configured with a target")
        return self.settings

    def settle(self) -> None:
        """Send each connected user one last message and wait for it on its connection, then
        close every connection and add the contract violations seen to the ledger."""
        settings = self.current_settings()
        self._settles += 1  # a worker restarted mid-run by its master settles once per start
        closer = f"load-{self.tag}-closer-{self._settles}"
        token = self.admin.invoke("admin/createUser", {"userID": closer})["token"]
        self.ledger.add_user(closer, token)
        transport = HttpTransport(
            self.base_url, token, violations=self.violations, timeout=settings.call_timeout_s
        )
        sentinels: dict[str, str] = {}
        for user_id, user in self.users.items():
            user.ensure_connected()
            ref = f"{self.tag}-settle-{user_id}"
            self.ledger.begin_send(Send(ref, closer, (user_id,), None, False))
            body = {"receiver": user_id, "elem": {"elemType": "text", "text": ref}}
            self.ledger.count_call("sendMessage")
            try:
                response = transport.call("sendMessage", body)
            except (OSError, AssertionError) as error:
                if isinstance(error, OSError):
                    self.ledger.fault(f"sendMessage (settle sentinel to {user_id}): {error}")
                user.note_unsettled(f"its sentinel could not be sent: {error}")
                continue
            if response.ok:
                self.ledger.acknowledge_send(ref, response.data["msgID"])
                sentinels[user_id] = response.data["msgID"]
            else:
                self.ledger.forget_send(ref)
                self.ledger.fault(
                    f"sendMessage (a plain C2C text, the settle sentinel to {user_id}) refused "
                    f"with code {response.code} ({response.desc}), though it must succeed"
                )
                user.note_unsettled(f"its sentinel was refused: {response.code} {response.desc}")
        transport.close()
        deadline = time.monotonic() + settings.settle_timeout_s
        for user_id, msg_id in sentinels.items():
            self.users[user_id].wait_settled(msg_id, max(0.0, deadline - time.monotonic()))
        for user in self.users.values():
            user.disconnect()
        self.monitor.stop()
        self.admin.close()
        self.ledger.faults.extend(str(violation) for violation in self.violations.snapshot())


@dataclass
class _Inbound:
    msg_id: str
    sender: str
    ready_at: float


class ReceiptUser(User):
    """One simulated chat user (see the module docstring for what it does)."""

    world: ClassVar[WorkloadShare]
    """The world of this process; set by the runner before any user starts."""

    def wait_time(self) -> float:
        """A pause around the configured mean think time."""
        mean = self.world.current_settings().think_s
        return self.rng.uniform(0.5 * mean, 1.5 * mean)

    def on_start(self) -> None:
        """Claim an identity and open the push connection (since=0: the whole feed)."""
        world = self.world
        self.me = world.claim()
        self.settings = world.current_settings()
        worker = getattr(self.environment.runner, "worker_index", 0)
        self.rng = random.Random(f"{self.settings.seed}-{worker}-{self.me.seat}")
        self.calls_url, self.push_url = world.place()
        self.http = HttpTransport(
            self.calls_url,
            self.me.token,
            violations=world.violations,
            timeout=self.settings.call_timeout_s,
        )
        self.inbox: dict[str, list[_Inbound]] = defaultdict(list)
        self.read: dict[str, list[str]] = defaultdict(list)
        self.own: dict[str, list[str]] = defaultdict(list)
        self.own_group: list[str] = []
        self.c2c_peers_heard: set[str] = set()
        self.inboxed: set[str] = set()
        self.sent = 0
        self._stream: WebSocketPushStream | None = None
        self._connection: Connection | None = None
        self._live: Connection | None = None
        """The connection whose handshake is done and that was open when last looked at."""
        # Registered before connecting: a user stopped while connecting is still settled.
        world.users[self.me.user_id] = self
        self._connect(0)

    # -- the push connection -----------------------------------------------------------------

    def _connect(self, since: int, offline_from: float | None = None) -> None:
        """Open a push connection resuming after ``since``; ``offline_from`` (monotonic) is
        when the user went offline, if it is reconnecting."""
        connection = self.world.ledger.open_connection(self.me.user_id, since)
        self._stream, self._connection, self._live = None, connection, None
        try:
            stream = WebSocketPushStream(
                self.push_url,
                self.me.token,
                owner=self.me.user_id,
                violations=self.world.violations,
                since=since,
                timeout=self.settings.call_timeout_s,
            )
        except (OSError, websocket.WebSocketException, AssertionError) as error:
            if not isinstance(error, AssertionError):  # those are in the violation log
                self.world.ledger.fault(f"push connection of {self.me.user_id}: {error}")
            self._fire(PUSH, "connect", 0.0, error)
            # Of several nodes, the next connection tries the next one (resuming with since).
            self.push_url = self.world.next_node(self.push_url)
            return
        # The reader starts with the stream, and a replay arrives at once: frames may be in
        # before the listener. Under gevent nothing runs between these two lines, so each
        # frame reaches ``_on_event`` exactly once. (``_close`` logs the stream's frames whole.)
        self._live = connection
        if offline_from is not None:
            self.world.timeline.add(OFFLINE, time.time(), (time.monotonic() - offline_from) * 1000)
        stream.add_listener(lambda event: self._on_event(event, connection))
        for event in stream.events:
            self._on_event(event, connection)
        self._stream = stream

    def _close(self, *, abrupt: bool) -> None:
        """Close (or drop) the connection and log every frame it received in the ledger."""
        stream, connection = self._stream, self._connection
        self._live = None
        if stream is None or connection is None:
            return
        if abrupt:
            stream.drop()
        else:
            stream.close()
        connection.frames = [frame_of(e.name, e.seq, e.data) for e in stream.events]
        self._stream = None

    def _last_seq(self) -> int:
        """The seq of the last frame logged (after ``_close``), else the connection's since."""
        assert self._connection is not None
        frames = self._connection.frames
        return frames[-1].seq if frames else self._connection.since

    def ensure_connected(self) -> None:
        """Reconnect (resuming after the last seq seen) if the connection is gone."""
        if self._stream is None or self._stream.closed:
            offline_from = time.monotonic()
            self._close(abrupt=False)
            self._connect(self._last_seq(), offline_from)

    def live_connection(self) -> Connection | None:
        """The push connection, if open as far as this user knows; else None."""
        if self._stream is None or self._stream.closed:
            return None
        return self._live

    def disconnect(self) -> None:
        """Close the connection politely and log its frames."""
        self._close(abrupt=False)

    def note_unsettled(self, because: str) -> None:
        """Say why this user's connection will not settle."""
        if self._connection is not None:
            self._connection.unsettled_because = because

    def wait_settled(self, msg_id: str, timeout: float) -> None:
        """Wait until the settle sentinel ``msg_id`` arrived; then the connection is settled."""
        stream, connection = self._stream, self._connection
        if connection is None:
            return
        if stream is None:
            connection.unsettled_because = "the push connection could not be opened"
            return
        try:
            stream.wait_for(
                lambda e: e.name == ON_RECV_NEW_MESSAGE and e.data["msgID"] == msg_id,
                timeout,
                f"the settle sentinel {msg_id}",
            )
        except AssertionError as error:
            connection.unsettled_because = str(error).splitlines()[0]
            return
        connection.settled = True

    def _on_event(self, event: Event, connection: Connection) -> None:
        """Take one frame that came on ``connection``: time it against the call that caused it
        and put new receipt-needing messages in the inbox."""
        now, wall = time.monotonic(), time.time()
        world = self.world
        if event.name == ON_RECV_NEW_MESSAGE:
            data = event.data
            elem = data["elem"]
            ref = elem.get("text", elem.get("data", ""))
            pending = world.sends_in_flight.get(ref)
            if pending is not None and self.me.user_id in pending.connections:
                live = pending.connections.pop(self.me.user_id) is connection
                if not pending.connections:
                    world.sends_in_flight.pop(ref, None)
                self._time_push(event.name, live, now - pending.began, wall)
            if "groupID" not in data:
                self.c2c_peers_heard.add(data["sender"])
            if data["needReadReceipt"] and not data["isSelf"] and data["msgID"] not in self.inboxed:
                self.inboxed.add(data["msgID"])
                if "groupID" in data:
                    conversation = group_conversation_id(data["groupID"])
                else:
                    conversation = c2c_conversation_id(data["sender"])
                delay = self.rng.uniform(0, self.settings.reading_delay_s)
                self.inbox[conversation].append(
                    _Inbound(data["msgID"], data["sender"], wall + delay)
                )
        elif event.name == ON_RECV_MESSAGE_READ_RECEIPTS:
            for receipt in event.data:
                waiting = world.pending_receipts.get(receipt["msgID"])
                if not waiting:
                    continue
                # A C2C receipt names its reader; a group one is the next reader's (readCount).
                reader = receipt.get("userID") if "groupID" not in receipt else None
                match = next((p for p in waiting if reader is None or p.reader == reader), None)
                if match is None:
                    continue
                waiting.remove(match)
                if not waiting:
                    world.pending_receipts.pop(receipt["msgID"], None)
                live = match.sender_connection is connection
                self._time_push(event.name, live, now - match.began, wall)

    def _time_push(self, event: str, live: bool, seconds: float, at: float) -> None:
        """File one push latency: live, or after the receiving user reconnected."""
        receipt = event == ON_RECV_MESSAGE_READ_RECEIPTS
        if live:
            series = RECEIPT_PUSH if receipt else MESSAGE_PUSH
            self._fire(PUSH, event, seconds * 1000, None)
        else:
            series = RECEIPT_PUSH_AFTER_RECONNECT if receipt else MESSAGE_PUSH_AFTER_RECONNECT
            self._fire(PUSH, f"{event} after a reconnect", seconds * 1000, None)
        self.world.timeline.add(series, at, seconds * 1000)

    # -- calls -----------------------------------------------------------------------------

    def call(
        self, method: str, body: dict[str, Any], *, refusable: str | None = None
    ) -> WireResponse | None:
        """One call, reported to Locust, the ledger and the timeline; None when its outcome is
        unknown (in doubt). ``refusable``: why the spec lets the target refuse this call as a
        whole (then a refusal is counted as one); None: the call must succeed."""
        world, user = self.world, self.me.user_id
        refusable = refusable or world.refusable(method)
        world.ledger.count_call(method)
        started = time.perf_counter()
        try:
            response = self.http.call(method, body)
        except (OSError, AssertionError) as error:
            # AssertionError: a 5xx or a contract break, already in the violation log.
            if isinstance(error, OSError):
                world.ledger.fault(f"{method} as {user}: no answer: {error}")
            self._fire("POST", method, (time.perf_counter() - started) * 1000, error)
            if isinstance(error, OSError) and len(self.world.node_urls) > 1:
                self._move_calls()  # no answer: this node may be gone; the call stays in doubt
            return None
        ms = (time.perf_counter() - started) * 1000
        world.timeline.add(call_series(method), time.time(), ms)
        if response.ok:
            self._fire("POST", method, ms, None)
        elif refusable is not None:
            world.ledger.refusal(method, response.code)
            self._fire("POST", f"{method} refused {response.code}", ms, None)
        else:
            world.ledger.fault(
                f"{method} as {user} refused with code {response.code} ({response.desc}), "
                "though the call was valid and the spec says it must succeed"
            )
            self._fire("POST", method, ms, RuntimeError(f"code {response.code}: {response.desc}"))
        return response

    def _move_calls(self) -> None:
        """Send this user's next calls to the next node."""
        self.http.close()
        self.calls_url = self.world.next_node(self.calls_url)
        self.http = HttpTransport(
            self.calls_url,
            self.me.token,
            violations=self.world.violations,
            timeout=self.settings.call_timeout_s,
        )

    def _fire(self, kind: str, name: str, ms: float, error: BaseException | None) -> None:
        self.environment.events.request.fire(
            request_type=kind,
            name=name,
            response_time=ms,
            response_length=0,
            exception=error,
            context={},
        )

    # -- tasks -------------------------------------------------------------------------------

    @task(6)
    def send_message(self) -> None:
        """Send a message to a C2C peer or to the block's group."""
        self.ensure_connected()
        rng, me = self.rng, self.me
        self.sent += 1
        ref = f"{self.world.tag}-{me.user_id}-{self.sent}"
        need = rng.random() >= self.settings.plain_share
        if rng.random() < self.settings.custom_share:
            elem = {"elemType": "custom", "data": ref, "desc": "load"}
        else:
            elem = {"elemType": "text", "text": ref}
        body: dict[str, Any] = {"elem": elem, "needReadReceipt": need}
        world = self.world
        if rng.random() < self.settings.c2c_share:
            peer = rng.choice(me.peers)
            body["receiver"] = peer
            send = Send(ref, me.user_id, (peer,), None, need)
            refusable = world.refusable_send(None, 2, need)
        else:
            body["groupID"] = me.group_id
            send = Send(ref, me.user_id, me.peers, me.group_id, need)
            refusable = world.refusable_send(me.group_type, len(me.peers) + 1, need)
        ledger = world.ledger
        ledger.begin_send(send)
        world.sends_in_flight[ref] = _PendingSend(
            time.monotonic(),
            {r: world.live_connection(r) for r in send.recipients if r in world.users},
        )
        response = self.call("sendMessage", body, refusable=refusable)
        if response is None or not response.ok:
            world.sends_in_flight.pop(ref, None)  # no push to pair, or none known to be due
        if response is None:
            return
        if not response.ok:
            ledger.forget_send(ref)
            return
        msg_id = response.data["msgID"]
        ledger.acknowledge_send(ref, msg_id)
        if need:
            self.own[send.conversation_of(me.user_id)].append(msg_id)
            if send.group_id is not None:
                self.own_group.append(msg_id)

    @task(8)
    def send_message_read_receipts(self) -> None:
        """Receipt the messages of one conversation whose reading delay is over."""
        self.ensure_connected()
        now = time.time()
        ready = [c for c, waiting in self.inbox.items() if waiting and waiting[0].ready_at <= now]
        if not ready:
            return
        rng = self.rng
        conversation = rng.choice(sorted(ready))
        waiting = self.inbox[conversation]
        room = self.world.batch_max - 2
        ready_now = [m for m in waiting[:room] if m.ready_at <= now]
        fresh = [m.msg_id for m in ready_now]
        del waiting[: len(fresh)]
        batch = list(fresh)
        if self.own[conversation] and rng.random() < 0.1:
            batch.append(rng.choice(self.own[conversation]))  # skipped by the server
        if self.read[conversation] and rng.random() < 0.15:
            batch.append(rng.choice(self.read[conversation]))  # a repeat: changes nothing
        batch = list(dict.fromkeys(batch))
        world, reader = self.world, self.me.user_id
        already = {m for m in fresh if reader in world.ledger.readers.get(m, ())}
        world.ledger.begin_read(reader, batch)
        began = time.monotonic()
        pending = {
            m.msg_id: _PendingReceipt(reader, began, world.live_connection(m.sender))
            for m in ready_now
            if m.msg_id not in already
        }
        for msg_id, receipt in pending.items():
            world.pending_receipts[msg_id].append(receipt)
        response = self.call("sendMessageReadReceipts", {"msgIDs": batch})
        if response is None or not response.ok:
            # Refused: no push will come. In doubt: one may or may not; either way the call
            # cannot be paired with a push.
            for msg_id, receipt in pending.items():
                waiting_push = world.pending_receipts.get(msg_id, [])
                if receipt in waiting_push:
                    waiting_push.remove(receipt)
        if response is None:
            return
        if not response.ok:
            world.ledger.forget_read(reader, batch)
            return
        world.ledger.acknowledge_read(reader, batch)
        world.timeline.add_receipts(time.time(), len(fresh))
        self.read[conversation].extend(fresh)

    @task(3)
    def get_message_read_receipts(self) -> None:
        """Pull the counts of up to a batch of the user's latest messages in one conversation."""
        conversations = sorted(c for c, ids in self.own.items() if ids)
        if conversations:
            own = self.own[self.rng.choice(conversations)]
            self.call("getMessageReadReceipts", {"msgIDs": own[-self.world.batch_max :]})

    @task(1)
    def walk_member_lists(self) -> None:
        """Walk the READ or UNREAD list of a recent group message, in small pages."""
        if not self.own_group:
            return
        msg_id = self.rng.choice(self.own_group[-10:])
        body = {"msgID": msg_id, "filter": self.rng.randint(0, 1), "nextSeq": 0}
        for _ in range(100):
            body["count"] = self.rng.randint(1, 8)
            response = self.call("getGroupMessageReadMemberList", body)
            if response is None or not response.ok or response.data["isFinished"]:
                return
            body["nextSeq"] = response.data["nextSeq"]

    @task(2)
    def mark_c2c_message_as_read(self) -> None:
        """Mark the C2C conversation with a peer who wrote to this user read."""
        if not self.c2c_peers_heard:
            return
        peer = self.rng.choice(sorted(self.c2c_peers_heard))
        ledger, reader = self.world.ledger, self.me.user_id
        ledger.begin_mark(reader, peer)
        response = self.call("markC2CMessageAsRead", {"userID": peer})
        if response is not None:
            ledger.acknowledge_mark(reader, peer, acknowledged=response.ok)

    @task(1)
    def reconnect(self) -> None:
        """Close or drop the push connection, stay offline a moment, and resume with since =
        the last seq seen (events of the offline moment come as replay)."""
        offline_from = time.monotonic()
        self._close(abrupt=self.rng.random() < 0.5)
        time.sleep(self.rng.uniform(0, OFFLINE_MAX_S))
        self._connect(self._last_seq(), offline_from)
