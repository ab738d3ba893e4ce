"""Every scenario of the conformance suite (the installed ``features/*.feature``) as a test.

The step definitions and fixtures are imported here, every public name of each step module, so
that pytest-bdd finds them for these scenarios and for no other test: module-level fixtures
override a user's conftest fixtures of the same name and leak into no other module. Each
scenario first passes the capability gate, which skips it when the target lacks an optional
part it needs.
"""

import pytest
from pytest_bdd import scenarios

from seenby.steps.concurrency import *  # noqa: F403
from seenby.steps.given_world import *  # noqa: F403
from seenby.steps.limits import *  # noqa: F403
from seenby.steps.messaging import *  # noqa: F403
from seenby.steps.near_miss import *  # noqa: F403
from seenby.steps.negative import *  # noqa: F403
from seenby.steps.outcomes import *  # noqa: F403
from seenby.steps.plugin import FEATURES_DIR
from seenby.steps.precedence import *  # noqa: F403
from seenby.steps.push import *  # noqa: F403
from seenby.steps.receipts import *  # noqa: F403
from seenby.steps.replay import *  # noqa: F403
from seenby.steps.security import *  # noqa: F403
from seenby.steps.session import *  # noqa: F403
from seenby.steps.time_fields import *  # noqa: F403
from seenby.steps.world import *  # noqa: F403

pytestmark = pytest.mark.usefixtures("seenby_capability_gate")

scenarios(str(FEATURES_DIR))
