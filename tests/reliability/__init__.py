"""Reliability and security tests: replay, load without loss, crash without loss, bad clients,
fuzzed input and the authorization matrix (docs/reliability.md says what each one guarantees).

CI runs reduced sizes; `SEENBY_FULL=1 .venv/bin/pytest tests/reliability -q` runs full sizes, and
`.venv/bin/python -m tests.reliability.load --full` runs the load-and-crash workload alone and
prints its figures.
"""
