"""Deterministic object keys: the same batch start always maps to the same key.

``<evaluated prefix><stream>-<topic>+<partition>+<start offset, 20 digits><ext>``. The prefix is
a Firehose prefix expression (:mod:`connectors.s3.prefix`) evaluated against the batch: the
Kafka timestamp of its first (oldest) record, in UTC, and a ``random-string`` seeded by
(stream, topic, partition, start offset). A plain prefix such as ``raw/`` gets Firehose's
default ``yyyy/MM/dd/HH/``. A replay from the committed offset starts a batch at the same
offset, so it rewrites the same key instead of adding a new object (Kafka Connect's S3 sink
does the same).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from connectors.core.records import Batch
from connectors.s3.prefix import DEFAULT_TIMESTAMP_PATTERN, Prefix, compile_prefix, random_seed

__all__ = ["OFFSET_DIGITS", "date_path", "object_key"]

OFFSET_DIGITS = 20

_DEFAULT = compile_prefix(f"!{{timestamp:{DEFAULT_TIMESTAMP_PATTERN}}}")


def date_path(timestamp_ms: int) -> str:
    """``yyyy/MM/dd/HH/`` in UTC (Firehose's default when the prefix has no timestamp)."""
    return _DEFAULT.render(timestamp_ms, random_seed=b"")


@lru_cache(maxsize=256)
def _compiled(prefix: str) -> Prefix:
    return compile_prefix(prefix)


def object_key(
    prefix: str | Prefix,
    stream: str,
    batch: Batch,
    extension: str,
    *,
    error_output_type: str | None = None,
    partition_keys: Mapping[str, str] | None = None,
) -> str:
    """The key of ``batch``'s object. A ``str`` prefix is compiled as a Firehose ``Prefix``;
    pass a compiled :class:`Prefix` (from :func:`compile_prefix`) to check it at start-up."""
    compiled = _compiled(prefix) if isinstance(prefix, str) else prefix
    evaluated = compiled.render(
        batch.records[0].timestamp_ms,
        random_seed=random_seed(stream, batch.topic, batch.partition, batch.start_offset),
        error_output_type=error_output_type,
        partition_keys=partition_keys,
    )
    return (
        f"{evaluated}{stream}-{batch.topic}+{batch.partition}"
        f"+{batch.start_offset:0{OFFSET_DIGITS}d}{extension}"
    )
