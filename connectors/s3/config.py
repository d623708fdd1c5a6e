"""An S3 delivery's ``s3:`` section, and the destinations built from it.

Firehose's (Extended)S3DestinationConfiguration in Shardline's layout: bucket, ``Prefix`` and
``ErrorOutputPrefix`` (compiled once, here: their rules are checked at start-up and the
destinations reuse them), compression, buffering, retries, record format conversion to
Parquet, processing, dynamic partitioning, the source backup (S3BackupMode ``Enabled``), and
server-side encryption (``encryption``: SSE-S3, or SSE-KMS with a key — Firehose's
``EncryptionConfiguration``). Every error names the exact field, e.g.
``s3.buffering.size_mb: must be between 1 and 128``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from connectors.core.buffer import DEFAULT_SIZE_BYTES, MIB, BufferingHints
from connectors.core.failures import FailureFormatter, format_failure
from connectors.core.registry import DeliveryParts, DestinationConfig
from connectors.core.retry import RetryOptions
from connectors.core.section import Section, read_buffering, read_retry
from connectors.s3.avro_arrow import schema_for
from connectors.s3.buckets import check_buckets, s3_client
from connectors.s3.compression import CompressionFormat
from connectors.s3.conversion_failures import failure_formatter
from connectors.s3.destination import (
    DEFAULT_MULTIPART_THRESHOLD,
    MIN_MULTIPART_THRESHOLD,
    S3Destination,
)
from connectors.s3.json_columns import KeyRules
from connectors.s3.parquet import (
    DEFAULT_PAGE_SIZE_BYTES,
    MIN_PAGE_SIZE_BYTES,
    ParquetCompression,
    ParquetEncoder,
    WriterVersion,
)
from connectors.s3.prefix import Prefix, PrefixPair, compile_prefixes
from connectors.transform.config import ProcessingConfig, build_transform
from connectors.transform.partitioning import DEFAULT_MAX_ACTIVE_PARTITIONS
from ground.errors import ConfigError
from ground.s3 import SSE_S3, ServerSideEncryption, s3_credentials
from ground.settings import Settings
from schemas import codec_for

__all__ = [
    "S3_ERROR_OUTPUT_TYPE",
    "DataFormatConversionConfig",
    "DynamicPartitioningConfig",
    "S3Config",
    "SourceBackupConfig",
    "read_bucket",
    "read_compression",
    "read_encryption",
    "read_prefix",
]

S3_SIZE_MB = (1, 128, DEFAULT_SIZE_BYTES // MIB)  # Firehose SizeInMBs: min, max, default
# Objects this large go up in parts (S3: 5 MiB–5 GiB).
MULTIPART_THRESHOLD_MB = (MIN_MULTIPART_THRESHOLD // MIB, 5120, DEFAULT_MULTIPART_THRESHOLD // MIB)
MAX_ACTIVE_PARTITIONS = (1, 5000)  # Firehose: 500 by default, raisable to 5,000
S3_ERROR_OUTPUT_TYPE = "s3-failed"  # what the error prefix evaluates to for S3's refusals
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def read_bucket(s: Section, key: str) -> str:
    bucket = s.string(key)
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ConfigError(s.name(key), f"not a valid S3 bucket name: {bucket!r}")
    return bucket


def read_prefix(s: Section, key: str, default: str = "") -> str:
    prefix = s.string(key, default)
    if prefix.startswith("/"):
        raise ConfigError(s.name(key), "must not start with '/'")
    return prefix


def read_compression(s: Section, default: CompressionFormat) -> CompressionFormat:
    """``compression``: Firehose's spellings (Snappy, HADOOP_SNAPPY, ...), in any case."""
    return s.enum("compression", CompressionFormat, default)


ENCRYPTION_MODES = ("none", "sse-s3", "sse-kms")


def read_encryption(s: Section) -> ServerSideEncryption | None:
    """``encryption``: ``mode`` ``none`` (the bucket's default encryption applies; Firehose's
    NoEncryption), ``SSE-S3``, or ``SSE-KMS`` with ``kms_key_arn`` (Firehose's
    KMSEncryptionConfig.AWSKMSKeyARN; MinIO: its KMS key name). ``mode`` may be left out
    when ``kms_key_arn`` is given."""
    if not s.has("encryption"):
        return None
    e = s.section("encryption")
    key = e.string("kms_key_arn", "")
    mode = e.string("mode", "sse-kms" if key else "").lower()
    if mode not in ENCRYPTION_MODES:
        raise ConfigError(e.name("mode"), f"one of none, SSE-S3, SSE-KMS, got {mode!r}")
    if key and mode != "sse-kms":
        raise ConfigError(e.name("kms_key_arn"), f"goes with mode SSE-KMS, not {mode!r}")
    if mode == "sse-kms" and not key:
        raise ConfigError(e.name("kms_key_arn"), "is required with mode SSE-KMS")
    e.done()
    if mode == "none":
        return None
    return SSE_S3 if mode == "sse-s3" else ServerSideEncryption("aws:kms", key)


