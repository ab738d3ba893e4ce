"""Steps for near-miss credentials [X-1]: a real token changed just enough to be another string.

A token is compared whole and exactly. Each change below turns a real token into one the service
never issued, of the kinds a careless comparison lets through: a prefix compared instead of the
whole (last character changed, cut short), ``startswith`` (characters added), a case-insensitive
or normalising lookup (the opposite letter case). The requests are those of the security steps,
well-formed but for their credential.
"""

from __future__ import annotations

from collections.abc import Callable

from seenby.steps.phrases import when
from seenby.steps.security import REQUESTS, bearer
from seenby.steps.world import World


def _last_changed(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def _opposite_case(token: str) -> str:
    changed = token.swapcase()
    assert changed != token, f"a token without letters has no other case: {token!r}"
    return changed


NEAR_MISSES: dict[str, Callable[[str], str]] = {
    "with its last character changed": _last_changed,
    "cut short by one character": lambda token: token[:-1],
    "cut to its first half": lambda token: token[: len(token) // 2],
    "with extra characters after it": lambda token: token + "0A",
    "in the opposite letter case": _opposite_case,
    "as it is": lambda token: token,
}
"""How a step changes a real token, by the words of the feature."""


def near_miss(token: str, change: str) -> str:
    """``token`` changed as ``change`` says; never the token itself unless it says "as it is"."""
    changed = NEAR_MISSES[change](token)
    assert change == "as it is" or changed != token, f"{change!r} left the token unchanged"
    return changed


@when("someone tries to {request:text} with {name:name}'s token {change:text}")
def with_changed_token(world: World, request: str, name: str, change: str) -> None:
    credential = near_miss(world.user(name).token, change)
    world.record(REQUESTS[request](world, bearer(credential)))
