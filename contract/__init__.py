"""The seenby wire contract's shared vocabulary, imported by the reference server and the harness.

It holds what both sides must agree on word for word (codes, statuses, event names, limits) and
nothing else: behaviour lives in ``reference_server``, checking in ``harness``.
"""
