"""Drivers: how the suite reaches a target, one per kind of API.

The Gherkin behaviours are one set; a *driver* is how a step reaches a target. It opens a
``Target`` (administration, users, groups), whose ``UserClient``s make the SDK calls and whose
``PushStream``s deliver each user's push events, and it declares its *capabilities*
(``seenby.harness.drivers.capabilities``): a scenario that needs one the driver lacks is not
applicable. The default driver, ``seenby``, speaks seenby's own HTTP + WebSocket protocol v1;
``matrix`` speaks the Matrix client-server API. Third-party drivers are found by the entry point
group ``seenby.drivers`` (``name = "package.module:DRIVER"``, a ``Driver`` instance), so a vendor
ships one as a package without forking seenby; docs/porting.md says how.

The honesty rule: a driver translates calls and payloads, and derives only what any client of
that API would derive from data the target returned. It never filters, refuses or corrects on the
target's behalf.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from seenby.harness.drivers.capabilities import CAPABILITIES

if TYPE_CHECKING:
    from seenby.harness.api.target import Target

__all__ = [
    "DEFAULT_DRIVER",
    "ENTRY_POINT_GROUP",
    "Driver",
    "DriverError",
    "get_driver",
    "installed_drivers",
]

ENTRY_POINT_GROUP = "seenby.drivers"
"""The entry point group drivers are registered under."""
DEFAULT_DRIVER = "seenby"
"""The driver used when none is named: seenby's own wire protocol."""


class DriverError(LookupError):
    """No installed driver has that name, or an entry point does not give a ``Driver``."""


class Driver(ABC):
    """One kind of target API: its name, version, capabilities, and how to open a target."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The name ``--driver`` takes (``seenby``, ``matrix``)."""

    @property
    @abstractmethod
    def version(self) -> str:
        """The driver's own version (reports print it beside the target's)."""

    @property
    @abstractmethod
    def description(self) -> str:
        """One line: the API this driver speaks."""

    @property
    @abstractmethod
    def capabilities(self) -> frozenset[str]:
        """The capabilities (``CAPABILITIES`` names) this driver can express."""

    @abstractmethod
    def open(self, url: str | None, admin_key: str | None, *, timeout: float) -> Target:
        """The target at ``url`` administered with ``admin_key`` (``url`` None: a throw-away
        target the driver starts itself, where it can)."""

    @property
    def varying_verdicts(self) -> Mapping[str, str]:
        """Scenario ID → why its verdict through this driver changes from run to run on the
        same target (the target's own timing decides it); a target's page says so beside the
        verdict, and a comparison of two runs leaves them out. None by default."""
        return {}

    def __repr__(self) -> str:
        return f"<driver {self.name} {self.version}>"


def installed_drivers() -> dict[str, Driver]:
    """Every driver registered under ``seenby.drivers``, by name, sorted."""
    drivers: dict[str, Driver] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        driver = point.load()
        if not isinstance(driver, Driver):
            raise DriverError(
                f"entry point {point.name} = {point.value} gives {driver!r}, not a Driver"
            )
        unknown = sorted(driver.capabilities - set(CAPABILITIES))
        if unknown:
            raise DriverError(f"driver {point.name} declares unknown capabilities {unknown}")
        drivers[point.name] = driver
    return dict(sorted(drivers.items()))


def get_driver(name: str) -> Driver:
    """The installed driver called ``name``."""
    drivers: Mapping[str, Driver] = installed_drivers()
    try:
        return drivers[name]
    except KeyError:
        raise DriverError(
            f"no driver {name!r} is installed (installed: {', '.join(drivers) or 'none'}; "
            f"a driver registers under the entry point group {ENTRY_POINT_GROUP})"
        ) from None
