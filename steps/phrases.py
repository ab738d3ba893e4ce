"""The suite's step vocabulary: placeholders that step texts share, and the step decorators.

A step text is written as it reads in the feature files, with typed placeholders:
``"{reader:name} sends a read receipt for {messages:refs}"``; a placeholder without a field name
(``{:members}``) accepts a wording variant and passes nothing. Each kind has one regular
expression and one converter, so "Alice, Bob and Carol" or ``"one", "two" and "three"`` mean the
same thing in every step. Steps are matched whole (pytest-bdd's ``parsers.re`` uses fullmatch).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import pytest_bdd
from pytest_bdd import parsers

__all__ = ["GROUP_TYPES", "given", "split_list", "step_parser", "then", "when"]

GROUP_TYPES = ("Work", "Public", "Meeting", "Community", "AVChatRoom")

_LIST_SEPARATOR = r"(?:, | and | or )"
_NAME = r"[A-Z][a-z]+"
_LABEL = r'"[^"]+"'
_REF = rf"(?:the message|{_LABEL})"
_GROUP_TYPE = "|".join(GROUP_TYPES)

_P = ParamSpec("_P")
_T = TypeVar("_T")
_StepDecorator = Callable[[Callable[_P, _T]], Callable[_P, _T]]


def split_list(text: str) -> list[str]:
    """``"Alice, Bob and Carol"`` → ``["Alice", "Bob", "Carol"]`` (also ``or``-separated)."""
    return re.split(_LIST_SEPARATOR, text)


def _label(text: str) -> str:
    return text[1:-1]


def _labels(text: str) -> list[str]:
    return [_label(item) for item in split_list(text)]


# kind → (regular expression, converter of the matched text)
_KINDS: dict[str, tuple[str, Callable[[str], object]]] = {
    "name": (_NAME, str),
    "names": (rf"{_NAME}(?:{_LIST_SEPARATOR}{_NAME})*", split_list),
    "int": (r"-?\d+", int),
    "label": (_LABEL, _label),
    "labels": (rf"{_LABEL}(?:{_LIST_SEPARATOR}{_LABEL})*", _labels),
    "ref": (_REF, str),
    "refs": (rf"{_REF}(?:{_LIST_SEPARATOR}{_REF})*", split_list),
    "group_type": (_GROUP_TYPE, str),
    "group_types": (rf"(?:{_GROUP_TYPE})(?:{_LIST_SEPARATOR}(?:{_GROUP_TYPE}))*", split_list),
    "conversation": (rf"one-to-one chat|group chat|(?:{_GROUP_TYPE}) group", str),
    "list": (r"have read|have not read", str),
    "elem_kind": (r"text|custom", str),
    "ints": (r"-?\d+(?:(?:, | and )-?\d+)*", lambda text: [int(n) for n in split_list(text)]),
    "members": (r"members? (?:has|have)", str),
    "has": (r"has|have", str),
    "text": (r".+?", str),
}

_PLACEHOLDER = re.compile(r"\{(\w*):(\w+)\}")


def step_parser(text: str) -> tuple[parsers.re, dict[str, Callable[[str], object]]]:
    """The fullmatch parser and the converters for a step text with ``{field:kind}``s."""
    pattern: list[str] = []
    converters: dict[str, Callable[[str], object]] = {}
    position = 0
    for placeholder in _PLACEHOLDER.finditer(text):
        field, kind = placeholder.groups()
        expression, converter = _KINDS[kind]
        pattern.append(re.escape(text[position : placeholder.start()]))
        if field:
            pattern.append(f"(?P<{field}>{expression})")
            converters[field] = converter
        else:  # a wording variant the step ignores ("member has" / "members have")
            pattern.append(f"(?:{expression})")
        position = placeholder.end()
    pattern.append(re.escape(text[position:]))
    return parsers.re("".join(pattern)), converters


def given(text: str) -> _StepDecorator[..., object]:
    """``@given`` with the suite's placeholders."""
    parser, converters = step_parser(text)
    return pytest_bdd.given(parser, converters=converters)


def when(text: str) -> _StepDecorator[..., object]:
    """``@when`` with the suite's placeholders."""
    parser, converters = step_parser(text)
    return pytest_bdd.when(parser, converters=converters)


def then(text: str) -> _StepDecorator[..., object]:
    """``@then`` with the suite's placeholders."""
    parser, converters = step_parser(text)
    return pytest_bdd.then(parser, converters=converters)
