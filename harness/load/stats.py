"""The one percentile rule of seenby's figures: ``seenby load``'s reports and ``bench`` alike.

A percentile is the linear interpolation between the closest ranks (the "type 7" definition of
Hyndman and Fan, NumPy's and ``statistics.quantiles(..., method="inclusive")``'s default): with
the samples sorted, the ``q`` quantile sits at position ``q * (n - 1)``. It is written here once,
because the installed package cannot import ``bench``; ``bench.stats`` imports it from here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["percentile"]


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (0..1) of ``samples``, linearly interpolated between ranks."""
    if not samples:
        raise ValueError("a percentile needs at least one sample")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within 0..1, got {fraction}")
    ordered = sorted(samples)
    position = fraction * (len(ordered) - 1)
    below = math.floor(position)
    above = math.ceil(position)
    weight = position - below
    return ordered[below] * (1.0 - weight) + ordered[above] * weight
