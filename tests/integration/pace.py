"""The pace of a test producer, with a hold for fault scenarios.

A fault test needs the input still arriving when it injects the fault and until the fault
is over, however slow the machine: a fixed rate that is right on a laptop finishes the input
too early on a loaded 2-core CI machine. From record ``hold_at`` on, a :class:`Pace` trickles
(a few records a second, so no partition goes quiet for an idle timeout) until the test
calls :meth:`Pace.release`; then the rest goes at the full rate.
"""

from __future__ import annotations

import threading
import time

__all__ = ["Pace"]


class Pace:
    def __init__(
        self, per_second: float, *, hold_at: int | None = None, trickle: float = 15.0
    ) -> None:
        if per_second <= 0 or trickle <= 0:
            raise ValueError("per_second and trickle must be positive")
        self.per_second, self.hold_at, self.trickle = per_second, hold_at, trickle
        self.released = threading.Event()
        self.held = threading.Event()  # set once the producer reached hold_at
        self._due: float | None = None
        self._counted = 0

    def release(self) -> None:
        self.released.set()

    def holding(self, sent: int) -> bool:
        """Whether the producer trickles once ``sent`` records have gone."""
        held = self.hold_at is not None and sent >= self.hold_at and not self.released.is_set()
        if held:
            self.held.set()
        return held

    def rate(self, sent: int) -> float:
        return self.trickle if self.holding(sent) else self.per_second

    def delay(self, sent: int) -> float:
        """Seconds to wait now that ``sent`` records have gone (call it as they go)."""
        now = time.monotonic()
        if self._due is None:
            self._due = now
        self._due += (sent - self._counted) / self.rate(sent)
        self._counted = sent
        if not self.holding(sent):
            return max(0.0, self._due - now)
        # trickling: no catch-up burst of records that were due at the full rate
        self._due = max(self._due, now)
        return self._due - now
