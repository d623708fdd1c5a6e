"""Delivery configuration: frozen, typed, validated at start-up, loadable from YAML or TOML.

One delivery = one topic → one destination, with its own consumer group. S3 and
Elasticsearch fed from the same topic are two deliveries (two groups, independent offsets),
which a YAML file may list together under ``deliveries:``. Connection settings (endpoints,
credentials) come from :class:`ground.settings.Settings`, never from this file.

Every error names the exact field, e.g. ``s3.buffering.size_mb: must be between 1 and 128``.

A file may also be written in Firehose's own layout (``CreateDeliveryStream`` input in YAML,
TOML or JSON, or ``describe-delivery-stream`` JSON): :mod:`connectors.firehose_layout`
translates it into this layout and reports errors under Firehose's field names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from connectors.core.buffer import MIB, BufferingHints
from connectors.core.retry import DEFAULT_INITIAL_BACKOFF_MS, DEFAULT_MAX_BACKOFF_MS, RetryOptions
from connectors.elasticsearch.destination import DocumentIdStrategy
from connectors.elasticsearch.rotation import IndexRotationPeriod
from connectors.s3.avro_arrow import schema_for
from connectors.s3.compression import CompressionFormat
from connectors.s3.parquet import (
    DEFAULT_PAGE_SIZE_BYTES,
    MIN_PAGE_SIZE_BYTES,
    ParquetCompression,
    WriterVersion,
)
from connectors.s3.prefix import compile_prefixes
from connectors.transform.deaggregate import SubRecordType
from connectors.transform.hook import DEFAULT_RETRIES, DEFAULT_TIMEOUT_MS, load_callable
from connectors.transform.partitioning import DEFAULT_MAX_ACTIVE_PARTITIONS, MetadataExtractor
from ground.config_reader import MappingReader, load_document
from ground.errors import ConfigError

__all__ = [
    "DataFormatConversionConfig",
    "DeaggregationConfig",
    "DeliveryConfig",
    "DynamicPartitioningConfig",
    "ElasticsearchConfig",
    "HookConfig",
    "ProcessingConfig",
    "SourceBackupConfig",
    "S3BackupConfig",
    "S3BackupMode",
    "S3Config",
    "load_deliveries",
]

S3_SIZE_MB = (1, 128, 5)  # Firehose SizeInMBs: min, max, default
ES_SIZE_MB = (1, 100, 5)
INTERVAL_S = (0, 900, 300)  # Firehose IntervalInSeconds
RETRY_DURATION_S = (0, 7200, 300)  # Firehose RetryOptions.DurationInSeconds
MULTIPART_THRESHOLD_MB = (5, 5120, 16)  # objects this large go up in parts (S3: 5 MiB–5 GiB)
INDEX_NAME_LENGTH = (1, 80)  # Firehose IndexName (its pattern is ``.*``)
# Memory held per delivery (buffered + being sent + librdkafka's pre-fetch): a few deliveries
# fit in a few hundred MB. At least the destination's SizeInMBs (one full buffer must fit).
MAX_BUFFERED_MB = (1, 65_536, 128)  # 128: a process with 128 MB buffers peaks near 410 MB
SHUTDOWN_TIMEOUT_S = (0, 3600, 30)  # SIGTERM: how long to flush before abandoning
# Firehose's default is OneDay; Shardline keeps a fixed index unless asked, as before.
DEFAULT_INDEX_ROTATION = IndexRotationPeriod.NO_ROTATION
MAX_INTERVAL_MS = INTERVAL_S[1] * 1000
GROUP_PREFIX = "shardline-deliver-"
HOOK_BUFFER_MB = (0.2, 3.0, 1.0)  # Firehose's Lambda BufferSizeInMBs: min, max, default
HOOK_RETRIES = (0, 300)  # Firehose NumberOfRetries
HOOK_TIMEOUT_MS = (1, 900_000)
HOOK_INTERVAL_MS = (0, 900_000, 60_000)  # Firehose BufferIntervalInSeconds (60–900 s)
MAX_ACTIVE_PARTITIONS = (1, 5000)  # Firehose: 500 by default, raisable to 5,000
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TOPIC = re.compile(r"^[A-Za-z0-9_.-]{1,249}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class _Section(MappingReader):
    """Shardline's layout: an absent section reads as empty; ``has`` means the key is there."""

    def __init__(self, data: object, path: str) -> None:
        super().__init__({} if data is None else data, path)

    def has(self, key: str) -> bool:
        return key in self.data

    def string(self, key: str, default: str | None = None) -> str:
        value = self.get(key)
        if value is None:
            if default is None:
                raise ConfigError(self.name(key), "is required")
            return default
        if not isinstance(value, str):
            raise ConfigError(self.name(key), f"expected a string, got {value!r}")
        return value

    def integer(self, key: str, lo: int, hi: int | None, default: int | None = None) -> int | None:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(self.name(key), f"expected an integer, got {value!r}")
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise ConfigError(self.name(key), f"must be {bound}, got {value}")
        return value

    def alias(self, *keys: str) -> str | None:
        """The one of ``keys`` that is set (Shardline's name or Firehose's), or None.

        A key set to null reads as absent (as in every other getter)."""
        self.seen.update(k for k in keys if k in self.data and self.data[k] is None)
        present = [k for k in keys if self.data.get(k) is not None]
        if len(present) > 1:
            raise ConfigError(self.name(present[1]), f"set only one of {', '.join(present)}")
        return present[0] if present else None

    def section(self, key: str) -> _Section:
        return _Section(self.get(key), self.name(key))


