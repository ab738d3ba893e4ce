"""Every scenario of the conformance suite (the installed ``features/*.feature``) as a test.

The steps and the target come from the seenby plugin (``steps.plugin``); each scenario first
passes the capability gate, which skips it when the target lacks an optional part it needs.
"""

import pytest
from pytest_bdd import scenarios

from steps.plugin import FEATURES_DIR

pytestmark = pytest.mark.usefixtures("seenby_capability_gate")

scenarios(str(FEATURES_DIR))
