"""Tumbling windows of one source partition, in event time. Pure state, no I/O.

The event-time clock of a partition is its watermark: the largest event time seen minus
the grace period. A window closes once the watermark reaches its end; a record whose
window is already closed is *late* (it goes to the error stream, never silently dropped).
Lateness is decided record by record in offset order, so the contents of a window do not
depend on how the consumer happened to batch the records.

An accepted record may carry an opaque ``token`` (e.g. a message to acknowledge), handed
back with the closed window, so a caller that commits offsets itself can acknowledge a record
only after its window's result was written. (The runtime's processor,
:mod:`pipelines.ticker_processor`, passes none: its offsets are committed with the open
windows' state in one transaction.)

:class:`Progress` is what survives a restart: every window ending at or before
``closed_through_ms`` was emitted, and every record below ``next_offset`` was seen when it
was. On replay, a record below ``next_offset`` whose window is closed is ``REPLAYED`` —
already counted, skipped without a second result — instead of late.

A consumer may deliver an offset twice, and not always in order: Faust seeks to the
committed offsets after its first fetch has started, and a batch fetched before a rebalance
can be followed by the replay from an earlier committed offset. An offset this instance has
already admitted (kept exactly, as intervals) is a ``DUPLICATE``:
not counted again, but if its window is still open its token is held with the window, so
acknowledging the second copy can never let the committed offset pass the open window.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pipelines.offsets import OffsetSet
from pipelines.windows import Window, tumbling_window

__all__ = ["Admission", "ClosedWindow", "PartitionWindows", "Progress"]

S = TypeVar("S")
NO_TIME = -(2**63)


class Admission(enum.Enum):
    ACCEPTED = "accepted"
    LATE = "late"
    REPLAYED = "replayed"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class Progress:
    closed_through_ms: int
    next_offset: int

    def to_json(self) -> dict[str, int]:
        return {"closed_through_ms": self.closed_through_ms, "next_offset": self.next_offset}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> Progress:
        return cls(int(data["closed_through_ms"]), int(data["next_offset"]))


@dataclass(slots=True)
class _Open(Generic[S]):
    state: S
    tokens: list[object] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ClosedWindow(Generic[S]):
    key: Hashable
    window: Window
    state: S
    tokens: list[object]


class PartitionWindows(Generic[S]):
    """Open tumbling windows of one partition, keyed by (key, window)."""

    def __init__(
        self,
        size_ms: int,
        grace_ms: int,
        new_state: Callable[[], S],
        progress: Progress | None = None,
    ) -> None:
        if size_ms <= 0:
            raise ValueError(f"size_ms must be positive, got {size_ms}")
        if grace_ms < 0:
            raise ValueError(f"grace_ms must not be negative, got {grace_ms}")
        self.size_ms = size_ms
        self.grace_ms = grace_ms
        self._new_state = new_state
        self._open: dict[tuple[Hashable, Window], _Open[S]] = {}
        self._max_event_ms = NO_TIME
        self._restored = progress
        self.closed_through_ms = progress.closed_through_ms if progress else NO_TIME
        self.next_offset = progress.next_offset if progress else 0
        self._admitted = OffsetSet()  # offsets this instance has admitted

    @property
    def watermark_ms(self) -> int:
        if self._max_event_ms == NO_TIME:
            return self.closed_through_ms
        return max(self.closed_through_ms, self._max_event_ms - self.grace_ms)

    @property
    def open_count(self) -> int:
        return len(self._open)

    @property
    def max_event_ms(self) -> int:
        """The largest event time admitted (``NO_TIME`` before the first)."""
        return self._max_event_ms

    def window_of(self, ts_ms: int) -> Window:
        return tumbling_window(ts_ms, self.size_ms)

    def state_of(self, key: Hashable, window: Window) -> S | None:
        """The state of an open window, ``None`` if it is not open."""
        slot = self._open.get((key, window))
        return None if slot is None else slot.state

    def restore_clock(self, max_event_ms: int) -> None:
        """Set the largest event time seen, as saved with the open windows."""
        self._max_event_ms = max_event_ms

    def restore_open(self, key: Hashable, window: Window, state: S) -> None:
        """Reopen a window saved before a restart, with the state it had."""
        if window.end_ms - window.start_ms != self.size_ms:
            raise ValueError(f"window {window} is not {self.size_ms} ms long")
        self._open[(key, window)] = _Open(state)

    def add(
        self, key: Hashable, ts_ms: int, offset: int, token: object
    ) -> tuple[Admission, S | None]:
        """Admit one record. Returns the admission and, when accepted, the window state to
        update (for a duplicate whose window is open, the state it already counts in: hold
        its token, don't update). The record's event time advances the watermark after its
        own admission."""
        window = tumbling_window(ts_ms, self.size_ms)
        if not self._admitted.add(offset):
            dup = self._open.get((key, window))
            if dup is None:
                return Admission.DUPLICATE, None
            if token is not None:
                dup.tokens.append(token)
            return Admission.DUPLICATE, dup.state
        self.next_offset = max(self.next_offset, offset + 1)
        if window.end_ms <= self.watermark_ms:
            restored = self._restored
            if (
                restored is not None
                and offset < restored.next_offset
                and window.end_ms <= restored.closed_through_ms
            ):
                return Admission.REPLAYED, None
            return Admission.LATE, None
        slot = self._open.get((key, window))
        if slot is None:
            slot = self._open[(key, window)] = _Open(self._new_state())
        if token is not None:
            slot.tokens.append(token)
        if ts_ms > self._max_event_ms:
            self._max_event_ms = ts_ms
        return Admission.ACCEPTED, slot.state

    def close_due(self) -> list[ClosedWindow[S]]:
        """Close the windows the watermark has passed, ordered by end time then key."""
        return self._close(self.watermark_ms)

    def close_all(self) -> list[ClosedWindow[S]]:
        """Close every open window (the partition went idle) and move the watermark past them."""
        if not self._open:
            return []
        return self._close(max(w.end_ms for _, w in self._open))

    def _close(self, through_ms: int) -> list[ClosedWindow[S]]:
        due = [k for k in self._open if k[1].end_ms <= through_ms]
        due.sort(key=lambda kw: (kw[1].end_ms, str(kw[0])))
        closed = []
        for k in due:
            slot = self._open.pop(k)
            closed.append(ClosedWindow(k[0], k[1], slot.state, slot.tokens))
        if through_ms > self.closed_through_ms:
            self.closed_through_ms = through_ms
        return closed

    def progress(self) -> Progress:
        return Progress(self.closed_through_ms, self.next_offset)