def _buffering(s: _Section, size_mb: tuple[int, int, int]) -> BufferingHints:
    lo, hi, default = size_mb
    size_key = s.alias("size_mb", "SizeInMBs", "size_bytes")
    if size_key == "size_bytes":
        size_bytes = s.integer("size_bytes", 1, hi * MIB)
    elif size_key is not None:
        size_bytes = s.integer(size_key, lo, hi) * MIB  # type: ignore[operator]
    else:
        size_bytes = default * MIB
    interval_key = s.alias("interval_seconds", "IntervalInSeconds", "interval_ms")
    if interval_key == "interval_ms":
        interval_ms = s.integer("interval_ms", 0, MAX_INTERVAL_MS)
    elif interval_key is not None:
        interval_ms = s.integer(interval_key, INTERVAL_S[0], INTERVAL_S[1]) * 1000  # type: ignore[operator]
    else:
        interval_ms = INTERVAL_S[2] * 1000
    max_records = s.integer("max_records", 1, None)
    s.done()
    assert size_bytes is not None and interval_ms is not None
    return BufferingHints(size_bytes=size_bytes, max_records=max_records, interval_ms=interval_ms)


def _retry(s: _Section) -> RetryOptions:
    key = s.alias("duration_seconds", "DurationInSeconds", "duration_ms")
    if key == "duration_ms":
        duration_ms = s.integer(key, 0, RETRY_DURATION_S[1] * 1000)
    elif key is not None:
        duration_ms = s.integer(key, RETRY_DURATION_S[0], RETRY_DURATION_S[1]) * 1000  # type: ignore[operator]
    else:
        duration_ms = RETRY_DURATION_S[2] * 1000
    options = RetryOptions(
        duration_ms=duration_ms,  # type: ignore[arg-type]
        max_attempts=s.integer("max_attempts", 1, None),
        initial_backoff_ms=s.integer("initial_backoff_ms", 1, 60_000, DEFAULT_INITIAL_BACKOFF_MS),  # type: ignore[arg-type]
        max_backoff_ms=s.integer("max_backoff_ms", 1, 600_000, DEFAULT_MAX_BACKOFF_MS),  # type: ignore[arg-type]
    )
    s.done()
    return options


def _rotation(s: _Section) -> IndexRotationPeriod:
    key = s.alias("index_rotation_period", "IndexRotationPeriod")
    if key is None:
        return DEFAULT_INDEX_ROTATION
    value = s.string(key)
    try:
        return IndexRotationPeriod(value)
    except ValueError:
        choices = ", ".join(p.value for p in IndexRotationPeriod)
        raise ConfigError(s.name(key), f"one of {choices}, got {value!r}") from None


