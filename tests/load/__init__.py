"""Tests of ``seenby load``: the verdict on hand-made ledgers, and short runs end to end."""
