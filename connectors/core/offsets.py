"""Contiguous offset tracking: commit only what was delivered with nothing undelivered before it."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

__all__ = ["OffsetTracker"]


class OffsetTracker:
    """Offsets consumed from one partition, and which of them the destination confirmed.

    Offsets are contiguous *as consumed*, not numerically: a gap (compaction, transaction
    markers) between two consumed offsets does not block the commit. Acks may come in any
    order; :meth:`committable` only moves over the acknowledged prefix and returns the Kafka
    commit offset (last delivered + 1).
    """

    __slots__ = ("_acked", "_committable", "_pending")

    def __init__(self) -> None:
        self._pending: deque[int] = deque()
        self._acked: set[int] = set()
        self._committable: int | None = None

    def track(self, offset: int) -> None:
        if self._pending and offset <= self._pending[-1]:
            raise ValueError(f"offset {offset} tracked after {self._pending[-1]}")
        self._pending.append(offset)

    def ack(self, offsets: Iterable[int]) -> None:
        for offset in offsets:
            self._acked.add(offset)
        while self._pending and self._pending[0] in self._acked:
            done = self._pending.popleft()
            self._acked.discard(done)
            self._committable = done + 1

    def committable(self) -> int | None:
        """The offset to commit (last contiguously delivered + 1), or None if nothing yet."""
        return self._committable

    @property
    def outstanding(self) -> int:
        """Consumed offsets not yet part of the committable prefix."""
        return len(self._pending)
