"""Firehose destination configurations (or descriptions) → Shardline's ``s3:`` /
``elasticsearch:`` sections. See ``docs/delivery.md`` for the table of fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.firehose_layout.processing import translate_processing
from connectors.firehose_layout.reader import Node, Translation
from ground.errors import ConfigError

__all__ = ["ExtensionOptions", "bucket_from_arn", "translate_elasticsearch", "translate_s3"]

_BUCKET_ARN = re.compile(r"^arn:[^:]+:s3:::([^/]+)$")
NO_ROLE = "IAM roles do not apply"
NO_LOGS = "Shardline logs through Python logging and exports Prometheus metrics"
NO_ENDPOINT = "endpoints and credentials come from SHARDLINE_* settings"
NO_VPC = "networking is the local stack's"
NO_BACKUP_BUFFERING = "the backup is written batch by batch with the destination"
UTC_ZONES = ("", "UTC", "Etc/UTC")
FIREHOSE_DEFAULT_COMPRESSION = "UNCOMPRESSED"
FIREHOSE_DEFAULT_ROTATION = "OneDay"
DOCUMENT_IDS = {"FIREHOSE_DEFAULT": "offset", "NO_DOCUMENT_ID": "none"}
# DataFormatConversionConfiguration's SerDe options → data_format_conversion keys
OPENX_JSON_SERDE = {
    "CaseInsensitive": "case_insensitive",
    "ConvertDotsInJsonKeysToUnderscores": "convert_dots_in_json_keys_to_underscores",
    "ColumnToJsonKeyMappings": "column_to_json_key_mappings",
}
PARQUET_SERDE = {
    "EnableDictionaryCompression": "enable_dictionary_compression",
    "PageSizeBytes": "page_size_bytes",
    "WriterVersion": "writer_version",
}


@dataclass(frozen=True, slots=True)
class ExtensionOptions:
    """What the document's ``Shardline:`` block adds to the destination."""

    functions: Mapping[str, str]
    ensure_buckets: bool | None = None
    document_id: tuple[str, str] | None = None  # (value, path)
    document_id_field: tuple[str, str] | None = None  # (value, path)
    max_active_partitions: tuple[int, str] | None = None
    multipart_threshold_mb: tuple[int, str] | None = None


def bucket_from_arn(node: Node, key: str) -> str:
    arn = node.string(key, required=True)
    assert arn is not None
    match = _BUCKET_ARN.match(arn)
    if match is None:
        raise ConfigError(node.name(key), f"expected arn:aws:s3:::<bucket>, got {arn!r}")
    return match.group(1)


def _buffering(node: Node | None, tr: Translation, target: str) -> None:
    if node is None:
        return
    tr.section(f"{target}.buffering", node.path)
    for key, to in (("SizeInMBs", "size_mb"), ("IntervalInSeconds", "interval_seconds")):
        if node.has(key):
            tr.put(f"{target}.buffering.{to}", node.get(key), node.name(key))
    node.done()


def _encryption(node: Node | None, tr: Translation, target: str) -> None:
    """``EncryptionConfiguration``: ``NoEncryptionConfig: NoEncryption`` writes objects as
    the bucket encrypts them by default; ``KMSEncryptionConfig.AWSKMSKeyARN`` writes them
    with SSE-KMS under that key (``<target>.encryption``)."""
    if node is None:
        return
    none = node.string("NoEncryptionConfig")
    if none not in (None, "NoEncryption"):
        raise ConfigError(node.name("NoEncryptionConfig"), f"NoEncryption, got {none!r}")
    kms = node.node("KMSEncryptionConfig")
    if kms is not None:
        if none is not None:
            raise ConfigError(node.name("KMSEncryptionConfig"),
                              "set NoEncryptionConfig or KMSEncryptionConfig, not both")
        arn = kms.string("AWSKMSKeyARN", required=True)
        kms.done()
        tr.section(f"{target}.encryption", kms.path)
        tr.put(f"{target}.encryption.mode", "SSE-KMS", kms.name("AWSKMSKeyARN"))
        tr.put(f"{target}.encryption.kms_key_arn", arn, kms.name("AWSKMSKeyARN"))
    node.done()


def _common_s3(node: Node, tr: Translation, target: str) -> None:
    node.ignore(tr, NO_ROLE, "RoleARN")
    node.ignore(tr, NO_LOGS, "CloudWatchLoggingOptions")
    _encryption(node.node("EncryptionConfiguration"), tr, target)


def _backup_location(node: Node, tr: Translation, target: str, *, ensure: bool | None) -> None:
    """An S3DestinationConfiguration used as a backup: bucket, prefix, compression."""
    tr.section(target, node.path)
    tr.put(f"{target}.bucket", bucket_from_arn(node, "BucketARN"), node.name("BucketARN"))
    tr.put(f"{target}.prefix", node.string("Prefix") or "", node.name("Prefix"))
    compression = node.string("CompressionFormat") or FIREHOSE_DEFAULT_COMPRESSION
    tr.put(f"{target}.compression", compression, node.name("CompressionFormat"))
    node.reject("an ErrorOutputPrefix for a backup is not supported", "ErrorOutputPrefix")
    node.ignore(tr, NO_BACKUP_BUFFERING, "BufferingHints")
    _common_s3(node, tr, target)
    if ensure is not None:
        tr.put(f"{target}.ensure_bucket", ensure, "Shardline.EnsureBuckets")
    node.done()


