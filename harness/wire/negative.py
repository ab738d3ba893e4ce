"""Broken request bodies, generated from the contract's request schemas [E-3].

For one method and one valid body, ``broken_requests`` changes one thing at a time — every field
missing, ``null``, of each wrong JSON type, just outside its range, every array item likewise,
and the body itself not an object — and keeps only the bodies that the method's request schema
(``requests/<method>.json``, core layer) rejects, so no body here is valid by accident. The
schema is walked through its ``$ref``s with the same registry the validator uses; a ``oneOf``
is followed into the branch the valid value takes (a text element, a custom one).

Each broken body has a level. A refusal is required (core) where the spec requires the rule the
body breaks; where only docs/protocol.md chose the limit (``Level.STRICT`` in
``contract/vocabulary.py``: the history page size, integers beyond 2^53) it is the reference's
choice, and a target that accepts the body deviates.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from jsonschema import Draft202012Validator

from seenby.contract.schemas import SCHEMA_BASE_URI
from seenby.contract.vocabulary import (
    GROUP_RECEIPT_MAX_MEMBERS_CEILING,
    HISTORY_COUNT_MAX,
    MEMBER_LIST_COUNT_MAX,
    RECEIPT_BATCH_MAX_CEILING,
    SAFE_INTEGER_MAX,
    Level,
    Limit,
)
from seenby.harness.wire.validation import registry, validator

__all__ = ["BODY", "BrokenRequest", "broken_requests"]

BODY = "(the body)"
"""The field name of a change to the body as a whole."""

_RANGE_LIMITS: dict[tuple[str, str], Limit] = {
    ("getHistoryMessageList", "count"): HISTORY_COUNT_MAX,
    ("getGroupMessageReadMemberList", "count"): MEMBER_LIST_COUNT_MAX,
    ("getGroupMessageReadMemberList", "nextSeq"): SAFE_INTEGER_MAX,
    ("admin/setSettings", "receiptBatchMax"): RECEIPT_BATCH_MAX_CEILING,
    ("admin/setSettings", "groupReceiptMaxMembers"): GROUP_RECEIPT_MAX_MEMBERS_CEILING,
}
"""The contract limit behind a field's range, which says whether refusing a value just outside
it is core or strict (a field not listed takes its level from the schema: core)."""

_NOT_OBJECTS: tuple[tuple[str, Any], ...] = (
    ("null", None),
    ("an array", []),
    ("a string", "{}"),
    ("a number", 0),
)

# For each JSON type, values of other types that a sloppy reader might take for it.
_WRONG_TYPES: dict[str, tuple[tuple[str, Any], ...]] = {
    "string": (("a number", 12345), ("an array", ["x"])),
    "integer": (("a numeric string", "1"), ("a fraction", 1.5), ("a boolean", True)),
    "boolean": (("a string", "true"), ("a number", 1)),
    "array": (("a string", "x"), ("an object", {})),
    "object": (("a string", "x"), ("an array", [])),
}


@dataclass(frozen=True)
class BrokenRequest:
    """One body that breaks one rule of the method's request schema."""

    method: str
    field: str
    """Where the change is (``count``, ``elem.text``, ``msgIDs[0]``, or ``BODY``)."""
    fault: str
    """What is wrong there, in words (``"null"``, ``"a numeric string"``, ``"missing"``)."""
    body: Any
    level: Level
    """``CORE`` when every server must refuse it, ``STRICT`` when only the reference must."""
    malformed: bool = False
    """The body is not a JSON object or holds an integer beyond ±2^53: refused as malformed
    JSON (docs/protocol.md §1.2, 90006) before its fields are read."""

    def __str__(self) -> str:
        where = self.field if self.field == BODY else f"field {self.field}"
        return f"{self.method} with {where} {self.fault}: {json.dumps(self.body)[:300]}"


def _resolved(schema: Any, base: str, value: Any) -> tuple[Any, str]:
    """``schema`` (in the file at ``base``) with its ``$ref`` followed and, for a ``oneOf``,
    the branch that accepts ``value``; with the URI of the file it now comes from."""
    while isinstance(schema, dict) and "$ref" in schema:
        uri = urljoin(base, schema["$ref"])
        schema, base = registry().resolver().lookup(uri).contents, uri.partition("#")[0]
    if isinstance(schema, dict) and "oneOf" in schema and "type" not in schema:
        for branch in schema["oneOf"]:
            if isinstance(branch, dict) and "$ref" in branch:
                judge = Draft202012Validator(
                    {"$ref": urljoin(base, branch["$ref"])}, registry=registry()
                )
                if judge.is_valid(value):
                    return _resolved(branch, base, value)
    return schema, base


