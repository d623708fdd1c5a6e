"""What the delivery core keeps for one assigned partition: its buffer, the batches cut and
not yet delivered, its offsets, and the memory they hold.

Records are placed by the buffering hints (size, count) — or, while replay alignment holds a
cut point (``align_to``), exactly at that offset: see :mod:`connectors.core.alignment`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.core.buffer import PartitionBuffer
from connectors.core.offsets import OffsetTracker
from connectors.core.records import Batch, Record

__all__ = ["RECORD_OVERHEAD_BYTES", "PartitionState", "held_cost"]

#: What a consumed record costs in memory beyond its value bytes: the Record object, its key,
#: the value's bytes header, the list slot (measured with tracemalloc: ~175-200 bytes).
#: Counted in :attr:`DeliveryCore.held_bytes`, so a memory cap holds for small records too.
RECORD_OVERHEAD_BYTES = 200


def held_cost(records: int, value_bytes: int) -> int:
    """Memory held for ``records`` records of ``value_bytes`` value bytes in all."""
    return value_bytes + records * RECORD_OVERHEAD_BYTES


@dataclass(slots=True)
class PartitionState:
    """Everything the core keeps for one assigned partition."""

    buffer: PartitionBuffer
    offsets: OffsetTracker = field(default_factory=OffsetTracker)
    ready: list[Batch] = field(default_factory=list)  # cut by size/count, not yet flushed
    committed: int | None = None
    # cut batches not yet delivered: start offset → their oldest Kafka timestamp
    pending_ts: dict[int, int] = field(default_factory=dict)
    incoming_records: int = 0  # consumed since last reported to the metrics hook
    incoming_bytes: int = 0
    # Replay alignment: still asking the destination what a previous owner wrote; and the
    # end offset the buffer must be cut at (size, count and interval are held until then).
    recovering: bool = True
    align_to: int | None = None
    # Memory held for this partition: buffered + cut + being sent, until acked or forgotten.
    held_bytes: int = 0

    def place(self, record: Record, now: int) -> None:
        """Buffer ``record``, cutting by the hints, or exactly at ``align_to`` when set."""
        buffer = self.buffer
        if self.align_to is not None:
            if record.offset <= self.align_to:
                buffer.add(record, now)
                if record.offset == self.align_to:
                    self.cut()
                    self.align_to = None
                return
            if len(buffer):  # a gap (transaction markers): the aligned batch ends before
                self.cut()
            self.align_to = None
        if not buffer.fits(record):
            self.cut()
        buffer.add(record, now)
        if buffer.full():
            self.cut()

    def put_back(self, batches: list[Batch], align_to: int | None, now: int) -> None:
        """Return undelivered ``batches`` (in offset order, oldest first) to the buffer and
        buffer them again, with everything buffered since, cut at ``align_to``."""
        for batch in batches:
            self.pending_ts.pop(batch.start_offset, None)
        records = [r for b in batches for r in b.records]
        for batch in self.ready:  # cut meanwhile (not flushed yet): after ours
            self.pending_ts.pop(batch.start_offset, None)
            records.extend(batch.records)
        self.ready.clear()
        records.extend(self.buffer.take())
        self.align_to = align_to
        for record in records:
            self.place(record, now)

    def cut(self, *, forced: bool = False) -> None:
        buffer = self.buffer
        oldest, arrival = buffer.oldest_timestamp_ms, buffer.first_arrival_ms
        batch = Batch.of(buffer.take(), arrival, forced=forced)
        if oldest is not None:
            self.pending_ts[batch.start_offset] = oldest
        self.ready.append(batch)

    def take_ready(self) -> list[Batch]:
        """The batches cut and not handed out yet (handed out now)."""
        out, self.ready = self.ready, []
        return out

    def delivered(self, batch: Batch) -> None:
        """``batch`` is durable: ack its offsets, stop holding its memory."""
        self.offsets.ack(r.offset for r in batch.records)
        self.pending_ts.pop(batch.start_offset, None)
        self.held_bytes -= held_cost(len(batch), batch.size_bytes)

    def oldest_pending_ms(self) -> int | None:
        times = list(self.pending_ts.values())
        if self.buffer.oldest_timestamp_ms is not None:
            times.append(self.buffer.oldest_timestamp_ms)
        return min(times) if times else None
