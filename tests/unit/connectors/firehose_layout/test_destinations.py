"""Firehose's S3 and OpenSearch/Elasticsearch destination configurations → ``s3:`` /
``elasticsearch:``, with errors in Firehose's names."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from connectors.elasticsearch import (
    DocumentIdStrategy,
    ElasticsearchConfig,
    IndexRotationPeriod,
    S3BackupMode,
)
from connectors.firehose_layout import delivery_from_firehose, translate
from connectors.s3 import CompressionFormat, S3Config
from ground.errors import ConfigError

ROLE = "arn:aws:iam::123456789012:role/firehose"


S3 = "ExtendedS3DestinationConfiguration"


OS = "AmazonopensearchserviceDestinationConfiguration"


def s3_stream(**dest: Any) -> dict[str, Any]:
    return {
        "DeliveryStreamName": "ticks-s3",
        "DeliveryStreamType": "MSKAsSource",
        "MSKSourceConfiguration": {"MSKClusterARN": "arn:aws:kafka:::cluster/x",
                                   "TopicName": "ticks"},
        S3: {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::out", **dest},
    }


def os_stream(key: str = OS, **dest: Any) -> dict[str, Any]:
    return {
        "DeliveryStreamName": "ticks-es",
        "Shardline": {"Topic": "ticks"},
        key: {"RoleARN": ROLE, "IndexName": "ticks", **dest},
    }


def error_of(doc: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        delivery_from_firehose(doc)
    return str(info.value)


def _extended() -> dict[str, Any]:
    lam = "arn:aws:lambda:us-east-1:123456789012:function:enrich:$LATEST"
    return s3_stream(
        Prefix="data/!{partitionKeyFromQuery:customer}/",
        ErrorOutputPrefix="errors/!{firehose:error-output-type}/",
        ProcessingConfiguration={"Enabled": True, "Processors": [
            {"Type": "RecordDeAggregation", "Parameters": [
                {"ParameterName": "SubRecordType", "ParameterValue": "DELIMITED"},
                {"ParameterName": "Delimiter",
                 "ParameterValue": base64.b64encode(b"||").decode()}]},
            {"Type": "Lambda", "Parameters": [
                {"ParameterName": "LambdaArn", "ParameterValue": lam},
                {"ParameterName": "NumberOfRetries", "ParameterValue": "5"},
                {"ParameterName": "BufferSizeInMBs", "ParameterValue": "0.5"},
                {"ParameterName": "BufferIntervalInSeconds", "ParameterValue": "120"},
                {"ParameterName": "RoleArn", "ParameterValue": ROLE}]},
            {"Type": "MetadataExtraction", "Parameters": [
                {"ParameterName": "MetadataExtractionQuery",
                 "ParameterValue": "{customer: .customer_id}"},
                {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]},
            {"Type": "AppendDelimiterToRecord"},
        ]},
        DynamicPartitioningConfiguration={"Enabled": True,
                                          "RetryOptions": {"DurationInSeconds": 600}},
        DataFormatConversionConfiguration={
            "Enabled": True,
            "SchemaConfiguration": {"RoleARN": ROLE, "DatabaseName": "db", "TableName": "ticker",
                                    "Region": "us-east-1", "VersionId": "LATEST"},
            "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
            "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {
                "Compression": "GZIP", "BlockSizeBytes": 268435456}}},
        },
        S3BackupMode="Enabled",
        S3BackupConfiguration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::raw",
                               "Prefix": "source/", "CompressionFormat": "GZIP"},
    )


# -- S3 ---------------------------------------------------------------------------------------

def test_extended_s3_translates_to_the_shardline_mapping() -> None:
    doc = s3_stream(Prefix="raw/", ErrorOutputPrefix="err/!{firehose:error-output-type}/",
                    CompressionFormat="Snappy",
                    BufferingHints={"SizeInMBs": 64, "IntervalInSeconds": 0},
                    CloudWatchLoggingOptions={"Enabled": True},
                    EncryptionConfiguration={"NoEncryptionConfig": "NoEncryption"})
    tr = translate(doc)
    assert tr.mapping == {
        "name": "ticks-s3",
        "topic": "ticks",
        "s3": {
            "bucket": "out",
            "prefix": "raw/",
            "error_output_prefix": "err/!{firehose:error-output-type}/",
            "compression": "Snappy",
            "buffering": {"size_mb": 64, "interval_seconds": 0},
        },
    }
    assert sorted(n.split(":")[0] for n in tr.notices) == [
        f"{S3}.CloudWatchLoggingOptions", f"{S3}.RoleARN", "MSKSourceConfiguration.MSKClusterARN"]
    cfg = delivery_from_firehose(doc)
    assert cfg.destination == S3Config(
        bucket="out", prefix="raw/", compression=CompressionFormat.SNAPPY,
        error_output_prefix="err/!{firehose:error-output-type}/",
        buffering=cfg.destination.buffering,
    )
    assert (cfg.destination.buffering.size_bytes, cfg.destination.buffering.interval_ms) == (
        64 * 1024 * 1024, 0)


def test_firehose_defaults_are_firehose_s_not_shardline_s() -> None:
    cfg = delivery_from_firehose(s3_stream())
    assert isinstance(cfg.destination, S3Config)
    assert cfg.destination.compression is CompressionFormat.UNCOMPRESSED  # Shardline: GZIP
    assert cfg.destination.error_output_prefix == ""  # errors still written, under Prefix


@pytest.mark.parametrize(("dest", "message"), [
    ({"BufferingHints": {"SizeInMBs": 500}},
     f"{S3}.BufferingHints.SizeInMBs: must be between 1 and 128, got 500"),
    ({"BufferingHints": {"IntervalInSeconds": 901}},
     f"{S3}.BufferingHints.IntervalInSeconds: must be between 0 and 900, got 901"),
    ({"BufferingHints": {"SizeInMB": 5}}, f"{S3}.BufferingHints.SizeInMB: unknown setting"),
    ({"Prefixx": "raw/"}, f"{S3}.Prefixx: unknown setting"),
    ({"BucketARN": "my-bucket"},
     f"{S3}.BucketARN: expected arn:aws:s3:::<bucket>, got 'my-bucket'"),
    ({"BucketARN": "arn:aws:s3:::Bad_Bucket"},
     f"{S3}.BucketARN: not a valid S3 bucket name: 'Bad_Bucket'"),
    ({"CompressionFormat": "BZIP2"}, f"{S3}.CompressionFormat: one of "),
    ({"Prefix": "!{timestamp:yyyy}/"},
     f"{S3}.ErrorOutputPrefix: can't be empty when Prefix contains expressions"),
    ({"Prefix": "raw/!{partitionKeyFromQuery:customer}/", "ErrorOutputPrefix": "err/"},
     f"{S3}.Prefix: !{{partitionKeyFromQuery:customer}} needs dynamic partitioning"),
    ({"Prefix": "/raw"}, f"{S3}.Prefix: must not start with '/'"),
    ({"EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyArn": "arn:k"}}},
     f"{S3}.EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN: is required"),
    ({"FileExtension": ".json.gz"}, f"{S3}.FileExtension: Shardline names objects"),
    ({"CustomTimeZone": "Asia/Tokyo"}, f"{S3}.CustomTimeZone: prefix timestamps are UTC only"),
])
def test_s3_errors_name_the_firehose_field(dest: dict[str, Any], message: str) -> None:
    assert error_of(s3_stream(**dest)).startswith(message)


def test_the_keys_being_added_elsewhere_are_translated() -> None:
    """processing, dynamic_partitioning, data_format_conversion and source_backup: keys the
    other branches add to DeliveryConfig (not accepted by from_mapping yet)."""
    doc = _extended()
    doc["Shardline"] = {"Functions": {"enrich": "mypkg.transforms:handler"},
                        "MaxActivePartitions": 200, "MultipartThresholdMB": 32}
    tr = translate(doc)
    assert tr.mapping["s3"] == {
        "bucket": "out",
        "prefix": "data/!{partitionKeyFromQuery:customer}/",
        "error_output_prefix": "errors/!{firehose:error-output-type}/",
        "compression": "UNCOMPRESSED",
        "multipart_threshold_mb": 32,
        "processing": {
            "deaggregation": {"sub_record_type": "DELIMITED", "delimiter": "||"},
            "hook": {"callable": "mypkg.transforms:handler", "retries": 5,
                     "buffer_size_mb": 0.5, "buffer_interval_ms": 120_000},
            "metadata_extraction": {"query": "{customer: .customer_id}"},
            "append_delimiter": True,
        },
        "dynamic_partitioning": {"enabled": True, "max_active_partitions": 200},
        "retry": {"duration_seconds": 600},
        "data_format_conversion": {"schema": "ticker", "output_format": "PARQUET",
                                   "compression": "GZIP"},
        "source_backup": {"bucket": "raw", "prefix": "source/", "compression": "GZIP"},
    }
    procs = f"{S3}.ProcessingConfiguration.Processors"
    assert tr.paths["s3.processing.hook.retries"] == f"{procs}[1].Parameters[1].ParameterValue"
    assert tr.paths["s3.source_backup.bucket"] == f"{S3}.S3BackupConfiguration.BucketARN"
    assert any("BlockSizeBytes" in n for n in tr.notices)


def test_orc_and_hive_options_are_refused() -> None:
    doc = _extended()
    doc["Shardline"] = {"Functions": {"enrich": "m:f"}}
    conv = doc[S3]["DataFormatConversionConfiguration"]
    conv["OutputFormatConfiguration"]["Serializer"] = {"OrcSerDe": {}}
    assert "Serializer: ORC output is not supported" not in error_of(doc)  # {} is "not set"
    conv["OutputFormatConfiguration"]["Serializer"] = {"OrcSerDe": {"Compression": "ZLIB"}}
    assert error_of(doc).startswith(
        f"{S3}.DataFormatConversionConfiguration.OutputFormatConfiguration.Serializer.OrcSerDe:"
        " ORC output is not supported")
    conv["OutputFormatConfiguration"]["Serializer"] = {"ParquetSerDe": {}}
    conv["InputFormatConfiguration"]["Deserializer"] = {
        "HiveJsonSerDe": {"TimestampFormats": ["yyyy-MM-dd"]}}
    assert error_of(doc).startswith(
        f"{S3}.DataFormatConversionConfiguration.InputFormatConfiguration.Deserializer"
        ".HiveJsonSerDe.TimestampFormats: not supported")


CONVERSION = f"{S3}.DataFormatConversionConfiguration"


OPENX = f"{CONVERSION}.InputFormatConfiguration.Deserializer.OpenXJsonSerDe"


PARQUET = f"{CONVERSION}.OutputFormatConfiguration.Serializer.ParquetSerDe"


def _conversion(openx: dict[str, Any], parquet: dict[str, Any]) -> dict[str, Any]:
    return s3_stream(DataFormatConversionConfiguration={
        "SchemaConfiguration": {"TableName": "ticker"},
        "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": openx}},
        "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": parquet}},
    })


def test_openx_json_and_parquet_serde_options_are_translated() -> None:
    doc = _conversion(
        {"CaseInsensitive": False, "ConvertDotsInJsonKeysToUnderscores": True,
         "ColumnToJsonKeyMappings": {"ticker_symbol": "sym"}},
        {"Compression": "GZIP", "EnableDictionaryCompression": False, "PageSizeBytes": 131072,
         "WriterVersion": "V2", "BlockSizeBytes": 268435456, "MaxPaddingBytes": 0},
    )
    assert translate(doc).mapping["s3"]["data_format_conversion"] == {
        "schema": "ticker", "output_format": "PARQUET", "compression": "GZIP",
        "case_insensitive": False, "convert_dots_in_json_keys_to_underscores": True,
        "column_to_json_key_mappings": {"ticker_symbol": "sym"},
        "enable_dictionary_compression": False, "page_size_bytes": 131072,
        "writer_version": "V2",
    }
    conv = delivery_from_firehose(doc).destination.data_format_conversion  # type: ignore[union-attr]
    assert conv is not None
    assert (conv.case_insensitive, conv.convert_dots_in_json_keys_to_underscores) == (False, True)
    assert conv.column_to_json_key_mappings == (("ticker_symbol", "sym"),)
    assert (conv.enable_dictionary_compression, conv.page_size_bytes) == (False, 131072)
    assert conv.writer_version.value == "V2"


@pytest.mark.parametrize(("openx", "parquet", "message"), [
    ({"ColumnToJsonKeyMappings": {"nope": "x"}}, {},
     f"{OPENX}.ColumnToJsonKeyMappings.nope: no such column in schema 'ticker'"),
    ({"ColumnToJsonKeyMappings": {"price": 3}}, {},
     f"{OPENX}.ColumnToJsonKeyMappings.price: expected a JSON key, got 3"),
    ({"CaseInsensitive": "yes"}, {}, f"{OPENX}.CaseInsensitive: expected true or false"),
    ({}, {"PageSizeBytes": 1024}, f"{PARQUET}.PageSizeBytes: must be at least 65536, got 1024"),
    ({}, {"WriterVersion": "V3"}, f"{PARQUET}.WriterVersion: one of V1, V2, got 'V3'"),
    ({}, {"Compression": "LZO"}, f"{PARQUET}.Compression: one of SNAPPY, GZIP"),
    ({"Typo": 1}, {}, f"{OPENX}.Typo: unknown setting"),
])
def test_serde_errors_name_the_firehose_field(
    openx: dict[str, Any], parquet: dict[str, Any], message: str
) -> None:
    assert error_of(_conversion(openx, parquet)).startswith(message)


def test_an_unknown_schema_is_named_by_its_table_name() -> None:
    doc = _conversion({}, {})
    doc[S3]["DataFormatConversionConfiguration"]["SchemaConfiguration"]["TableName"] = "nosuch"
    assert error_of(doc).startswith(f"{CONVERSION}.SchemaConfiguration.TableName: unknown schema"
                                    " 'nosuch'")


# -- OpenSearch / Elasticsearch ---------------------------------------------------------------

def test_opensearch_translates_with_firehose_defaults() -> None:
    doc = os_stream(DomainARN="arn:aws:es:::domain/x",
                    S3Configuration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::backup"})
    cfg = delivery_from_firehose(doc)
    dest = cfg.destination
    assert isinstance(dest, ElasticsearchConfig)
    assert dest.index == "ticks"
    assert dest.index_rotation_period is IndexRotationPeriod.ONE_DAY  # Firehose's default
    assert dest.document_id is DocumentIdStrategy.OFFSET
    assert dest.s3_backup is not None
    assert (dest.s3_backup.bucket, dest.s3_backup.prefix, dest.s3_backup.compression,
            dest.s3_backup.mode) == ("backup", "", CompressionFormat.UNCOMPRESSED,
                                     S3BackupMode.FAILED_DOCUMENTS_ONLY)
    assert any(n.startswith(f"{OS}.DomainARN: ignored") for n in translate(doc).notices)


@pytest.mark.parametrize("key", ["ElasticsearchDestinationConfiguration", OS])
def test_all_documents_and_no_document_id(key: str) -> None:
    doc = os_stream(key, S3BackupMode="AllDocuments",
                    DocumentIdOptions={"DefaultDocumentIdFormat": "NO_DOCUMENT_ID"},
                    S3Configuration={"BucketARN": "arn:aws:s3:::backup", "Prefix": "all/"})
    dest = delivery_from_firehose(doc).destination
    assert isinstance(dest, ElasticsearchConfig)
    assert dest.document_id is DocumentIdStrategy.NONE
    assert dest.s3_backup is not None and dest.s3_backup.mode is S3BackupMode.ALL_DOCUMENTS
    del doc[key]["S3Configuration"]
    assert error_of(doc) == f"{key}.S3Configuration: is required with S3BackupMode AllDocuments"


def test_serverless_has_no_rotation_and_shardline_can_pick_the_record_key() -> None:
    doc = os_stream("AmazonOpenSearchServerlessDestinationConfiguration",
                    CollectionEndpoint="https://x.aoss.amazonaws.com")
    doc["Shardline"]["DocumentId"] = "record_key"
    dest = delivery_from_firehose(doc).destination
    assert isinstance(dest, ElasticsearchConfig)
    assert dest.index_rotation_period is IndexRotationPeriod.NO_ROTATION
    assert dest.document_id is DocumentIdStrategy.RECORD_KEY
    doc["AmazonOpenSearchServerlessDestinationConfiguration"]["IndexRotationPeriod"] = "OneDay"
    assert error_of(doc).endswith("IndexRotationPeriod: unknown setting")


@pytest.mark.parametrize(("dest", "message"), [
    ({"BufferingHints": {"SizeInMBs": 101}},
     f"{OS}.BufferingHints.SizeInMBs: must be between 1 and 100, got 101"),
    ({"RetryOptions": {"DurationInSeconds": 7201}},
     f"{OS}.RetryOptions.DurationInSeconds: must be between 0 and 7200, got 7201"),
    ({"IndexRotationPeriod": "OneYear"}, f"{OS}.IndexRotationPeriod: one of NoRotation"),
    ({"IndexName": "Ticks"}, f"{OS}.IndexName: not a valid index name: 'Ticks'"),
    ({"TypeName": "tick"}, f"{OS}.TypeName: mapping types are gone"),
    ({"S3BackupMode": "Some"}, f"{OS}.S3BackupMode: one of FailedDocumentsOnly, AllDocuments"),
    ({"DocumentIdOptions": {"DefaultDocumentIdFormat": "CUSTOM"}},
     f"{OS}.DocumentIdOptions.DefaultDocumentIdFormat: one of FIREHOSE_DEFAULT, NO_DOCUMENT_ID"),
    ({"S3Configuration": {"BucketARN": "arn:aws:s3:::b", "ErrorOutputPrefix": "x/"}},
     f"{OS}.S3Configuration.ErrorOutputPrefix: an ErrorOutputPrefix for a backup"),
])
def test_search_errors_name_the_firehose_field(dest: dict[str, Any], message: str) -> None:
    assert error_of(os_stream(**dest)).startswith(message)
