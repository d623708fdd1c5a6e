"""Fake clocks for unit tests: time moves only when a test (or the code's own waiting) moves it.

* :class:`ManualClock` — integer milliseconds, the shape of ``ground.clock.monotonic_ms`` and
  ``wall_ms``: a test sets ``now`` itself.
* :class:`TickingClock` — integer milliseconds that move by 1 each time the clock is read.
* :class:`SleepingClock` — float seconds, the shape of ``time.monotonic`` with a ``sleep``
  that records each pause and moves the clock by it, for code that waits with an injected
  ``sleep`` and reads an injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ManualClock", "SleepingClock", "TickingClock"]


@dataclass
class ManualClock:
    """Milliseconds: reads ``now``, which only the test moves."""

    now: int = 0

    def __call__(self) -> int:
        return self.now


@dataclass
class TickingClock:
    """Milliseconds: each reading is 1 ms after the one before (the first is ``now + 1``)."""

    now: int = 0

    def __call__(self) -> int:
        self.now += 1
        return self.now


class SleepingClock:
    """Seconds: reads ``now``; ``sleep(s)`` records ``s`` in ``pauses`` and moves ``now`` by it."""

    def __init__(self, start_s: float = 1_000.0) -> None:
        self.now = start_s
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds
