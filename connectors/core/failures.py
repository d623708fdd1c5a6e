"""Turning rejected records into backup records, so a permanent failure is never silently lost.

A backup record keeps the topic, partition and offset of the record it describes, so backup
objects get deterministic keys the same way delivered objects do.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

from connectors.core.records import Record, Rejected

__all__ = ["FailureFormatter", "format_failure", "kafka_origin", "raw_data", "to_backup_record"]

FailureFormatter = Callable[[Rejected, int, int], dict[str, object]]
"""(rejected, attempts made, attempt-ending time in ms) → the JSON document to back up."""


def raw_data(record: Record) -> str:
    """Firehose's ``rawData``: the record's value in base64 ("" for a tombstone)."""
    return base64.b64encode(record.value or b"").decode("ascii")


def kafka_origin(record: Record) -> dict[str, object]:
    """Where the record came from, as Shardline adds it to Firehose's failure documents."""
    return {
        "kafkaTopic": record.topic,
        "kafkaPartition": record.partition,
        "kafkaOffset": record.offset,
        "kafkaKey": None if record.key is None else base64.b64encode(record.key).decode("ascii"),
    }


def format_failure(rejected: Rejected, attempts: int, now_ms: int) -> dict[str, object]:
    """The generic failure document (Firehose's fields plus where the record came from)."""
    record = rejected.record
    return {
        "attemptsMade": attempts,
        "arrivalTimestamp": record.timestamp_ms,
        "errorCode": rejected.error_code,
        "errorMessage": rejected.error_message,
        "attemptEndingTimestamp": now_ms,
        "rawData": raw_data(record),
        **kafka_origin(record),
    }


def to_backup_record(
    rejected: Rejected, attempts: int, now_ms: int, formatter: FailureFormatter = format_failure
) -> Record:
    r = rejected.record
    doc = json.dumps(formatter(rejected, attempts, now_ms), separators=(",", ":")).encode()
    return Record(r.topic, r.partition, r.offset, r.key, doc, r.timestamp_ms, r.sub,
                  error_output_type=rejected.error_output_type)
