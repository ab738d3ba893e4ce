"""The default driver, ``seenby``: seenby's own HTTP + WebSocket protocol v1.

It has every capability; the optional features of a seenby-wire target (``adminSettings``,
``eventReplay``) are then what the target advertises in ``GET /v1/capabilities``. Without a URL
it starts the bundled reference server.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING

from seenby.harness.drivers import DEFAULT_DRIVER, Driver
from seenby.harness.drivers.capabilities import CAPABILITIES

if TYPE_CHECKING:
    from seenby.harness.api.target import Target

__all__ = ["DRIVER", "SeenbyDriver"]


class SeenbyDriver(Driver):
    """seenby protocol v1 over HTTP and WebSocket (``WireTarget``)."""

    @property
    def name(self) -> str:
        return DEFAULT_DRIVER

    @property
    def version(self) -> str:
        return version("seenby")

    @property
    def description(self) -> str:
        return "seenby protocol v1 (HTTP + WebSocket); without a URL, the bundled server"

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(CAPABILITIES)

    def open(self, url: str | None, admin_key: str | None, *, timeout: float) -> Target:
        from seenby.harness.api.target import open_wire_target  # target.py imports the registry

        return open_wire_target(url, admin_key, timeout=timeout)


DRIVER = SeenbyDriver()
"""The instance the ``seenby.drivers`` entry point names."""
