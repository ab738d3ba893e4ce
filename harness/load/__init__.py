"""``seenby load``: the receipt workload on Locust, its ground truth and the verdict after it.

``ledger`` (what was acknowledged, what is in doubt), ``verdict`` (the invariants) and
``timeline`` import nothing from Locust, so other workloads (the reliability tests) share them.
``workload``, ``session`` and ``cli`` need the ``load`` extra (``pip install 'seenby[load]'``);
run them with ``seenby load`` or ``python -m gevent.monkey --module harness.load``, so that gevent
patches the standard library before anything imports it.
"""

from seenby.harness.load.ledger import Connection, Frame, Ledger, Send, frame_of
from seenby.harness.load.verdict import (
    INVARIANTS,
    Breach,
    Invariant,
    PulledState,
    Verdict,
    judge,
    pull_state,
)

__all__ = [
    "INVARIANTS",
    "Breach",
    "Connection",
    "Frame",
    "Invariant",
    "Ledger",
    "PulledState",
    "Send",
    "Verdict",
    "frame_of",
    "judge",
    "pull_state",
]