def _bucket(s: _Section, key: str) -> str:
    bucket = s.string(key)
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ConfigError(s.name(key), f"not a valid S3 bucket name: {bucket!r}")
    return bucket


def _prefix(s: _Section, key: str, default: str = "") -> str:
    prefix = s.string(key, default)
    if prefix.startswith("/"):
        raise ConfigError(s.name(key), "must not start with '/'")
    return prefix


def _compression(s: _Section, default: CompressionFormat) -> CompressionFormat:
    # Firehose's spellings (Snappy, HADOOP_SNAPPY, ...); any case is accepted.
    value = s.string("compression", default.value)
    try:
        return CompressionFormat(value)
    except ValueError:
        choices = ", ".join(c.value for c in CompressionFormat)
        raise ConfigError(s.name("compression"), f"one of {choices}, got {value!r}") from None


def _choice(s: _Section, key: str, kind: type[StrEnum], default: str) -> Any:
    value = s.string(key, default)
    try:
        return kind(value.upper())
    except ValueError:
        choices = ", ".join(c.value for c in kind)
        raise ConfigError(s.name(key), f"one of {choices}, got {value!r}") from None


@dataclass(frozen=True, slots=True)
class DataFormatConversionConfig:
    """Firehose's DataFormatConversionConfiguration, JSON → Parquet (OpenX JSON SerDe in,
    ParquetSerDe out), with the table schema named from ``schemas/``."""

    schema: str
    output_format: str = "PARQUET"
    compression: ParquetCompression = ParquetCompression.SNAPPY
    case_insensitive: bool = True
    convert_dots_in_json_keys_to_underscores: bool = False
    column_to_json_key_mappings: tuple[tuple[str, str], ...] = ()  # (column, JSON key)
    enable_dictionary_compression: bool = True
    page_size_bytes: int = DEFAULT_PAGE_SIZE_BYTES
    writer_version: WriterVersion = WriterVersion.V1

    @classmethod
    def from_section(cls, s: _Section) -> DataFormatConversionConfig | None:
        """None when ``enabled: false`` (Firehose keeps the settings but does not convert)."""
        enabled = s.boolean("enabled", True)
        output = s.string("output_format", "PARQUET")
        if output.upper() != "PARQUET":
            raise ConfigError(s.name("output_format"), f"only PARQUET is supported, got {output!r}")
        name = s.string("schema")
        try:
            columns = schema_for(name).names
        except ConfigError as exc:
            raise ConfigError(s.name("schema"), exc.message) from None
        raw_mappings = s.get("column_to_json_key_mappings") or {}
        if not isinstance(raw_mappings, Mapping):
            raise ConfigError(s.name("column_to_json_key_mappings"),
                              "expected a mapping of column name to JSON key")
        mappings = []
        for column, key in raw_mappings.items():
            where = f"{s.name('column_to_json_key_mappings')}.{column}"
            if column not in columns:
                raise ConfigError(where, f"no such column in schema {name!r}: {columns}")
            if not isinstance(key, str) or not key.strip():
                raise ConfigError(where, f"expected a JSON key, got {key!r}")
            mappings.append((str(column), key))
        config = cls(
            schema=name,
            compression=_choice(s, "compression", ParquetCompression, "SNAPPY"),
            case_insensitive=s.boolean("case_insensitive", True),
            convert_dots_in_json_keys_to_underscores=s.boolean(
                "convert_dots_in_json_keys_to_underscores", False),
            column_to_json_key_mappings=tuple(mappings),
            enable_dictionary_compression=s.boolean("enable_dictionary_compression", True),
            page_size_bytes=s.integer(  # type: ignore[arg-type]
                "page_size_bytes", MIN_PAGE_SIZE_BYTES, None, DEFAULT_PAGE_SIZE_BYTES),
            writer_version=_choice(s, "writer_version", WriterVersion, "V1"),
        )
        s.done()
        return config if enabled else None


