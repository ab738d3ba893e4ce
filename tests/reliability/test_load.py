"""Load without loss: every count equals the ground truth, every push arrives exactly once.

What is driven and checked is described in `load.py`; sizes in `sizes.py`.
"""

from __future__ import annotations

from typing import Any

from .load import run_load
from .sizes import load_size


def test_no_receipt_or_event_is_lost_or_repeated_under_load_with_reconnects(server: Any) -> None:
    # P-1, P-3, Q-1, L-3, §6.1: exactly once, in order, live or replayed.
    size = load_size()
    result = run_load(server.url, server.admin_key, size, seed=7)
    print(result.summary())
    assert not result.problems, "\n".join(result.problems[:40])
    assert result.users >= 200
    assert result.receipts >= size.receipts
    assert result.reconnects == size.reconnects
