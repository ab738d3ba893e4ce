"""Redaction of the transcript: every secret goes, whatever the text around it, and nothing
else changes."""

from __future__ import annotations

import random
import secrets

from seenby.harness.wire.transcript import REDACTED, Transcript


def _naively_redacted(text: str, hidden: set[str]) -> str:
    for secret in sorted(hidden, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def test_a_token_is_redacted_wherever_it_stands() -> None:
    transcript = Transcript()
    token = secrets.token_urlsafe(32)
    transcript.add_secret(token)
    for text in (token, f'{{"token":"{token}"}}', f"Bearer {token}", f"x{token}x{token}"):
        redacted = transcript.redact(text)
        assert token not in redacted and REDACTED in redacted, redacted
    assert transcript.redact("alice-3f9a sent m-1") == "alice-3f9a sent m-1"


def test_redaction_agrees_with_replacing_each_secret_longest_first() -> None:
    rng = random.Random(12)
    hidden = {secrets.token_urlsafe(rng.choice((8, 16, 32))) for _ in range(300)}
    hidden |= {"k3y", "key-with.dot", "ab"}
    transcript = Transcript()
    for secret in hidden:
        transcript.add_secret(secret)
    pieces = [*hidden, "alice-1", "m-2", '"', "{", ":", ",", "Bearer", "é", "xx", "-", "abc"]
    for _ in range(300):
        chosen = [rng.choice(pieces) for _ in range(rng.randrange(1, 40))]
        spaced = " ".join(chosen)
        assert transcript.redact(spaced) == _naively_redacted(spaced, hidden), spaced
        # Glued together, neighbours can form or overlap secrets: still none may be shown
        # that replacing them one by one would have hidden.
        glued = "".join(chosen)
        redacted, naive = transcript.redact(glued), _naively_redacted(glued, hidden)
        assert [s for s in hidden if s in redacted] == [s for s in hidden if s in naive], glued


def test_a_secret_added_later_is_redacted_too() -> None:
    transcript = Transcript()
    transcript.add_secret("first-secret")
    assert transcript.redact("first-secret second-secret") == f"{REDACTED} second-secret"
    transcript.add_secret("second-secret")
    assert transcript.redact("first-secret second-secret") == f"{REDACTED} {REDACTED}"
