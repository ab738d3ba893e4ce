"""The catalogue (gherkin-official) and pytest-bdd's collection agree on the suite's items.

``seenby run`` and its reports count scenarios and Examples rows from the catalogue, which reads
the feature files with gherkin-official; pytest-bdd turns the same files into test items with its
own code. If the two ever disagree (another pytest-bdd or gherkin-official release), a report
would claim rows that never ran, or miss some: this test runs pytest's collection of the real
suite in a subprocess and compares. It is part of the dependency-range check
(``scripts/check-dependency-range``).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from seenby.harness.run.catalogue import default_features_dir, load_catalogue

pytestmark = pytest.mark.pytest_bdd_coupling


def test_pytest_collects_one_item_per_catalogued_scenario_and_examples_row(
    tmp_path: Path,
) -> None:
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--pyargs", "seenby.steps",
         "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stdout[-2000:] + collected.stderr[-2000:]
    items = [line for line in collected.stdout.splitlines() if "::" in line]
    per_test = Counter(line.split("::", 1)[1].split("[", 1)[0] for line in items)

    catalogue = load_catalogue(default_features_dir())

    assert len(items) == sum(scenario.example_count for scenario in catalogue)
    assert sorted(per_test.values()) == sorted(s.example_count for s in catalogue)
