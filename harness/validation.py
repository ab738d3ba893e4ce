"""Validate payloads against the contract's JSON Schemas and explain violations [V-1].

The schemas are loaded from the package folder into a ``referencing.Registry``; nothing is ever
fetched over the network (an unknown ``$ref`` fails as ``Unresolvable``). One
``Draft202012Validator`` per schema, with format checking on, is built on first use and cached.
A schema is named by its file (``"message.json"``) or by a fragment inside one
(``"receipt.json#/$defs/groupReceipt"``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match, relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from harness.schemas import SCHEMA_BASE_URI, SCHEMA_DIR

__all__ = [
    "PayloadContext",
    "SchemaViolation",
    "registry",
    "schema_names",
    "validate",
    "validator",
]

_VALUE_PREVIEW_CHARS = 200


@dataclass(frozen=True)
class PayloadContext:
    """Where a payload came from, for error messages: ``payload`` names the method or event
    (``"sendMessage response data"``, ``"onRecvNewMessage event"``), ``target`` the URL."""

    payload: str
    target: str


class SchemaViolation(AssertionError):
    """A payload broke its schema. ``errors`` holds every ``jsonschema`` error, sorted by path."""

    def __init__(
        self, schema_name: str, context: PayloadContext, errors: Iterable[ValidationError]
    ) -> None:
        self.schema_name = schema_name
        self.context = context
        self.errors = sorted(errors, key=lambda error: (error.json_path, list(error.schema_path)))
        headline = best_match(self.errors, key=_relevance)
        self.json_path: str = headline.json_path
        self.rule: str = str(headline.validator)
        lines = [
            f"{context.payload} violates {schema_name} [target {context.target}]",
            f"  at {headline.json_path}: {headline.message}",
            f"  rule: {headline.validator} (schema path {_schema_path(headline)})",
            f"  offending value: {_preview(headline.instance)}",
        ]
        if len(self.errors) > 1:
            lines.append(f"  all {len(self.errors)} errors:")
            lines.extend(
                f"    {error.json_path} {error.validator} ({_schema_path(error)}): {error.message}"
                for error in self.errors
            )
        super().__init__("\n".join(lines))


def schema_names() -> list[str]:
    """The file names of every schema in the package folder, sorted."""
    return sorted(path.name for path in SCHEMA_DIR.glob("*.json"))


@functools.cache
def registry() -> Registry[Any]:
    """Every local schema, keyed by its ``$id`` (``SCHEMA_BASE_URI`` + file name)."""
    resources = []
    for name in schema_names():
        contents = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(contents)
        resource = Resource.from_contents(contents, default_specification=DRAFT202012)
        resources.append((SCHEMA_BASE_URI + name, resource))
    return Registry().with_resources(resources)


@functools.cache
def validator(schema_name: str) -> Draft202012Validator:
    """The cached validator for ``schema_name`` (a file name, optionally with a ``#`` fragment)."""
    uri = SCHEMA_BASE_URI + schema_name
    schema = {"$ref": uri} if "#" in schema_name else registry().contents(uri)
    return Draft202012Validator(
        schema, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def validate(schema_name: str, instance: object, *, context: PayloadContext) -> None:
    """Raise ``SchemaViolation`` unless ``instance`` is valid under ``schema_name``."""
    errors = list(validator(schema_name).iter_errors(instance))
    if errors:
        raise SchemaViolation(schema_name, context, errors)


def _relevance(error: ValidationError) -> tuple[Any, ...]:
    """``best_match`` key that also explains ``oneOf`` failures usefully.

    Top-level errors rank as jsonschema ranks them (``best_match`` takes the largest). Inside a
    ``oneOf`` / ``anyOf`` it takes the smallest, and plain ``relevance`` ties there (every branch
    failed at the same depth), leaving "not valid under any of the given schemas". So rank the
    branch the payload was most likely meant to be, the one with the fewest errors, first; and
    within it a failed ``const`` / ``enum`` (the kind of field that tells shapes apart) first.
    """
    if error.parent is None:
        return tuple(relevance(error))
    branch = error.relative_schema_path[0]
    branch_errors = sum(
        1 for sibling in error.parent.context if sibling.relative_schema_path[0] == branch
    )
    return (
        branch_errors,
        error.validator not in ("const", "enum"),
        branch,
        error.json_path,
        _schema_path(error),
    )


def _schema_path(error: ValidationError) -> str:
    return "#/" + "/".join(str(part) for part in error.absolute_schema_path)


def _preview(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    if len(text) > _VALUE_PREVIEW_CHARS:
        return text[:_VALUE_PREVIEW_CHARS] + f"... ({len(text)} chars)"
    return text
