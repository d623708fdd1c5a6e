"""The values the delivery core moves around: a consumed record, a batch, a rejection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Batch", "Record", "Rejected", "TopicPartition"]

TopicPartition = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record as the delivery core sees it. ``timestamp_ms`` is the Kafka timestamp.

    After the transform stage (deaggregation, processing hook, metadata extraction) one
    source record may become several: they keep the source's topic/partition/offset and are
    told apart by ``sub`` (0, 1, …), and carry the dynamic-partitioning keys they were given
    as ``partition_keys`` (name, value) pairs, in the order the query/hook produced them.
    A backup record (a failure document) carries the ``error_output_type`` of the failure it
    describes, so the backup writes it under that type's error prefix.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    sub: int = 0
    partition_keys: tuple[tuple[str, str], ...] = ()
    error_output_type: str | None = None

    @property
    def size_bytes(self) -> int:
        """Bytes counted against the buffering hints (the value, as consumed)."""
        return len(self.value) if self.value is not None else 0


@dataclass(frozen=True, slots=True)
class Batch:
    """Records of one topic-partition, in offset order, flushed together."""

    topic: str
    partition: int
    records: tuple[Record, ...]
    arrival_ms: int | None = None  # when the oldest record was buffered (for freshness)
    # The (start, end) offsets of the batch the core cut, when this is a part of it (the
    # records a retry re-sends): S3 objects record the cut they came from.
    cut: tuple[int, int] | None = None
    # Cut early to bound memory (``max_buffered_mb``), not by the hints: where it falls
    # depends on timing, like an interval cut.
    forced: bool = False

    @classmethod
    def of(
        cls,
        records: Sequence[Record],
        arrival_ms: int | None = None,
        *,
        cut: tuple[int, int] | None = None,
        forced: bool = False,
    ) -> Batch:
        if not records:
            raise ValueError("a batch needs at least one record")
        first = records[0]
        return cls(first.topic, first.partition, tuple(records), arrival_ms, cut, forced)

    @property
    def cut_range(self) -> tuple[int, int]:
        """The offsets of the batch as cut: ``cut`` when set, else this batch's own range."""
        return self.cut if self.cut is not None else (self.start_offset, self.end_offset)

    @property
    def start_offset(self) -> int:
        return self.records[0].offset

    @property
    def end_offset(self) -> int:
        return self.records[-1].offset

    @property
    def size_bytes(self) -> int:
        return sum(r.size_bytes for r in self.records)

    def __len__(self) -> int:
        return len(self.records)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record a destination refused for good (or whose retries ran out), with the reason.

    ``status`` is the destination's HTTP status for this record when it answered one.
    ``error_output_type`` is what ``!{firehose:error-output-type}`` evaluates to for it
    (``processing-failed``, ``format-conversion-failed``, …); None: the backup's own type.
    """

    record: Record
    error_code: str
    error_message: str
    status: int | None = None
    error_output_type: str | None = None
