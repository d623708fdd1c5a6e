"""A destination's ``processing:`` section (Firehose's ProcessingConfiguration) and the
transform stage built from it.

Every error names the exact field, e.g. ``s3.processing.hook.retries: must be between 0 and
300, got -1``; the hook is imported and the jq query compiled here, at start-up, not at the
first flush.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.core.buffer import MIB
from connectors.core.section import Section
from connectors.transform.deaggregate import Deaggregator, SubRecordType
from connectors.transform.hook import (
    DEFAULT_BUFFER_SIZE_BYTES,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_MS,
    ProcessingHook,
    load_callable,
)
from connectors.transform.partitioning import ActivePartitions, MetadataExtractor
from connectors.transform.stage import TransformStage
from ground.errors import ConfigError

__all__ = [
    "DeaggregationConfig",
    "HookConfig",
    "ProcessingConfig",
    "build_transform",
]

# Firehose's Lambda BufferSizeInMBs: min, max, default
HOOK_BUFFER_MB = (0.2, 3.0, DEFAULT_BUFFER_SIZE_BYTES / MIB)
HOOK_RETRIES = (0, 300)  # Firehose NumberOfRetries
HOOK_TIMEOUT_MS = (1, 900_000)
HOOK_INTERVAL_MS = (0, 900_000, 60_000)  # Firehose BufferIntervalInSeconds (60–900 s)
JQ_ENGINE = "JQ-1.6"  # Firehose's JsonParsingEngine


@dataclass(frozen=True, slots=True)
class DeaggregationConfig:
    sub_record_type: SubRecordType = SubRecordType.JSON
    delimiter: str = "\n"  # DELIMITED only

    @classmethod
    def from_section(cls, s: Section) -> DeaggregationConfig:
        value = s.string("sub_record_type", SubRecordType.JSON.value)
        try:
            kind = SubRecordType(value.upper())
        except ValueError:
            raise ConfigError(s.name("sub_record_type"),
                              f"JSON or DELIMITED, got {value!r}") from None
        delimiter = s.string("delimiter", "\n")
        if not delimiter:
            raise ConfigError(s.name("delimiter"), "must not be empty")
        if s.has("delimiter") and kind is not SubRecordType.DELIMITED:
            raise ConfigError(s.name("delimiter"), "only with sub_record_type DELIMITED")
        s.done()
        return cls(kind, delimiter)


@dataclass(frozen=True, slots=True)
class HookConfig:
    """The processing hook (Firehose's Lambda processor): ``package.module:function``."""

    callable: str
    retries: int = DEFAULT_RETRIES
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    buffer_size_bytes: int = DEFAULT_BUFFER_SIZE_BYTES
    # Firehose's Lambda BufferIntervalInSeconds. Accepted for the translation of Firehose's
    # layout; Shardline calls the hook once per flushed batch, so the delivery's buffering
    # decides when — this value is not used.
    buffer_interval_ms: int = HOOK_INTERVAL_MS[2]

    @classmethod
    def from_section(cls, s: Section) -> HookConfig:
        spec = s.string("callable")
        load_callable(spec, field=s.name("callable"))  # importable now, not at first flush
        size = s.get("buffer_size_mb")
        lo, hi, default = HOOK_BUFFER_MB
        if size is None:
            size = default
        if isinstance(size, bool) or not isinstance(size, int | float) or not lo <= size <= hi:
            raise ConfigError(s.name("buffer_size_mb"), f"a number from {lo} to {hi}, got {size!r}")
        config = cls(
            callable=spec,
            retries=s.integer("retries", *HOOK_RETRIES, DEFAULT_RETRIES),
            timeout_ms=s.integer("timeout_ms", *HOOK_TIMEOUT_MS, DEFAULT_TIMEOUT_MS),
            buffer_size_bytes=int(size * MIB),
            buffer_interval_ms=s.integer("buffer_interval_ms", *HOOK_INTERVAL_MS),
        )
        s.done()
        return config


@dataclass(frozen=True, slots=True)
class ProcessingConfig:
    """Firehose's ProcessingConfiguration, applied in this order before delivery."""

    deaggregation: DeaggregationConfig | None = None
    hook: HookConfig | None = None
    metadata_extraction_query: str | None = None
    append_delimiter: bool = False

    @classmethod
    def from_section(cls, s: Section, *, partitioning: bool) -> ProcessingConfig:
        """``partitioning``: the destination partitions dynamically (metadata extraction is
        only for that)."""
        query = None
        if s.has("metadata_extraction"):
            m = s.section("metadata_extraction")
            if not partitioning:
                raise ConfigError(m.path, "only for an S3 destination with dynamic partitioning")
            query = m.string("query")
            MetadataExtractor(query, field=m.name("query"))  # compiled now: errors name it
            engine = m.string("json_parsing_engine", JQ_ENGINE)
            if engine != JQ_ENGINE:
                raise ConfigError(m.name("json_parsing_engine"), f"only JQ-1.6, got {engine!r}")
            m.done()
        append = s.get("append_delimiter")
        if append is not None and not isinstance(append, bool):
            raise ConfigError(s.name("append_delimiter"), f"true or false, got {append!r}")
        config = cls(
            deaggregation=DeaggregationConfig.from_section(s.section("deaggregation"))
            if s.has("deaggregation") else None,
            hook=HookConfig.from_section(s.section("hook")) if s.has("hook") else None,
            metadata_extraction_query=query,
            append_delimiter=bool(append),
        )
        s.done()
        return config


def build_transform(
    processing: ProcessingConfig | None,
    *,
    max_active_partitions: int | None = None,
    required_keys: tuple[str, ...] = (),
) -> TransformStage | None:
    """The transform stage for a destination's ``processing:`` (None when there is nothing
    to do). ``max_active_partitions``: dynamic partitioning's limit, when it is enabled;
    ``required_keys``: the partition keys the destination's prefix uses."""
    if processing is None and max_active_partitions is None:
        return None
    p = processing or ProcessingConfig()
    d = p.deaggregation
    h = p.hook
    return TransformStage(
        deaggregator=Deaggregator(d.sub_record_type, d.delimiter.encode()) if d else None,
        hook=ProcessingHook.from_spec(
            h.callable, retries=h.retries, timeout_ms=h.timeout_ms,
            buffer_size_bytes=h.buffer_size_bytes) if h else None,
        extractor=MetadataExtractor(p.metadata_extraction_query)
        if p.metadata_extraction_query is not None else None,
        append_delimiter=b"\n" if p.append_delimiter else None,
        partitions=ActivePartitions(max_active_partitions)
        if max_active_partitions is not None else None,
        required_keys=required_keys,
    )
