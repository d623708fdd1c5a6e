"""Window math in event time. Pure functions and value classes, no I/O.

Times are integer milliseconds since the epoch. A tumbling window of ``size_ms`` covers
``[start_ms, start_ms + size_ms)``; windows are aligned to the epoch, like KDA's
``STEP(ROWTIME BY INTERVAL 'n' SECOND)`` and ``FLOOR(ROWTIME TO MINUTE)``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Window", "tumbling_window"]


@dataclass(frozen=True, slots=True, order=True)
class Window:
    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise ValueError(f"empty window [{self.start_ms}, {self.end_ms})")

    def contains(self, ts_ms: int) -> bool:
        return self.start_ms <= ts_ms < self.end_ms


def tumbling_window(ts_ms: int, size_ms: int) -> Window:
    """The tumbling window of ``size_ms`` that contains ``ts_ms`` (floor division, so
    timestamps before the epoch land in the right window too)."""
    if size_ms <= 0:
        raise ValueError(f"window size must be positive, got {size_ms}")
    start = (ts_ms // size_ms) * size_ms
    return Window(start, start + size_ms)
