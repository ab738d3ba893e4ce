"""Validate payloads against the contract's JSON Schemas, at both levels, and explain violations.

Each schema file is the *core* layer [V-1]: the documented fields of a type, required where the
spec requires them, extra properties allowed (vendors add fields). Constraints that are the
reference server's own choice (closed objects, the code table, ID lengths, ...) sit beside the
core keywords under ``"x-strict"``; the *strict* layer of a file is the same file with every
``x-strict`` object merged into the schema object that holds it, published under
``SCHEMA_BASE_URI + "strict/"`` so that its relative ``$ref`` values resolve to strict schemas too.

``check`` raises ``SchemaViolation`` for a core violation (a failure) and records a ``Deviation``
for a strict-only one. The schemas are loaded from the package folder into one
``referencing.Registry``; nothing is ever fetched over the network (an unknown ``$ref`` fails as
``Unresolvable``). One ``Draft202012Validator`` per schema and level, with format checking on, is
built on first use and cached. A schema is named by its file (``"message.json"``) or by a
fragment inside one (``"receipt.json#/$defs/groupReceipt"``).

Every answer and event is validated at both levels, which in pure Python was a quarter of the
suite's time. So a compiled validator (``jsonschema-rs``, on the same schemas, offline, formats
checked) answers first: a payload it accepts is valid. One it rejects goes to ``jsonschema``,
which decides and explains (paths, rules, ``best_match``); a payload both accept is never failed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match, relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from seenby.contract.schemas import SCHEMA_BASE_URI, SCHEMA_DIR
from seenby.contract.vocabulary import Level
from seenby.harness.wire.deviations import Deviation, DeviationLog, strict_check

__all__ = [
    "SCHEMA_SECTIONS",
    "STRICT_KEYWORD",
    "PayloadContext",
    "SchemaViolation",
    "check",
    "compiled_validator",
    "registry",
    "schema_names",
    "strict_layer",
    "validate",
    "validator",
]

STRICT_KEYWORD = "x-strict"
"""The keyword holding a schema object's strict-only constraints."""

STRICT_PREFIX = "strict/"

SCHEMA_SECTIONS: dict[str, str] = {
    "envelope.json": "§1.1",
    "capabilities.json": "§2",
    "settings.json": "§3",
    "user.json": "§3",
    "group.json": "§3",
    "message.json": "§5.1",
    "message-list.json": "§4",
    "conversation-list.json": "§4",
    "receipt.json": "§5.2",
    "receipt-list.json": "§5.2",
    "read-member-list.json": "§5.3",
    "event.json": "§6",
    "common.json": "§1.3",
}
"""The docs/protocol.md section that describes each wire schema (for deviation reports)."""

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


STRICT_SCHEMA = strict_check(
    "strict-schema", "§5", "a payload holds under the strict layer of its schema"
)


def schema_names() -> list[str]:
    """The paths of every schema in the package folder (``requests/`` included), relative to
    it, sorted."""
    return sorted(path.relative_to(SCHEMA_DIR).as_posix() for path in SCHEMA_DIR.rglob("*.json"))