@dataclass(frozen=True, slots=True)
class DataFormatConversionConfig:
    """Firehose's DataFormatConversionConfiguration, JSON → Parquet (OpenX JSON SerDe in,
    ParquetSerDe out; Confluent-framed Avro records are read too). ``schema`` names the table
    schema: a ``.avsc`` of the user's schema folder, a subject of the schema registry (its
    latest version), or a bundled example."""

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
    def from_section(cls, s: Section) -> DataFormatConversionConfig | None:
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
            compression=s.enum("compression", ParquetCompression, ParquetCompression.SNAPPY,
                               upper=True),
            case_insensitive=s.boolean("case_insensitive", True),
            convert_dots_in_json_keys_to_underscores=s.boolean(
                "convert_dots_in_json_keys_to_underscores", False),
            column_to_json_key_mappings=tuple(mappings),
            enable_dictionary_compression=s.boolean("enable_dictionary_compression", True),
            page_size_bytes=s.integer(
                "page_size_bytes", MIN_PAGE_SIZE_BYTES, None, DEFAULT_PAGE_SIZE_BYTES),
            writer_version=s.enum("writer_version", WriterVersion, WriterVersion.V1, upper=True),
        )
        s.done()
        return config if enabled else None

    def encoder(self) -> ParquetEncoder:
        """The body encoder of the delivery's objects."""
        return ParquetEncoder(
            schema_for(self.schema),
            compression=self.compression,
            keys=KeyRules(
                case_insensitive=self.case_insensitive,
                dots_to_underscores=self.convert_dots_in_json_keys_to_underscores,
                mappings=dict(self.column_to_json_key_mappings),
            ),
            enable_dictionary=self.enable_dictionary_compression,
            page_size_bytes=self.page_size_bytes,
            writer_version=self.writer_version,
            schema_name=self.schema,
            avro=codec_for("avro", self.schema),  # Confluent-framed Avro records, too
        )


@dataclass(frozen=True, slots=True)
class DynamicPartitioningConfig:
    enabled: bool = False
    max_active_partitions: int = DEFAULT_MAX_ACTIVE_PARTITIONS

    @classmethod
    def from_section(cls, s: Section) -> DynamicPartitioningConfig:
        enabled = s.get("enabled")
        if not isinstance(enabled, bool):
            raise ConfigError(s.name("enabled"), f"true or false, got {enabled!r}")
        config = cls(enabled, s.integer(
            "max_active_partitions", *MAX_ACTIVE_PARTITIONS, DEFAULT_MAX_ACTIVE_PARTITIONS))
        s.done()
        return config


@dataclass(frozen=True, slots=True)
class SourceBackupConfig:
    """Every source record, unchanged, to a second bucket/prefix (Firehose S3BackupMode
    Enabled). ``compiled_prefix``: ``prefix`` compiled, at construction."""

    bucket: str
    prefix: str = "source/"
    compression: CompressionFormat = CompressionFormat.GZIP
    ensure_bucket: bool = False
    encryption: ServerSideEncryption | None = None
    compiled_prefix: Prefix = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled_prefix", compile_prefixes(self.prefix, None).prefix)

    @classmethod
    def from_section(cls, s: Section) -> SourceBackupConfig:
        bucket = read_bucket(s, "bucket")
        prefix = read_prefix(s, "prefix", "source/")
        compression = read_compression(s, CompressionFormat.GZIP)
        ensure_bucket = bool(s.get("ensure_bucket"))
        encryption = read_encryption(s)
        s.done()
        try:
            return cls(bucket=bucket, prefix=prefix, compression=compression,
                       ensure_bucket=ensure_bucket, encryption=encryption)
        except ConfigError as exc:
            raise ConfigError(s.name("prefix"), str(exc)) from None


