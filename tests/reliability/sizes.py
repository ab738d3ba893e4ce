"""How big the reliability runs are: reduced for CI, full with ``SEENBY_FULL=1``."""

from __future__ import annotations

import os
from dataclasses import dataclass

FULL = os.environ.get("SEENBY_FULL", "") not in ("", "0")
"""True when the full-size runs were asked for."""


@dataclass(frozen=True)
class LoadSize:
    """One load run: who takes part and how much they do."""

    users: int
    group_size: int
    receipts: int
    """At least this many receipts are sent (each a distinct (message, reader) pair)."""
    c2c_share: float
    """Fraction of the receipts that go to C2C messages; the rest go to group messages."""
    workers: int
    reconnects: int
    """Push connections dropped or closed mid-run and reopened with ``since``."""
    twin_connections: int
    """Users holding a second push connection for the whole run (both must see every event)."""


LOAD_CI = LoadSize(
    users=200,
    group_size=12,
    receipts=2_500,
    c2c_share=0.2,
    workers=8,
    reconnects=40,
    twin_connections=10,
)
LOAD_FULL = LoadSize(
    users=240,
    group_size=20,
    receipts=24_000,
    c2c_share=0.25,
    workers=12,
    reconnects=400,
    twin_connections=24,
)


def load_size() -> LoadSize:
    """The load size for this run."""
    return LOAD_FULL if FULL else LOAD_CI


CRASH_CI = LoadSize(
    users=40,
    group_size=8,
    receipts=1_500,
    c2c_share=0.3,
    workers=6,
    reconnects=0,
    twin_connections=0,
)
CRASH_FULL = LoadSize(
    users=200,
    group_size=20,
    receipts=20_000,
    c2c_share=0.25,
    workers=12,
    reconnects=0,
    twin_connections=0,
)


def crash_size() -> LoadSize:
    """The workload driven into the server that gets SIGKILLed."""
    return CRASH_FULL if FULL else CRASH_CI


FUZZ_EXAMPLES = 1_000 if FULL else 60
"""Hypothesis examples per fuzzed method."""
CONTRACT_FUZZ_EXAMPLES = 1_000 if FULL else 15
"""Schemathesis's ``max_examples`` per operation and mode (test_contract_fuzz.py); its coverage
phase adds cases of its own (1,101 requests in all at CI size, 28,681 in full)."""
