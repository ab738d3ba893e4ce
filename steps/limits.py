"""Steps for limits checked from below [L-2]: a target is held to the limits it declares.

A target announces its own values of the spec's limits in ``GET /v1/capabilities`` (the spec's
default where it announces none): a page exactly as large as its declared member-list limit is
accepted, one more is refused, whatever the declared value is. The receipt batch limit is read
the same way by the batch steps (``World.limit("receiptBatchMax")``).
"""

from __future__ import annotations

from seenby.steps.phrases import when
from seenby.steps.world import World


@when(
    "{name:name} asks for the first page of members who have not read the message, as many "
    "as the page size limit at a time"
)
def first_page_at_limit(world: World, name: str) -> None:
    walk = world.start_walk(name, world.message("the message"), False, world.page_size_max())
    world.act("getGroupMessageReadMemberList", lambda: world.next_page(walk))


@when(
    "{name:name} tries to ask for the first page of members who have not read the message, one "
    "more than the page size limit at a time"
)
def first_page_over_limit(world: World, name: str) -> None:
    count = world.page_size_max() + 1
    walk = world.start_walk(name, world.message("the message"), False, count)
    world.attempt("getGroupMessageReadMemberList", lambda: world.next_page(walk))
