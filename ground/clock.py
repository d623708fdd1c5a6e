"""The one clock of Shardline: epoch milliseconds as integers.

Anything that waits or stamps takes a ``Clock`` (a zero-argument callable returning epoch
ms) so tests can inject their own; :func:`wall_ms` is the default.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "monotonic_ms", "wall_ms"]

Clock = Callable[[], int]


def wall_ms() -> int:
    """Epoch milliseconds (UTC wall-clock time)."""
    return time.time_ns() // 1_000_000


def monotonic_ms() -> int:
    """Milliseconds of a monotonic clock: for durations and deadlines, never for stamps."""
    return time.monotonic_ns() // 1_000_000