def translate_s3(node: Node, tr: Translation, ext: ExtensionOptions, *, extended: bool,
                 description: bool) -> None:
    """``(Extended)S3Destination{Configuration,Description}`` → ``s3:``."""
    target = "s3"
    tr.section(target, node.path)
    tr.put("s3.bucket", bucket_from_arn(node, "BucketARN"), node.name("BucketARN"))
    tr.put("s3.prefix", node.string("Prefix") or "", node.name("Prefix"))
    # Firehose writes errors even without an ErrorOutputPrefix: "" derives it from Prefix.
    tr.put("s3.error_output_prefix", node.string("ErrorOutputPrefix") or "",
           node.name("ErrorOutputPrefix"))
    tr.put("s3.compression", node.string("CompressionFormat") or FIREHOSE_DEFAULT_COMPRESSION,
           node.name("CompressionFormat"))
    _buffering(node.node("BufferingHints"), tr, target)
    _common_s3(node, tr, target)
    if ext.ensure_buckets is not None:
        tr.put("s3.ensure_bucket", ext.ensure_buckets, "Shardline.EnsureBuckets")
    if ext.multipart_threshold_mb is not None:
        value, path = ext.multipart_threshold_mb
        tr.put("s3.multipart_threshold_mb", value, path)
    if extended:
        _extended_s3(node, tr, ext, description=description)
    node.done()


def _extended_s3(node: Node, tr: Translation, ext: ExtensionOptions, *, description: bool) -> None:
    node.reject("Shardline names objects deterministically (no file extension)", "FileExtension")
    zone = node.string("CustomTimeZone")
    if zone not in (None, *UTC_ZONES):
        raise ConfigError(node.name("CustomTimeZone"),
                          f"prefix timestamps are UTC only, got {zone!r}")
    processing = node.node("ProcessingConfiguration")
    if processing is not None:
        translate_processing(processing, tr, "s3", ext.functions)
    dynamic = node.node("DynamicPartitioningConfiguration")
    if dynamic is not None:
        _dynamic_partitioning(dynamic, tr, ext)
    conversion = node.node("DataFormatConversionConfiguration")
    if conversion is not None:
        _format_conversion(conversion, tr)
    mode = node.choice("S3BackupMode", ("Disabled", "Enabled"), "Disabled")
    backup_key = "S3BackupDescription" if description else "S3BackupConfiguration"
    backup = node.node(backup_key)
    if mode == "Enabled":
        if backup is None:
            raise ConfigError(node.name(backup_key), "is required with S3BackupMode Enabled")
        _backup_location(backup, tr, "s3.source_backup", ensure=None)
    elif backup is not None:
        tr.notice(backup.path, "S3BackupMode is Disabled")


def _dynamic_partitioning(node: Node, tr: Translation, ext: ExtensionOptions) -> None:
    enabled = node.boolean("Enabled", False)
    tr.section("s3.dynamic_partitioning", node.path)
    tr.put("s3.dynamic_partitioning.enabled", enabled, node.name("Enabled"))
    if ext.max_active_partitions is not None:
        value, path = ext.max_active_partitions
        tr.put("s3.dynamic_partitioning.max_active_partitions", value, path)
    retry = node.node("RetryOptions")
    if retry is not None:
        if retry.has("DurationInSeconds"):
            tr.put("s3.retry.duration_seconds", retry.get("DurationInSeconds"),
                   retry.name("DurationInSeconds"))
        retry.done()
    node.done()


