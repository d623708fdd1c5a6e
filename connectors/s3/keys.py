"""Deterministic object keys: the same batch start always maps to the same key.

``<prefix><yyyy/MM/dd/HH/><stream>-<topic>+<partition>+<start offset, 20 digits><ext>``,
the date path taken from the Kafka timestamp of the batch's first (oldest) record, in UTC.
A replay from the committed offset starts a batch at the same offset, so it rewrites the
same key instead of adding a new object (Kafka Connect's S3 sink does the same).
"""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.core.records import Batch

__all__ = ["OFFSET_DIGITS", "date_path", "object_key"]

OFFSET_DIGITS = 20


def date_path(timestamp_ms: int) -> str:
    """``yyyy/MM/dd/HH/`` in UTC (Firehose's default when the prefix has no timestamp)."""
    return datetime.fromtimestamp(max(0, timestamp_ms) / 1000, tz=UTC).strftime("%Y/%m/%d/%H/")


def object_key(prefix: str, stream: str, batch: Batch, extension: str) -> str:
    # Hook for the later prefix-expression issue (!{timestamp:...}, partitionKeyFromQuery):
    # evaluate ``prefix`` against the batch here instead of appending the date path.
    first = batch.records[0]
    return (
        f"{prefix}{date_path(first.timestamp_ms)}"
        f"{stream}-{batch.topic}+{batch.partition}+{batch.start_offset:0{OFFSET_DIGITS}d}{extension}"
    )