@dataclass(frozen=True, slots=True)
class DeaggregationConfig:
    sub_record_type: SubRecordType = SubRecordType.JSON
    delimiter: str = "\n"  # DELIMITED only

    @classmethod
    def from_section(cls, s: _Section) -> DeaggregationConfig:
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
    buffer_size_bytes: int = int(HOOK_BUFFER_MB[2] * MIB)
    # Firehose's Lambda BufferIntervalInSeconds. Accepted for the translation of Firehose's
    # layout; Shardline calls the hook once per flushed batch, so the delivery's buffering
    # decides when — this value is not used.
    buffer_interval_ms: int = HOOK_INTERVAL_MS[2]

    @classmethod
    def from_section(cls, s: _Section) -> HookConfig:
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
            retries=s.integer("retries", *HOOK_RETRIES, DEFAULT_RETRIES),  # type: ignore[arg-type]
            timeout_ms=s.integer("timeout_ms", *HOOK_TIMEOUT_MS, DEFAULT_TIMEOUT_MS),  # type: ignore[arg-type]
            buffer_size_bytes=int(size * MIB),
            buffer_interval_ms=s.integer(  # type: ignore[arg-type]
                "buffer_interval_ms", HOOK_INTERVAL_MS[0], HOOK_INTERVAL_MS[1],
                HOOK_INTERVAL_MS[2]),
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
    def from_section(cls, s: _Section, *, partitioning: bool) -> ProcessingConfig:
        query = None
        if s.has("metadata_extraction"):
            m = s.section("metadata_extraction")
            if not partitioning:
                raise ConfigError(m.path, "only for an S3 destination with dynamic partitioning")
            query = m.string("query")
            MetadataExtractor(query, field=m.name("query"))  # compiled now: errors name it
            engine = m.string("json_parsing_engine", "JQ-1.6")
            if engine != "JQ-1.6":
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


@dataclass(frozen=True, slots=True)
class DynamicPartitioningConfig:
    enabled: bool = False
    max_active_partitions: int = DEFAULT_MAX_ACTIVE_PARTITIONS

    @classmethod
    def from_section(cls, s: _Section) -> DynamicPartitioningConfig:
        enabled = s.get("enabled")
        if not isinstance(enabled, bool):
            raise ConfigError(s.name("enabled"), f"true or false, got {enabled!r}")
        config = cls(enabled, s.integer(  # type: ignore[arg-type]
            "max_active_partitions", *MAX_ACTIVE_PARTITIONS, DEFAULT_MAX_ACTIVE_PARTITIONS))
        s.done()
        return config


@dataclass(frozen=True, slots=True)
class SourceBackupConfig:
    """Every source record, unchanged, to a second bucket/prefix (Firehose S3BackupMode
    Enabled)."""

    bucket: str
    prefix: str = "source/"
    compression: CompressionFormat = CompressionFormat.GZIP
    ensure_bucket: bool = False

    @classmethod
    def from_section(cls, s: _Section) -> SourceBackupConfig:
        config = cls(
            bucket=_bucket(s, "bucket"),
            prefix=_prefix(s, "prefix", "source/"),
            compression=_compression(s, CompressionFormat.GZIP),
            ensure_bucket=bool(s.get("ensure_bucket")),
        )
        s.done()
        try:
            compile_prefixes(config.prefix, None)
        except ConfigError as exc:
            raise ConfigError(s.name("prefix"), str(exc)) from None
        return config


