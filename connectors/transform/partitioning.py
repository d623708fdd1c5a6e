"""Dynamic partitioning: jq metadata extraction and the active-partition limit.

:class:`MetadataExtractor` compiles Firehose's ``MetadataExtractionQuery`` once (the ``jq``
package, libjq 1.x — Firehose's JsonParsingEngine is JQ-1.6) and evaluates it per record: the
result must be a JSON object of at most 50 keys whose values are strings, numbers or booleans
(numbers and booleans are rendered as JSON). Anything else fails the record.

**Active partitions** (:class:`ActivePartitions`). A partition is a distinct tuple of partition
keys. It is *active* from the moment a record carrying it leaves the transform stage until
every batch holding records with it has been delivered (or sent to the error output) — the
records that are "in the delivery buffer" in Firehose's words. Counting is per delivery (one
:class:`~connectors.core.delivery.DeliveryCore`), over all its Kafka partitions. A record
whose tuple is already active is always admitted; a record that would open one more than
``limit`` partitions is rejected with error-output-type
``DynamicPartitioning.ActivePartitionsExceeded`` (the guide also calls the error folder
``activePartitionExceeded``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

import jq

from ground.errors import ConfigError

__all__ = [
    "ACTIVE_PARTITION_EXCEEDED",
    "DEFAULT_MAX_ACTIVE_PARTITIONS",
    "MAX_PARTITION_KEYS",
    "PARTITIONING_FAILED",
    "ActivePartitions",
    "MetadataExtractionError",
    "MetadataExtractor",
    "PartitionKeys",
]

PartitionKeys = tuple[tuple[str, str], ...]
MAX_PARTITION_KEYS = 50
DEFAULT_MAX_ACTIVE_PARTITIONS = 500
# The error-output-types (as in connectors.s3.prefix.ERROR_OUTPUT_TYPES); also the error codes.
PARTITIONING_FAILED = "DynamicPartitioning.MetadataExtractionFailed"
ACTIVE_PARTITION_EXCEEDED = "DynamicPartitioning.ActivePartitionsExceeded"


class MetadataExtractionError(ValueError):
    """The query failed on a record, or did not produce an object of scalar values."""


class MetadataExtractor:
    """A compiled ``MetadataExtractionQuery``; a bad query is a ConfigError naming ``field``."""

    def __init__(self, query: str, *, field: str = "metadata_extraction.query") -> None:
        try:
            self._program = jq.compile(query)
        except ValueError as exc:
            raise ConfigError(field, f"not a valid jq query: {str(exc).splitlines()[0]}") from None
        self.query = query

    def extract(self, value: bytes | None) -> PartitionKeys:
        if value is None:
            raise MetadataExtractionError("the record has no data")
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MetadataExtractionError(f"the record is not UTF-8 JSON: {exc}") from None
        try:  # libjq parses the text itself (about twice as fast as json.loads + convert)
            results = self._program.input_text(text).all()
        except ValueError as exc:
            raise MetadataExtractionError(f"the record is not JSON or the query failed: {exc}"
                                          ) from None
        if len(results) != 1 or not isinstance(results[0], dict):
            raise MetadataExtractionError(
                f"the query must produce one JSON object, got {_short(results)}")
        return to_partition_keys(results[0])


def to_partition_keys(obj: dict[str, Any]) -> PartitionKeys:
    """An object of scalar values as partition keys (in the object's order)."""
    if not obj:
        raise MetadataExtractionError("the query produced no keys")
    if len(obj) > MAX_PARTITION_KEYS:
        raise MetadataExtractionError(f"{len(obj)} keys, at most {MAX_PARTITION_KEYS} allowed")
    out: list[tuple[str, str]] = []
    for key, value in obj.items():
        if isinstance(value, str):
            out.append((key, value))
        elif isinstance(value, bool | int | float):
            out.append((key, json.dumps(value)))
        else:
            raise MetadataExtractionError(f"key {key!r} is {_short(value)}, not a scalar")
    return tuple(out)


def _short(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


class ActivePartitions:
    """Reference counts of the partition-key tuples held by undelivered records."""

    def __init__(self, limit: int = DEFAULT_MAX_ACTIVE_PARTITIONS) -> None:
        if limit < 1:
            raise ValueError("the active-partition limit must be at least 1")
        self.limit = limit
        self._held: Counter[PartitionKeys] = Counter()
        self.exceeded = 0  # records rejected for the limit so far

    def __len__(self) -> int:
        return len(self._held)

    def admit(self, keys: PartitionKeys) -> bool:
        """Hold ``keys`` for one record; False (nothing held) when it would exceed the limit."""
        if keys not in self._held and len(self._held) >= self.limit:
            self.exceeded += 1
            return False
        self._held[keys] += 1
        return True

    def release(self, keys: Iterable[PartitionKeys]) -> None:
        """The records holding these tuples (one entry per record) are delivered."""
        for k in keys:
            left = self._held[k] - 1
            if left > 0:
                self._held[k] = left
            else:
                del self._held[k]
