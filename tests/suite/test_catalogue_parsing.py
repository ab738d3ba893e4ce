"""The catalogue reads feature files as pytest-bdd collects them, through gherkin-official.

Tags are inherited from the feature, the rule and the Examples block; an outline counts one entry
per Examples row; a Gherkin syntax error names its file and line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from seenby.harness.run.catalogue import CatalogueError, load_catalogue

pytestmark = pytest.mark.pytest_bdd_coupling

OUTLINE_IN_A_RULE = """\
@area-R
Feature: Receipts

  @rule-tag
  Rule: Receipts count once

    @RR-R-001 @spec-R-5 @doc-receiver-sends
    Scenario Outline: Counting <n>
      Given the number <n>

      @optional
      Examples: first
        | n |
        | 1 |
        | 2 |

      Examples: second
        | n |
        | 3 |
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_an_outline_in_a_rule_inherits_every_level_of_tags_and_counts_its_rows(
    tmp_path: Path,
) -> None:
    features = write(tmp_path, "receipts.feature", OUTLINE_IN_A_RULE)

    [scenario] = load_catalogue(features)

    assert (scenario.id, scenario.title, scenario.line) == ("RR-R-001", "Counting <n>", 8)
    assert scenario.example_count == 3
    assert scenario.area == "R" and scenario.spec == ("R-5",)
    # @optional sits on one Examples block only: it still marks the scenario, as before.
    assert {"area-R", "rule-tag", "optional"} <= scenario.tags
    assert scenario.required is False


def test_a_gherkin_syntax_error_is_reported_with_file_and_line(tmp_path: Path) -> None:
    features = write(
        tmp_path / "nested",
        "broken.feature",
        "Feature: Broken\n\n  Scenario: One\n    Given the number 1\n\n  @RR-R-002\n"
        "    Given the number 2\n",
    )

    with pytest.raises(CatalogueError, match=r"nested/broken\.feature:7: expected: .*got 'Given"):
        load_catalogue(tmp_path)
    assert features.is_dir()


def test_an_outline_without_rows_is_reported(tmp_path: Path) -> None:
    write(
        tmp_path,
        "empty.feature",
        "Feature: Empty\n\n  @RR-R-001 @doc-protocol\n  Scenario Outline: Nothing <n>\n"
        "    Given the number <n>\n\n    Examples:\n      | n |\n",
    )

    with pytest.raises(CatalogueError, match=r"empty\.feature:4 \('Nothing <n>'\): has no Exa"):
        load_catalogue(tmp_path)
