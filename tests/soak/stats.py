"""Numbers of the soak report: percentiles and memory trends."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Trend", "percentile", "trend"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` (0..100) percentile by the nearest-rank method."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Trend:
    """One process's RSS after its warm-up: least-squares slope and the spread."""

    samples: int
    span_s: float
    first_mb: float
    last_mb: float
    min_mb: float
    max_mb: float
    slope_mb_per_h: float

    @property
    def growth_mb(self) -> float:
        """What the slope adds over the span."""
        return self.slope_mb_per_h * self.span_s / 3600


def trend(points: Sequence[tuple[float, float]], warmup_s: float) -> Trend | None:
    """The trend of ``(t_s, mb)`` samples from ``warmup_s`` after the first one; None with
    fewer than 5 samples left."""
    if not points:
        return None
    start = points[0][0] + warmup_s
    kept = [(t, mb) for t, mb in points if t >= start]
    if len(kept) < 5:
        return None
    n = len(kept)
    mean_t = sum(t for t, _ in kept) / n
    mean_m = sum(m for _, m in kept) / n
    var = sum((t - mean_t) ** 2 for t, _ in kept)
    slope_per_s = 0.0 if var == 0 else sum((t - mean_t) * (m - mean_m) for t, m in kept) / var
    mbs = [m for _, m in kept]
    return Trend(n, kept[-1][0] - kept[0][0], mbs[0], mbs[-1], min(mbs), max(mbs),
                 slope_per_s * 3600)
