"""Firehose-style buffering hints and the per-partition buffer they govern."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.core.records import Record

__all__ = ["DEFAULT_INTERVAL_MS", "DEFAULT_SIZE_BYTES", "MIB", "BufferingHints", "PartitionBuffer"]

MIB = 1024 * 1024
DEFAULT_SIZE_BYTES = 5 * MIB  # Firehose S3 SizeInMBs default
DEFAULT_INTERVAL_MS = 300_000  # Firehose IntervalInSeconds default


@dataclass(frozen=True, slots=True)
class BufferingHints:
    """Whichever is reached first flushes a partition's buffer.

    ``size_bytes`` is a maximum: a record that would push the buffer over it starts a new
    buffer (a single record larger than it is flushed alone). ``max_records`` caps the count
    (None: no cap). ``interval_ms`` is measured from the arrival of the oldest buffered record
    (the worker takes the return of the ``consume()`` call before the one that returned it as
    its arrival: a flush in between or a wait for a full batch does not delay the cut).
    Size and count cuts depend only on the records, so they are the same on a replay; the
    interval cut depends on the wall clock.
    """

    size_bytes: int = DEFAULT_SIZE_BYTES
    max_records: int | None = None
    interval_ms: int = DEFAULT_INTERVAL_MS


class PartitionBuffer:
    """Records of one partition waiting to be flushed."""

    __slots__ = ("_records", "first_arrival_ms", "hints", "oldest_timestamp_ms", "size_bytes")

    def __init__(self, hints: BufferingHints) -> None:
        self.hints = hints
        self._records: list[Record] = []
        self.size_bytes = 0
        self.first_arrival_ms: int | None = None
        self.oldest_timestamp_ms: int | None = None  # smallest Kafka timestamp buffered

    def __len__(self) -> int:
        return len(self._records)

    def fits(self, record: Record) -> bool:
        """Whether ``record`` can join without exceeding the size or count hint."""
        if not self._records:
            return True
        if self.hints.max_records is not None and len(self._records) >= self.hints.max_records:
            return False
        return self.size_bytes + record.size_bytes <= self.hints.size_bytes

    def add(self, record: Record, now_ms: int) -> None:
        if not self._records:
            self.first_arrival_ms = now_ms
            self.oldest_timestamp_ms = record.timestamp_ms
        elif record.timestamp_ms < self.oldest_timestamp_ms:  # type: ignore[operator]
            self.oldest_timestamp_ms = record.timestamp_ms
        self._records.append(record)
        self.size_bytes += record.size_bytes

    def full(self) -> bool:
        """The size or count hint is reached: nothing more may join."""
        if not self._records:
            return False
        if self.hints.max_records is not None and len(self._records) >= self.hints.max_records:
            return True
        return self.size_bytes >= self.hints.size_bytes

    def expired(self, now_ms: int) -> bool:
        """The oldest buffered record has waited ``interval_ms``."""
        return (
            self.first_arrival_ms is not None
            and now_ms - self.first_arrival_ms >= self.hints.interval_ms
        )

    def due_in_ms(self, now_ms: int) -> int | None:
        """Milliseconds until the interval flush, or None when empty."""
        if self.first_arrival_ms is None:
            return None
        return max(0, self.first_arrival_ms + self.hints.interval_ms - now_ms)

    def take(self) -> list[Record]:
        records, self._records = self._records, []
        self.size_bytes = 0
        self.first_arrival_ms = None
        self.oldest_timestamp_ms = None
        return records
