"""Every faulty cluster is caught across three nodes by a scenario naming the behaviour it breaks.

Each variant of ``tests/mutants/cluster_variants.py`` runs as three nodes on a fresh database;
every node has answered a call first (a running cluster's caches are warm). ``seenby run
--target URL1,URL2,URL3`` then runs the scenarios tagged with the variant's behaviours, and at
least one of those must fail. The correct nodes pass every one of those scenarios, spread over
three nodes the same way, in one run (``test_cluster_suite.py`` runs the whole suite so too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from mutants.cluster_variants import (
    CLUSTER_VARIANTS,
    REFERENCE_NODES,
    ClusterVariant,
    start_nodes,
)

SEENBY = str(Path(sys.executable).parent / "seenby")
RUN_TIMEOUT_S = 300


def _failed_behaviours(
    variant: ClusterVariant, database: str, tags: tuple[str, ...], report_dir: Path
) -> tuple[set[str], str]:
    """Run the scenarios of ``tags`` across three nodes of ``variant``: the spec behaviours
    of the scenarios that failed, and the command's output."""
    with start_nodes(variant, database, 3) as (urls, admin_key):
        for url in urls:
            requests.get(f"{url}/v1/capabilities", timeout=10).raise_for_status()
        arguments = [
            SEENBY,
            "run",
            "--target",
            ",".join(urls),
            "--admin-key",
            admin_key,
            "--timeout",
            "3",
            "--report-dir",
            str(report_dir),
            "-q",
        ]
        for behaviour in tags:
            arguments += ["--tag", f"spec-{behaviour}"]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SEENBY_")}
        result = subprocess.run(arguments, env=environment, capture_output=True, text=True,
                                timeout=RUN_TIMEOUT_S, check=False)  # fmt: skip
    summary = json.loads((report_dir / "conformance-summary.json").read_text())
    failed = {
        behaviour
        for scenario in summary["scenarios"]
        if scenario["verdict"] not in ("pass", "skip", "optional-skip")
        for behaviour in scenario["spec"]
    }
    return failed, result.stdout + result.stderr


@pytest.mark.parametrize("variant", CLUSTER_VARIANTS, ids=lambda v: v.name)
def test_each_cluster_variant_is_caught_by_a_scenario_of_what_it_breaks(
    variant: ClusterVariant, database: str, tmp_path: Path
) -> None:
    failed, output = _failed_behaviours(variant, database, variant.breaks, tmp_path)
    assert failed & set(variant.breaks), f"{variant.name} survived:\n{output}"


def test_the_reference_nodes_pass_every_scenario_that_catches_a_variant(
    database: str, tmp_path: Path
) -> None:
    behaviours = tuple(sorted({b for variant in CLUSTER_VARIANTS for b in variant.breaks}))
    failed, output = _failed_behaviours(REFERENCE_NODES, database, behaviours, tmp_path)
    assert not failed, f"the reference nodes failed scenarios of {sorted(failed)}:\n{output}"
