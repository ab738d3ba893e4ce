"""``open_target("URL1,URL2,URL3")``: the suite's view of a cluster spreads its users over the
nodes and names each exchange's node in the transcript."""

from __future__ import annotations

from collections.abc import Callable

from seenby.harness import open_target
from seenby.harness.api.cluster_target import ClusterTarget, NodeUserClient
from tests.cluster.conftest import ADMIN_KEY, Cluster


def test_users_call_one_node_and_listen_on_another_and_the_transcript_says_which(
    cluster: Callable[[int], Cluster],
) -> None:
    nodes = cluster(3)
    with open_target(",".join(nodes.urls), ADMIN_KEY) as target:
        assert isinstance(target, ClusterTarget) and not target.restartable
        users = target.users("alice", "bob", "carol")
        placed = [(u.calls_url, u.push_url) for u in users if isinstance(u, NodeUserClient)]
        urls = nodes.urls
        assert placed == [(urls[0], urls[2]), (urls[1], urls[0]), (urls[2], urls[1])]
        alice, bob, _ = users
        group = target.group("Work", alice, [bob])
        stream = alice.connect()
        message = alice.send_text("hi", group=group, need_read_receipt=True)
        bob.send_message_read_receipts([message])
        stream.wait_for(lambda e: e.name == "onRecvMessageReadReceipts")
        rendered = target.transcript.render(target.transcript.since(0))
        assert f"{alice.user_id}@node1" in rendered and f"{bob.user_id}@node2" in rendered
        assert f"{alice.user_id}@node3" in rendered  # the frame pushed to alice, on node 3