@dataclass(frozen=True, slots=True)
class S3Config:
    bucket: str
    prefix: str = ""
    compression: CompressionFormat = CompressionFormat.GZIP
    error_output_prefix: str | None = None  # permanent failures go here (same bucket)
    ensure_bucket: bool = False
    buffering: BufferingHints = field(default_factory=BufferingHints)
    retry: RetryOptions = field(default_factory=RetryOptions)
    multipart_threshold_mb: int = MULTIPART_THRESHOLD_MB[2]
    data_format_conversion: DataFormatConversionConfig | None = None
    processing: ProcessingConfig | None = None
    dynamic_partitioning: DynamicPartitioningConfig | None = None
    source_backup: SourceBackupConfig | None = None

    @property
    def partitioning_enabled(self) -> bool:
        return self.dynamic_partitioning is not None and self.dynamic_partitioning.enabled

    @classmethod
    def from_section(cls, s: _Section) -> S3Config:
        partitioning = DynamicPartitioningConfig.from_section(
            s.section("dynamic_partitioning")) if s.has("dynamic_partitioning") else None
        enabled = partitioning is not None and partitioning.enabled
        conversion = DataFormatConversionConfig.from_section(
            s.section("data_format_conversion")) if s.has("data_format_conversion") else None
        # Firehose: with format conversion the S3 CompressionFormat must be UNCOMPRESSED (the
        # serializer compresses inside the file); left unset, that is the default then.
        compression = _compression(
            s, CompressionFormat.UNCOMPRESSED if conversion else CompressionFormat.GZIP)
        if conversion is not None and compression is not CompressionFormat.UNCOMPRESSED:
            raise ConfigError(
                s.name("compression"),
                f"must be UNCOMPRESSED with data_format_conversion (Parquet compresses inside"
                f" the file: set data_format_conversion.compression), got {compression.value!r}",
            )
        config = cls(
            processing=ProcessingConfig.from_section(s.section("processing"),
                                                     partitioning=enabled)
            if s.has("processing") else None,
            dynamic_partitioning=partitioning,
            source_backup=SourceBackupConfig.from_section(s.section("source_backup"))
            if s.has("source_backup") else None,
            bucket=_bucket(s, "bucket"),
            prefix=_prefix(s, "prefix"),
            compression=compression,
            error_output_prefix=_prefix(s, "error_output_prefix") if s.has(
                "error_output_prefix") else None,
            ensure_bucket=bool(s.get("ensure_bucket")),
            buffering=_buffering(s.section("buffering"), S3_SIZE_MB),
            retry=_retry(s.section("retry")),
            multipart_threshold_mb=s.integer(  # type: ignore[arg-type]
                "multipart_threshold_mb", MULTIPART_THRESHOLD_MB[0], MULTIPART_THRESHOLD_MB[1],
                MULTIPART_THRESHOLD_MB[2]),
            data_format_conversion=conversion,
        )
        s.done()
        try:  # Firehose's prefix rules, checked now rather than at the first delivery
            prefixes = compile_prefixes(config.prefix, config.error_output_prefix,
                                        dynamic_partitioning=enabled)
        except ConfigError as exc:
            key = "prefix" if exc.field == "Prefix" else "error_output_prefix"
            raise ConfigError(s.name(key), exc.message) from None
        used = {namespace for namespace, _ in prefixes.prefix.partition_keys}
        if enabled and not used:
            raise ConfigError(s.name("prefix"), "dynamic partitioning needs a prefix using"
                              " !{partitionKeyFromQuery:…} or !{partitionKeyFromLambda:…}")
        processing = config.processing or ProcessingConfig()
        if "partitionKeyFromQuery" in used and processing.metadata_extraction_query is None:
            raise ConfigError(s.name("processing.metadata_extraction.query"),
                              "is required: the prefix uses !{partitionKeyFromQuery:…}")
        if "partitionKeyFromLambda" in used and processing.hook is None:
            raise ConfigError(s.name("processing.hook"),
                              "is required: the prefix uses !{partitionKeyFromLambda:…}")
        return config


class S3BackupMode(StrEnum):
    """Firehose's S3BackupMode of a search destination."""

    FAILED_DOCUMENTS_ONLY = "FailedDocumentsOnly"
    ALL_DOCUMENTS = "AllDocuments"  # every source record is also written to the backup


