"""The ``matrix`` driver: the suite against a Matrix homeserver's client-server API (v3).

``--driver matrix --target URL --admin-key SECRET`` reaches a homeserver whose registration
shared secret is SECRET; without a URL the driver starts a throw-away Synapse
(``seenby.harness.drivers.matrix.synapse``) and stops it when the target closes. What Matrix has
no counterpart for (seenby's raw wire, application settings, event replay, V2TIM group types) is
a missing capability; everything else runs and passes or fails on what the homeserver does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from seenby.harness.drivers import Driver

if TYPE_CHECKING:
    from seenby.harness.api.target import Target

__all__ = ["DRIVER", "MatrixDriver"]

_SYNC_BATCHING = (
    "passes or fails from run to run: one /sync response may carry several members' m.read "
    "receipts at once, and then the sender is told once, with the later count, instead of "
    "once per reader"
)


class _OwnedSynapse:
    """A throw-away Synapse and its data folder, removed together."""

    def __init__(self) -> None:
        from seenby.harness.drivers.matrix.synapse import ThrowawaySynapse

        self._folder = tempfile.TemporaryDirectory(prefix="seenby-synapse-")
        self.server = ThrowawaySynapse(Path(self._folder.name))

    def stop(self) -> None:
        self.server.stop()
        self._folder.cleanup()


class MatrixDriver(Driver):
    """The Matrix client-server API v3 (proven on Synapse)."""

    @property
    def name(self) -> str:
        return "matrix"

    @property
    def version(self) -> str:
        return version("seenby")

    @property
    def description(self) -> str:
        return "Matrix client-server API v3; without a URL, a throw-away Synapse"

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset()

    @property
    def varying_verdicts(self) -> Mapping[str, str]:
        return {"RR-P-007": _SYNC_BATCHING, "RR-Y-001": _SYNC_BATCHING}

    def open(self, url: str | None, admin_key: str | None, *, timeout: float) -> Target:
        from seenby.harness.drivers.matrix.target import MatrixTarget

        if url is not None:
            return MatrixTarget(url, admin_key, timeout=timeout)
        owned = _OwnedSynapse()
        target = MatrixTarget(owned.server.url, owned.server.admin_key, timeout=timeout)
        target.stop_with_target(owned)
        return target


DRIVER = MatrixDriver()
"""The instance the ``seenby.drivers`` entry point names."""
