"""A target that is several nodes of one service: ``seenby run --target URL1,URL2,URL3``.

``ClusterTarget`` spreads the users over the nodes so that what a cluster can get wrong is what
the suite exercises: user *i* makes its calls to node *i mod N* and opens its push connections
on node *i - 1 mod N* (with one node, both are that node). Scenarios create the sender first, so
with three nodes a sender's push connection is on neither its own node nor the next user's
(its first reader's). Admin calls go to the first node.
The transcript names the node of every exchange: a user's actor reads ``alice-9f3c2a1b@node2``
for its calls and for the frames pushed to it, node numbers counting from 1 in the order given.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence

from seenby.harness.api.client import UserClient
from seenby.harness.api.target import WireTarget
from seenby.harness.drivers.wire import WireUserClient
from seenby.harness.wire.push import PushStream, WebSocketPushStream
from seenby.harness.wire.transport import DEFAULT_TIMEOUT, ViolationLog

__all__ = ["ClusterTarget", "split_target_urls"]


def split_target_urls(target: str) -> list[str]:
    """The node URLs of a ``--target`` value (one URL, or several separated by commas)."""
    return [url.strip().rstrip("/") for url in target.split(",") if url.strip()]


class NodeUserClient(WireUserClient):
    """A user whose calls go to one node and whose push connections open on another."""

    def __init__(
        self,
        user: WireUserClient,
        *,
        calls: tuple[int, str],
        push: tuple[int, str],
        violations: ViolationLog,
        timeout: float,
    ) -> None:
        super().__init__(
            user.user_id, user.token, base_url=calls[1], violations=violations, timeout=timeout
        )
        self._http.actor = f"{user.user_id}@node{calls[0]}"
        self._push_node, self._push_url = push
        self.calls_url = calls[1]
        """The node this user's calls go to."""
        self.push_url = push[1]
        """The node this user's push connections open on."""

    def _open_stream(self, since: int | None) -> PushStream:
        """A push connection on this user's push node, not the node its calls go to."""
        return WebSocketPushStream(
            self._push_url,
            self.token,
            owner=f"{self.user_id}@node{self._push_node}",
            violations=self._violations,
            since=since,
            timeout=self.timeout,
        )


class ClusterTarget(WireTarget):
    """The nodes of one deployment (see the module doc); it cannot be restarted from here."""

    def __init__(
        self, urls: Sequence[str], admin_key: str | None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        if not urls:
            raise ValueError("a cluster target needs at least one node URL")
        super().__init__(urls[0], admin_key, timeout=timeout)
        self.urls = [url.rstrip("/") for url in urls]
        self._next_user = itertools.count()
        self._spread_lock = threading.Lock()
        self._spread: list[NodeUserClient] = []

    @property
    def name(self) -> str:
        return f"cluster of {len(self.urls)} nodes ({', '.join(self.urls)})"

    @property
    def restartable(self) -> bool:
        return False

    def restart(self) -> None:
        raise RuntimeError("a cluster target is remote: the harness cannot restart it")

    def users(
        self, *names: str, nick_name: str | None = None, face_url: str | None = None
    ) -> list[UserClient]:
        created = super().users(*names, nick_name=nick_name, face_url=face_url)
        spread: list[UserClient] = []
        for user in created:
            assert isinstance(user, WireUserClient)  # a WireTarget's users speak the wire
            with self._spread_lock:
                index = next(self._next_user)
            calls, push = index % len(self.urls), (index - 1) % len(self.urls)
            node_user = NodeUserClient(
                user,
                calls=(calls + 1, self.urls[calls]),
                push=(push + 1, self.urls[push]),
                violations=self._violation_log,
                timeout=self.timeout,
            )
            with self._spread_lock:
                self._spread.append(node_user)
            spread.append(node_user)
        return spread

    def close(self) -> None:
        with self._spread_lock:
            spread, self._spread = self._spread, []
        for user in spread:
            user.close()
        super().close()