@dataclass(frozen=True, slots=True)
class S3Config(DestinationConfig):
    """``s3:``. ``prefixes``: ``prefix`` and ``error_output_prefix`` compiled, at
    construction (a ConfigError naming ``Prefix`` or ``ErrorOutputPrefix``)."""

    section_name: ClassVar[str] = "s3"

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
    encryption: ServerSideEncryption | None = None
    prefixes: PrefixPair = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefixes", compile_prefixes(
            self.prefix, self.error_output_prefix,
            dynamic_partitioning=self.partitioning_enabled))

    @property
    def partitioning_enabled(self) -> bool:
        return self.dynamic_partitioning is not None and self.dynamic_partitioning.enabled

    @classmethod
    def from_section(cls, s: Section) -> S3Config:
        partitioning = DynamicPartitioningConfig.from_section(
            s.section("dynamic_partitioning")) if s.has("dynamic_partitioning") else None
        enabled = partitioning is not None and partitioning.enabled
        conversion = DataFormatConversionConfig.from_section(
            s.section("data_format_conversion")) if s.has("data_format_conversion") else None
        # Firehose: with format conversion the S3 CompressionFormat must be UNCOMPRESSED (the
        # serializer compresses inside the file); left unset, that is the default then.
        compression = read_compression(
            s, CompressionFormat.UNCOMPRESSED if conversion else CompressionFormat.GZIP)
        if conversion is not None and compression is not CompressionFormat.UNCOMPRESSED:
            raise ConfigError(
                s.name("compression"),
                f"must be UNCOMPRESSED with data_format_conversion (Parquet compresses inside"
                f" the file: set data_format_conversion.compression), got {compression.value!r}",
            )
        processing = ProcessingConfig.from_section(
            s.section("processing"), partitioning=enabled) if s.has("processing") else None
        source_backup = SourceBackupConfig.from_section(
            s.section("source_backup")) if s.has("source_backup") else None
        bucket = read_bucket(s, "bucket")
        prefix = read_prefix(s, "prefix")
        error_output_prefix = read_prefix(s, "error_output_prefix") if s.has(
            "error_output_prefix") else None
        ensure_bucket = bool(s.get("ensure_bucket"))
        buffering = read_buffering(s.section("buffering"), S3_SIZE_MB)
        retry = read_retry(s.section("retry"))
        multipart_threshold_mb = s.integer("multipart_threshold_mb", *MULTIPART_THRESHOLD_MB)
        encryption = read_encryption(s)
        s.done()
        try:  # Firehose's prefix rules, checked now rather than at the first delivery
            config = cls(
                bucket=bucket, prefix=prefix, compression=compression,
                error_output_prefix=error_output_prefix, ensure_bucket=ensure_bucket,
                buffering=buffering, retry=retry, multipart_threshold_mb=multipart_threshold_mb,
                data_format_conversion=conversion, processing=processing,
                dynamic_partitioning=partitioning, source_backup=source_backup,
                encryption=encryption,
            )
        except ConfigError as exc:
            key = "prefix" if exc.field == "Prefix" else "error_output_prefix"
            raise ConfigError(s.name(key), exc.message) from None
        used = {namespace for namespace, _ in config.prefixes.prefix.partition_keys}
        if enabled and not used:
            raise ConfigError(s.name("prefix"), "dynamic partitioning needs a prefix using"
                              " !{partitionKeyFromQuery:…} or !{partitionKeyFromLambda:…}")
        processing = processing or ProcessingConfig()
        if "partitionKeyFromQuery" in used and processing.metadata_extraction_query is None:
            raise ConfigError(s.name("processing.metadata_extraction.query"),
                              "is required: the prefix uses !{partitionKeyFromQuery:…}")
        if "partitionKeyFromLambda" in used and processing.hook is None:
            raise ConfigError(s.name("processing.hook"),
                              "is required: the prefix uses !{partitionKeyFromLambda:…}")
        return config

    def build(self, stream: str, settings: Settings) -> DeliveryParts:
        """The bucket's destination; a backup writing the records S3 or the transform
        refused under the error prefix; the source backup; the transform."""
        prefixes = self.prefixes
        multipart = self.multipart_threshold_mb * MIB
        conversion = self.data_format_conversion
        formatter: FailureFormatter = format_failure
        if conversion is not None:
            formatter = failure_formatter(conversion.schema)
        credentials = s3_credentials(settings)  # one set for the three: refreshed once
        destination = S3Destination(
            s3_client(settings, credentials), self.bucket, prefix=prefixes.prefix,
            stream=stream, compression=self.compression, name=f"s3://{self.bucket}",
            multipart_threshold=multipart,
            encoder=conversion.encoder() if conversion is not None else None,
            sse=self.encryption,
        )
        backup = None
        # Records conversion rejects always have somewhere to go: without an
        # ErrorOutputPrefix, Firehose's default <Prefix><error-output-type>/yyyy/MM/dd/HH/.
        if self.error_output_prefix is not None or conversion is not None:
            backup = S3Destination(
                s3_client(settings, credentials), self.bucket,
                prefix=prefixes.error_output_prefix, error_output_type=S3_ERROR_OUTPUT_TYPE,
                stream=stream, compression=self.compression,
                name=f"s3://{self.bucket}/{prefixes.error_output_prefix.text}",
                multipart_threshold=multipart, same_records_suffice=True, sse=self.encryption,
            )
        source_backup = None
        if self.source_backup is not None:
            sb = self.source_backup
            source_backup = S3Destination(
                s3_client(settings, credentials), sb.bucket, prefix=sb.compiled_prefix,
                stream=stream, compression=sb.compression, name=f"s3://{sb.bucket}/{sb.prefix}",
                multipart_threshold=multipart, sse=sb.encryption,
            )
        partitioning = self.dynamic_partitioning
        transform = build_transform(
            self.processing,
            max_active_partitions=partitioning.max_active_partitions
            if partitioning is not None and partitioning.enabled else None,
            required_keys=tuple(name for _, name in prefixes.prefix.partition_keys),
        )
        return DeliveryParts(destination, backup=backup, source_backup=source_backup,
                             format_failure=formatter, transform=transform)

    async def check(self, settings: Settings) -> None:
        buckets = [(self.bucket, self.ensure_bucket, "s3.bucket")]
        if self.source_backup is not None:
            buckets.append((self.source_backup.bucket, self.source_backup.ensure_bucket,
                            "s3.source_backup.bucket"))
        await check_buckets(settings, buckets)
