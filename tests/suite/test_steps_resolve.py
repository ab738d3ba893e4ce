"""Lint of the Gherkin suite against its step definitions, without running a scenario.

pytest-bdd finds a missing step only when a scenario runs, and silently picks one of two
definitions that both match. Here every step of every scenario (each Examples row rendered) is
matched against the step definitions the seenby plugin loads: each must match exactly one, and
every definition must be used by some step.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pytest_bdd.feature import get_features
from pytest_bdd.parser import Step
from pytest_bdd.steps import StepFunctionContext, step_function_context_registry

from seenby import steps as steps_package
from seenby.steps.plugin import FEATURES_DIR, SCENARIOS_MODULE

pytestmark = pytest.mark.pytest_bdd_coupling


@dataclass(frozen=True)
class ScenarioStep:
    """One rendered step and where it is written."""

    where: str
    step: Step

    def __str__(self) -> str:
        return f"{self.where}: {self.step.keyword} {self.step.name}"


def suite_definitions() -> list[StepFunctionContext]:
    """The step definitions of the ``steps`` package's modules (the scenarios module itself,
    which applies the tags, is not imported)."""
    names = [
        f"{steps_package.__name__}.{module.name}"
        for module in pkgutil.iter_modules(steps_package.__path__)
        if module.name != SCENARIOS_MODULE.stem
    ]
    for name in names:
        importlib.import_module(name)
    return [
        context
        for context in list(step_function_context_registry.values())
        if context.step_func.__module__ in names
    ]


def scenario_steps() -> Iterator[ScenarioStep]:
    """Every step of every scenario, once per Examples row of an outline."""
    for feature in get_features([str(FEATURES_DIR)]):
        for template in feature.scenarios.values():
            rows = [row for examples in template.examples for row in examples.as_contexts()]
            for row in rows or [{}]:
                for step in template.render(row).steps:
                    yield ScenarioStep(f"{feature.rel_filename}:{step.line_number}", step)


def matching(definitions: list[StepFunctionContext], step: Step) -> list[StepFunctionContext]:
    """The definitions pytest-bdd could pick for ``step``."""
    return [
        context
        for context in definitions
        if context.type in (None, step.type) and context.parser.is_matching(step.name)
    ]


@pytest.fixture(scope="module")
def definitions() -> list[StepFunctionContext]:
    return suite_definitions()


@pytest.fixture(scope="module")
def steps() -> list[ScenarioStep]:
    return list(scenario_steps())


def test_the_suite_has_scenarios_and_step_definitions(
    definitions: list[StepFunctionContext], steps: list[ScenarioStep]
) -> None:
    assert definitions, "the seenby plugin loads no step definitions"
    assert steps, f"no scenario steps found under {FEATURES_DIR}"


def test_every_step_has_a_definition(
    definitions: list[StepFunctionContext], steps: list[ScenarioStep]
) -> None:
    missing = sorted({str(item) for item in steps if not matching(definitions, item.step)})
    assert not missing, "steps without a definition:\n" + "\n".join(missing)


def test_no_step_matches_two_definitions(
    definitions: list[StepFunctionContext], steps: list[ScenarioStep]
) -> None:
    ambiguous = sorted(
        f"{item} matches {[context.parser.name for context in found]}"
        for item in steps
        if len(found := matching(definitions, item.step)) > 1
    )
    assert not ambiguous, "steps matching more than one definition:\n" + "\n".join(ambiguous)


def test_every_definition_is_used(
    definitions: list[StepFunctionContext], steps: list[ScenarioStep]
) -> None:
    used = {id(context) for item in steps for context in matching(definitions, item.step)}
    unused = sorted(
        f"{context.step_func.__module__}.{context.step_func.__name__}: "
        f"{context.type} {context.parser.name}"
        for context in definitions
        if id(context) not in used
    )
    assert not unused, "step definitions no scenario uses:\n" + "\n".join(unused)