def _format_conversion(node: Node, tr: Translation) -> None:
    if not node.boolean("Enabled", True):
        tr.notice(node.path, "Enabled is false")
        node.accept("SchemaConfiguration", "InputFormatConfiguration",
                    "OutputFormatConfiguration")
        node.done()
        return
    base = "s3.data_format_conversion"
    tr.section(base, node.path)
    schema = node.node("SchemaConfiguration")
    if schema is None:
        raise ConfigError(node.name("SchemaConfiguration"), "is required")
    tr.put(f"{base}.schema", schema.string("TableName", required=True), schema.name("TableName"))
    schema.ignore(tr, "the schema is looked up by TableName (schema folder, registry "
                  "subject, bundled)", "RoleARN", "CatalogId", "DatabaseName", "Region",
                  "VersionId")
    schema.done()
    inp = node.node("InputFormatConfiguration")
    if inp is not None:
        deserializer = inp.node("Deserializer")
        if deserializer is not None:
            _deserializer(deserializer, tr, base)
        inp.done()
    out = node.node("OutputFormatConfiguration")
    if out is None:
        raise ConfigError(node.name("OutputFormatConfiguration"), "is required")
    serializer = out.node("Serializer")
    if serializer is None:
        raise ConfigError(out.name("Serializer"), "is required")
    serializer.reject("ORC output is not supported (Parquet only)", "OrcSerDe")
    parquet = serializer.node("ParquetSerDe")
    if parquet is None:
        raise ConfigError(serializer.name("ParquetSerDe"), "is required (Parquet only)")
    tr.put(f"{base}.output_format", "PARQUET", serializer.name("ParquetSerDe"))
    tr.put(f"{base}.compression", parquet.string("Compression") or "SNAPPY",
           parquet.name("Compression"))
    for key, to in PARQUET_SERDE.items():
        if parquet.has(key):
            tr.put(f"{base}.{to}", parquet.get(key), parquet.name(key))
    parquet.ignore(tr, "pyarrow sizes row groups by the batch", "BlockSizeBytes",
                   "MaxPaddingBytes")
    parquet.done()
    serializer.done()
    out.done()
    node.done()


def _deserializer(node: Node, tr: Translation, base: str) -> None:
    """OpenXJsonSerDe's options are Shardline's JSON reader's; HiveJsonSerDe's are not."""
    openx = node.node("OpenXJsonSerDe")
    if openx is not None:
        for key, to in OPENX_JSON_SERDE.items():
            if openx.has(key):
                tr.put(f"{base}.{to}", openx.get(key), openx.name(key))
        openx.done()
    hive = node.node("HiveJsonSerDe")
    if hive is not None:
        hive.reject("not supported: records are read as OpenXJsonSerDe reads them",
                    "TimestampFormats")
        hive.done()
    node.done()


def translate_elasticsearch(node: Node, tr: Translation, ext: ExtensionOptions, *,
                            serverless: bool, description: bool) -> None:
    """``Elasticsearch`` / ``Amazonopensearchservice`` / ``AmazonOpenSearchServerless``
    destination configuration (or description) → ``elasticsearch:``."""
    target = "elasticsearch"
    tr.section(target, node.path)
    tr.put(f"{target}.index", node.string("IndexName", required=True), node.name("IndexName"))
    if serverless:  # collections have no rotation
        tr.put(f"{target}.index_rotation_period", "NoRotation", node.path)
    else:
        tr.put(f"{target}.index_rotation_period",
               node.string("IndexRotationPeriod") or FIREHOSE_DEFAULT_ROTATION,
               node.name("IndexRotationPeriod"))
        type_name = node.string("TypeName")
        if type_name not in (None, "", "_doc"):
            raise ConfigError(node.name("TypeName"),
                              f"mapping types are gone since Elasticsearch 7, got {type_name!r}")
    _buffering(node.node("BufferingHints"), tr, target)
    retry = node.node("RetryOptions")
    if retry is not None:
        tr.section(f"{target}.retry", retry.path)
        if retry.has("DurationInSeconds"):
            tr.put(f"{target}.retry.duration_seconds", retry.get("DurationInSeconds"),
                   retry.name("DurationInSeconds"))
        retry.done()
    if not serverless:
        _document_id(node, tr)
    if ext.document_id is not None:
        value, path = ext.document_id
        tr.put(f"{target}.document_id", value, path)
    if ext.document_id_field is not None:
        value, path = ext.document_id_field
        tr.put(f"{target}.document_id_field", value, path)
    mode = node.choice("S3BackupMode", ("FailedDocumentsOnly", "AllDocuments"),
                       "FailedDocumentsOnly")
    s3_key = "S3DestinationDescription" if description else "S3Configuration"
    s3 = node.node(s3_key)
    if s3 is not None:
        _backup_location(s3, tr, f"{target}.s3_backup", ensure=ext.ensure_buckets)
        tr.put(f"{target}.s3_backup.mode", mode, node.name("S3BackupMode"))
    elif mode == "AllDocuments":
        raise ConfigError(node.name(s3_key), "is required with S3BackupMode AllDocuments")
    processing = node.node("ProcessingConfiguration")
    if processing is not None:
        translate_processing(processing, tr, target, ext.functions)
    node.ignore(tr, NO_ROLE, "RoleARN")
    node.ignore(tr, NO_LOGS, "CloudWatchLoggingOptions")
    node.ignore(tr, NO_ENDPOINT, "DomainARN", "ClusterEndpoint", "CollectionEndpoint")
    node.ignore(tr, NO_VPC, "VpcConfiguration", "VpcConfigurationDescription")
    node.done()


def _document_id(node: Node, tr: Translation) -> None:
    options = node.node("DocumentIdOptions")
    if options is None:
        return
    value = options.choice("DefaultDocumentIdFormat", tuple(DOCUMENT_IDS), "FIREHOSE_DEFAULT")
    tr.put("elasticsearch.document_id", DOCUMENT_IDS[value],
           options.name("DefaultDocumentIdFormat"))
    options.done()