@dataclass(frozen=True, slots=True)
class S3BackupConfig:
    """Where Elasticsearch's failed documents go (Firehose's S3BackupMode): with
    ``AllDocuments``, every source record is written there too, under ``<prefix>``, and the
    failed documents under ``<prefix>AmazonOpenSearchService-failed/`` as always."""

    bucket: str
    prefix: str = "es-failed/"
    compression: CompressionFormat = CompressionFormat.GZIP
    ensure_bucket: bool = False
    mode: S3BackupMode = S3BackupMode.FAILED_DOCUMENTS_ONLY

    @classmethod
    def from_section(cls, s: _Section) -> S3BackupConfig:
        mode = s.string("mode", S3BackupMode.FAILED_DOCUMENTS_ONLY.value)
        try:
            backup_mode = S3BackupMode(mode)
        except ValueError:
            choices = ", ".join(m.value for m in S3BackupMode)
            raise ConfigError(s.name("mode"), f"one of {choices}, got {mode!r}") from None
        config = cls(
            mode=backup_mode,
            bucket=_bucket(s, "bucket"),
            prefix=_prefix(s, "prefix", "es-failed/"),
            compression=_compression(s, CompressionFormat.GZIP),
            ensure_bucket=bool(s.get("ensure_bucket")),
        )
        s.done()
        return config