def strict_layer(schema: Any) -> Any:
    """``schema`` with every ``x-strict`` object merged into the object that holds it (its
    keywords added, or replacing the core keyword of the same name)."""
    if isinstance(schema, list):
        return [strict_layer(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    merged = {key: strict_layer(value) for key, value in schema.items() if key != STRICT_KEYWORD}
    if STRICT_KEYWORD in schema:
        merged.update(strict_layer(schema[STRICT_KEYWORD]))
    return merged


@functools.cache
def _layers() -> tuple[tuple[str, Any], ...]:
    """(URI, contents) of every local schema at both levels: the core one at
    ``SCHEMA_BASE_URI`` + file name, the strict one at ``SCHEMA_BASE_URI + "strict/"`` + file
    name; each checked against the 2020-12 meta-schema."""
    layers = []
    for name in schema_names():
        contents = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
        strict = {**strict_layer(contents), "$id": SCHEMA_BASE_URI + STRICT_PREFIX + name}
        for uri, layer in ((SCHEMA_BASE_URI + name, contents), (strict["$id"], strict)):
            Draft202012Validator.check_schema(layer)
            layers.append((uri, layer))
    return tuple(layers)


@functools.cache
def registry() -> Registry[Any]:
    """Every local schema at both levels (see ``_layers``), for ``jsonschema``."""
    return Registry().with_resources(
        (uri, Resource.from_contents(layer, default_specification=DRAFT202012))
        for uri, layer in _layers()
    )


def _offline(uri: str) -> Any:
    raise LookupError(f"{uri} is not a local schema; nothing is fetched over the network")


@functools.cache
def _compiled_registry() -> jsonschema_rs.Registry:
    """Every local schema at both levels (see ``_layers``), for ``jsonschema-rs``."""
    return jsonschema_rs.Registry(list(_layers()), retriever=_offline)


@functools.cache
def compiled_validator(schema_name: str, level: Level = Level.CORE) -> jsonschema_rs.Validator:
    """The cached fast validator for ``schema_name`` at ``level``: the judge of first resort
    (see the module's docstring)."""
    return jsonschema_rs.validator_for(
        {"$ref": _schema_uri(schema_name, level)},
        registry=_compiled_registry(),
        validate_formats=True,
    )


@functools.cache
def validator(schema_name: str, level: Level = Level.CORE) -> Draft202012Validator:
    """The cached validator for ``schema_name`` (a file name, optionally with a ``#`` fragment)
    at ``level``."""
    uri = _schema_uri(schema_name, level)
    schema = {"$ref": uri} if "#" in schema_name else registry().contents(uri)
    return Draft202012Validator(
        schema, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _schema_uri(schema_name: str, level: Level) -> str:
    prefix = STRICT_PREFIX if level is Level.STRICT else ""
    return SCHEMA_BASE_URI + prefix + schema_name


def _errors(schema_name: str, instance: object, level: Level) -> list[ValidationError]:
    """Why ``instance`` is invalid at ``level``: nothing if the compiled validator accepts it,
    else what ``jsonschema`` finds (see the module's docstring)."""
    if compiled_validator(schema_name, level).is_valid(instance):
        return []
    # A decoded JSON value, which the stubs spell as a union of JSON types.
    return list(validator(schema_name, level).iter_errors(instance))  # pyright: ignore[reportArgumentType]


def validate(
    schema_name: str, instance: object, *, context: PayloadContext, level: Level = Level.CORE
) -> None:
    """Raise ``SchemaViolation`` unless ``instance`` is valid under ``schema_name`` at
    ``level``."""
    errors = _errors(schema_name, instance, level)
    if errors:
        raise SchemaViolation(schema_name, context, errors)


def check(
    schema_name: str, instance: object, *, context: PayloadContext, deviations: DeviationLog
) -> None:
    """Validate at both levels: raise ``SchemaViolation`` for a core violation; record one
    ``Deviation`` in ``deviations`` when only the strict layer is broken."""
    validate(schema_name, instance, context=context)
    errors = _errors(schema_name, instance, Level.STRICT)
    if not errors:
        return
    headline = best_match(errors, key=_relevance)
    file_name = schema_name.partition("#")[0]
    rule = (
        f"{headline.validator}: {_preview(headline.schema.get(headline.validator))}"
        if isinstance(headline.schema, dict)
        else str(headline.validator)
    )
    deviations.record(
        Deviation(
            check=f"payload under the strict layer of {schema_name}",
            section=SCHEMA_SECTIONS.get(file_name, "§5"),
            reference=f"{file_name}: {rule}",
            observed=f"at {headline.json_path}: {headline.message}",
            where=context.payload,
            check_id=STRICT_SCHEMA.id,
        )
    )


def _relevance(error: ValidationError) -> tuple[Any, ...]:
    """``best_match`` key that also explains ``oneOf`` failures usefully.

    Top-level errors rank as jsonschema ranks them (``best_match`` takes the largest). Inside a
    ``oneOf`` / ``anyOf`` it takes the smallest, and plain ``relevance`` ties there (every branch
    failed at the same depth), leaving "not valid under any of the given schemas". So rank the
    branch the payload was most likely meant to be, the one with the fewest errors, first; and
    within it a failed ``const`` / ``enum`` (the kind of field that tells shapes apart) first.
    """
    if error.parent is None:
        # An opaque key, only ever compared with other top-level errors' keys.
        return (relevance(error),)
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