def _values(schema: Any) -> Iterator[tuple[str, Any, bool]]:
    """(fault, replacement, is a range fault) for one value of ``schema``."""
    if not isinstance(schema, dict):
        return
    yield "null", None, False
    kind = schema.get("type")
    if "enum" in schema:
        choices = schema["enum"]
        numbers = [choice for choice in choices if isinstance(choice, int)]
        if numbers:
            yield "outside its choices", max(numbers) + 1, True
        yield "a string for a choice", str(choices[0]), False
    if isinstance(kind, str):
        for fault, wrong in _WRONG_TYPES.get(kind, ()):
            yield fault, wrong, False
    if "minimum" in schema:
        yield "below its minimum", schema["minimum"] - 1, True
    if "maximum" in schema:
        yield "above its maximum", schema["maximum"] + 1, True
    if "minLength" in schema and schema["minLength"] > 0:
        yield "shorter than its minimum", "", True
    if "minItems" in schema and schema["minItems"] > 0:
        yield "with fewer items than its minimum", [], True


def _level(method: str, field: str, is_range: bool) -> Level:
    limit = _RANGE_LIMITS.get((method, field))
    return limit.level if is_range and limit is not None else Level.CORE


def _changes(
    method: str, schema: Any, base: str, value: Any, path: list[str | int]
) -> Iterator[tuple[list[str | int], str, Any, Level]]:
    """Every (path, fault, replacement, level) for ``value`` and what it holds."""
    schema, base = _resolved(schema, base, value)
    if not isinstance(schema, dict):
        return
    name = _field_name(path)
    if path:
        for fault, wrong, is_range in _values(schema):
            yield path, fault, wrong, _level(method, name, is_range)
    if isinstance(value, dict):
        for key, inner in value.items():
            inner_schema = schema.get("properties", {}).get(key)
            if inner_schema is not None:
                yield [*path, key], "missing", _MISSING, Level.CORE
                yield from _changes(method, inner_schema, base, inner, [*path, key])
    elif isinstance(value, list) and value and isinstance(schema.get("items"), dict):
        yield from _changes(method, schema["items"], base, value[0], [*path, 0])


_MISSING = object()
"""The replacement that removes a field."""


def _field_name(path: list[str | int]) -> str:
    name = ""
    for step in path:
        name += f"[{step}]" if isinstance(step, int) else (f".{step}" if name else step)
    return name


def _with(body: Any, path: list[str | int], replacement: Any) -> Any:
    changed = copy.deepcopy(body)
    holder = changed
    for step in path[:-1]:
        holder = holder[step]
    if replacement is _MISSING:
        del holder[path[-1]]
    else:
        holder[path[-1]] = replacement
    return changed


def broken_requests(method: str, valid: Mapping[str, Any]) -> list[BrokenRequest]:
    """Every body one change away from ``valid`` that ``method``'s request schema rejects, the
    body not being an object first; ``valid`` itself must be accepted by the schema."""
    schema_name = f"requests/{method}.json"
    judge = validator(schema_name)
    body = dict(valid)
    assert judge.is_valid(body), f"the valid body of {method} is not valid: {body}"
    broken = [
        BrokenRequest(method, BODY, f"is {fault}", wrong, Level.CORE, malformed=True)
        for fault, wrong in _NOT_OBJECTS
    ]
    uri = f"{SCHEMA_BASE_URI}{schema_name}"
    schema = registry().contents(uri)
    seen: set[str] = set()
    for path, fault, replacement, level in _changes(method, schema, uri, body, []):
        candidate = _with(body, path, replacement)
        text = json.dumps(candidate, sort_keys=True)
        if text in seen or judge.is_valid(candidate):
            continue
        seen.add(text)
        beyond_safe = isinstance(replacement, int) and abs(replacement) > SAFE_INTEGER_MAX.value
        broken.append(
            BrokenRequest(method, _field_name(path), fault, candidate, level, beyond_safe)
        )
    return broken