@dataclass(frozen=True, slots=True)
class ElasticsearchConfig:
    index: str
    document_id: DocumentIdStrategy = DocumentIdStrategy.OFFSET
    # document_id: field — the top-level JSON field holding each document's id
    document_id_field: str | None = None
    index_rotation_period: IndexRotationPeriod = DEFAULT_INDEX_ROTATION
    buffering: BufferingHints = field(default_factory=BufferingHints)
    retry: RetryOptions = field(default_factory=RetryOptions)
    s3_backup: S3BackupConfig | None = None
    processing: ProcessingConfig | None = None

    @classmethod
    def from_section(cls, s: _Section) -> ElasticsearchConfig:
        index_key = s.alias("index", "IndexName") or "index"
        index = s.string(index_key)
        lo, hi = INDEX_NAME_LENGTH
        if not lo <= len(index) <= hi:
            raise ConfigError(
                s.name(index_key), f"must be {lo} to {hi} characters, got {len(index)}"
            )
        if index != index.lower() or index.startswith(("-", "_", "+")) or any(
            c in index for c in ' "*\\<|,>/?#:'
        ):
            raise ConfigError(s.name(index_key), f"not a valid index name: {index!r}")
        rotation = _rotation(s)
        strategy = s.string("document_id", DocumentIdStrategy.OFFSET.value)
        try:
            document_id = DocumentIdStrategy(strategy)
        except ValueError:
            choices = ", ".join(d.value for d in DocumentIdStrategy)
            raise ConfigError(
                s.name("document_id"), f"one of {choices}, got {strategy!r}"
            ) from None
        id_field = None
        if document_id is DocumentIdStrategy.FIELD:
            id_field = s.string("document_id_field")
            if not id_field:
                raise ConfigError(s.name("document_id_field"), "must not be empty")
        elif s.has("document_id_field"):
            raise ConfigError(s.name("document_id_field"),
                              f"only with document_id: field, not {document_id.value!r}")
        config = cls(
            index=index,
            document_id=document_id,
            document_id_field=id_field,
            index_rotation_period=rotation,
            buffering=_buffering(s.section("buffering"), ES_SIZE_MB),
            retry=_retry(s.section("retry")),
            s3_backup=S3BackupConfig.from_section(s.section("s3_backup")) if s.has(
                "s3_backup") else None,
            processing=ProcessingConfig.from_section(s.section("processing"),
                                                     partitioning=False)
            if s.has("processing") else None,
        )
        s.done()
        return config


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """One delivery stream: ``topic`` → exactly one of ``s3`` / ``elasticsearch``.

    ``max_buffered_mb``: memory the delivery may hold — buffered, cut and being sent, and
    librdkafka's pre-fetch — before it pauses its partitions and cuts its largest buffers
    early. ``shutdown_timeout_ms`` (``shutdown_timeout_seconds``): on SIGTERM, how long to
    flush what is buffered; what is not delivered by then is abandoned uncommitted.
    """

    name: str
    topic: str
    destination: S3Config | ElasticsearchConfig
    group: str = ""
    auto_offset_reset: str = "earliest"
    max_buffered_mb: int = MAX_BUFFERED_MB[2]
    shutdown_timeout_ms: int = SHUTDOWN_TIMEOUT_S[2] * 1000

    @property
    def max_buffered_bytes(self) -> int:
        return self.max_buffered_mb * MIB

    @property
    def group_id(self) -> str:
        return self.group or GROUP_PREFIX + self.name

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], path: str = "") -> DeliveryConfig:
        s = _Section(data, path)
        name = s.string("name")
        if not _NAME.match(name):
            raise ConfigError(s.name("name"), f"1-64 of [A-Za-z0-9_.-], got {name!r}")
        topic = s.string("topic")
        if not _TOPIC.match(topic):
            raise ConfigError(s.name("topic"), f"not a valid topic name: {topic!r}")
        reset = s.string("auto_offset_reset", "earliest")
        if reset not in ("earliest", "latest"):
            raise ConfigError(s.name("auto_offset_reset"), f"earliest or latest, got {reset!r}")
        kinds = [k for k in ("s3", "elasticsearch") if s.has(k)]
        if len(kinds) != 1:
            raise ConfigError(s.name("s3"), "set exactly one destination: s3 or elasticsearch")
        destination: S3Config | ElasticsearchConfig
        if kinds[0] == "s3":
            destination = S3Config.from_section(s.section("s3"))
        else:
            destination = ElasticsearchConfig.from_section(s.section("elasticsearch"))
        max_buffered_mb = s.integer("max_buffered_mb", *MAX_BUFFERED_MB)
        assert max_buffered_mb is not None
        size_mb = -(-destination.buffering.size_bytes // MIB)
        if max_buffered_mb < size_mb:
            raise ConfigError(
                s.name("max_buffered_mb"),
                f"must be at least the buffering size ({size_mb} MB), got {max_buffered_mb}",
            )
        timeout_key = s.alias("shutdown_timeout_seconds", "shutdown_timeout_ms")
        if timeout_key == "shutdown_timeout_ms":
            shutdown_ms = s.integer(timeout_key, 0, SHUTDOWN_TIMEOUT_S[1] * 1000)
        elif timeout_key is not None:
            shutdown_ms = s.integer(timeout_key, *SHUTDOWN_TIMEOUT_S[:2]) * 1000  # type: ignore[operator]
        else:
            shutdown_ms = SHUTDOWN_TIMEOUT_S[2] * 1000
        assert shutdown_ms is not None
        config = cls(name=name, topic=topic, destination=destination,
                     group=s.string("group", ""), auto_offset_reset=reset,
                     max_buffered_mb=max_buffered_mb, shutdown_timeout_ms=shutdown_ms)
        s.done()
        return config


def _delivery(data: Any, path: str = "") -> DeliveryConfig:
    """One delivery in either layout: Shardline's, or Firehose's (translated)."""
    from connectors.firehose_layout import delivery_from_firehose, is_firehose_layout

    if is_firehose_layout(data):
        return delivery_from_firehose(data, path)
    return DeliveryConfig.from_mapping(data, path)


def load_deliveries(source: Path | str | Mapping[str, Any]) -> list[DeliveryConfig]:
    """Deliveries from a YAML, TOML or JSON file (or an already-parsed mapping).

    The document is either one delivery, or ``deliveries:`` with a list of them; each delivery
    is in Shardline's layout or in Firehose's (``DeliveryStreamName`` at the top, or
    describe-delivery-stream's ``DeliveryStreamDescription``).
    """
    data: Any = source if isinstance(source, Mapping) else load_document(Path(source))
    if isinstance(data, Mapping) and "deliveries" in data:
        if set(data) != {"deliveries"}:
            extra = sorted(set(data) - {"deliveries"})[0]
            raise ConfigError(extra, "unknown setting next to 'deliveries'")
        items = data["deliveries"]
        if not isinstance(items, list) or not items:
            raise ConfigError("deliveries", "expected a non-empty list")
        configs = [_delivery(item, f"deliveries[{i}]") for i, item in enumerate(items)]
        names = [c.name for c in configs]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise ConfigError(f"deliveries[{i}].name", f"duplicate delivery name {n!r}")
        return configs
    return [_delivery(data)]
