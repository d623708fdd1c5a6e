"""Delivery streams in Firehose's own layout: translation, validation, errors in its names."""

from __future__ import annotations

import base64
import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from connectors import load_deliveries
from connectors.config import ElasticsearchConfig, S3BackupMode, S3Config
from connectors.elasticsearch import DocumentIdStrategy, IndexRotationPeriod
from connectors.firehose_layout import delivery_from_firehose, is_firehose_layout, translate
from connectors.s3 import CompressionFormat
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


# -- recognising the layout --------------------------------------------------------------


def test_firehose_documents_are_recognised_and_shardline_ones_are_not() -> None:
    assert is_firehose_layout(s3_stream())
    assert is_firehose_layout({"DeliveryStreamDescription": {}})
    assert not is_firehose_layout({"name": "x", "topic": "t", "s3": {"bucket": "b"}})
    assert not is_firehose_layout(["DeliveryStreamName"])


# -- source ------------------------------------------------------------------------------


def test_msk_topic_name_is_the_topic() -> None:
    assert delivery_from_firehose(s3_stream()).topic == "ticks"


def test_the_kinesis_stream_name_is_the_topic() -> None:
    doc = s3_stream()
    del doc["MSKSourceConfiguration"]
    doc["DeliveryStreamType"] = "KinesisStreamAsSource"
    doc["KinesisStreamSourceConfiguration"] = {
        "KinesisStreamARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/clicks",
        "RoleARN": ROLE,
    }
    assert delivery_from_firehose(doc).topic == "clicks"
    doc["KinesisStreamSourceConfiguration"]["KinesisStreamARN"] = "clicks"
    assert error_of(doc).startswith("KinesisStreamSourceConfiguration.KinesisStreamARN: expected")


@pytest.mark.parametrize(("kind", "stray", "its_type"), [
    ("DirectPut", "MSKSourceConfiguration", "MSKAsSource"),
    ("KinesisStreamAsSource", "MSKSourceConfiguration", "MSKAsSource"),
    ("MSKAsSource", "KinesisStreamSourceConfiguration", "KinesisStreamAsSource"),
])
def test_a_source_of_another_stream_type_is_refused(kind: str, stray: str, its_type: str) -> None:
    doc = s3_stream()  # an MSK source
    doc["DeliveryStreamType"] = kind
    if kind != "DirectPut":
        doc["KinesisStreamSourceConfiguration"] = {
            "KinesisStreamARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/clicks"}
    assert error_of(doc) == (
        f"{stray}: only with DeliveryStreamType {its_type}, but DeliveryStreamType is {kind}")


def test_a_source_stream_type_needs_its_source_unless_the_topic_is_given() -> None:
    doc = s3_stream()
    del doc["MSKSourceConfiguration"]
    assert error_of(doc) == ("DeliveryStreamType: MSKAsSource needs its source configuration"
                             " (or set Shardline.Topic)")
    doc["Shardline"] = {"Topic": "ticks"}
    assert delivery_from_firehose(doc).topic == "ticks"


def test_a_description_with_a_source_of_another_type_is_refused() -> None:
    doc = {"DeliveryStreamDescription": {
        "DeliveryStreamName": "d", "DeliveryStreamType": "DirectPut",
        "Source": {"MSKSourceDescription": {"TopicName": "ticks"}},
        "Destinations": [{"DestinationId": "destinationId-000000000001",
                          "ExtendedS3DestinationDescription": {"BucketARN": "arn:aws:s3:::out"}}],
    }}
    assert error_of(doc) == ("DeliveryStreamDescription.Source.MSKSourceDescription: only with"
                             " DeliveryStreamType MSKAsSource, but"
                             " DeliveryStreamDescription.DeliveryStreamType is DirectPut")


def test_direct_put_needs_the_shardline_topic() -> None:
    doc = os_stream()
    del doc["Shardline"]
    assert error_of(doc) == (
        "Shardline.Topic: is required: DeliveryStreamType is DirectPut, which names no Kafka topic")


def test_shardline_topic_overrides_and_bad_topics_are_named_where_they_came_from() -> None:
    doc = s3_stream()
    doc["Shardline"] = {"Topic": "other", "Group": "g1", "AutoOffsetReset": "latest"}
    cfg = delivery_from_firehose(doc)
    assert (cfg.topic, cfg.group_id, cfg.auto_offset_reset) == ("other", "g1", "latest")
    doc["Shardline"]["Topic"] = "bad topic"
    assert error_of(doc) == "Shardline.Topic: not a valid topic name: 'bad topic'"
    doc["Shardline"] = {"AutoOffsetReset": "middle"}
    assert error_of(doc) == "Shardline.AutoOffsetReset: earliest or latest, got 'middle'"


# -- S3 ----------------------------------------------------------------------------------


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
    ({"EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": "arn:k"}}},
     f"{S3}.EncryptionConfiguration.KMSEncryptionConfig: KMS encryption is not supported"),
    ({"FileExtension": ".json.gz"}, f"{S3}.FileExtension: Shardline names objects"),
    ({"CustomTimeZone": "Asia/Tokyo"}, f"{S3}.CustomTimeZone: prefix timestamps are UTC only"),
])
def test_s3_errors_name_the_firehose_field(dest: dict[str, Any], message: str) -> None:
    assert error_of(s3_stream(**dest)).startswith(message)


def test_a_typo_at_the_top_is_named() -> None:
    doc = s3_stream()
    doc["DeliveryStreamTyp"] = "DirectPut"
    assert error_of(doc) == "DeliveryStreamTyp: unknown setting"


def test_other_destinations_are_refused_by_name() -> None:
    doc = s3_stream()
    doc["SplunkDestinationConfiguration"] = {}
    assert error_of(doc) == "SplunkDestinationConfiguration: this destination is not supported"
    doc = s3_stream()
    doc["ElasticsearchDestinationConfiguration"] = {"IndexName": "x"}
    assert error_of(doc).startswith(f"{S3}: set exactly one destination")


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


def test_processing_partitioning_and_source_backup_are_accepted() -> None:
    doc = _extended()
    doc["Shardline"] = {"Functions": {"enrich": "mypkg.transforms:handler"}}
    # A hook that cannot be imported is named by its place in Firehose's layout.
    assert error_of(doc).startswith(
        f"{S3}.ProcessingConfiguration.Processors[1].Parameters[0].ParameterValue: cannot import")
    doc["Shardline"] = {"Functions": {"enrich": "examples.hooks.hooks:enrich"}}
    config = delivery_from_firehose(doc)
    dest = config.destination
    assert isinstance(dest, S3Config)
    assert dest.processing is not None and dest.processing.hook is not None
    assert dest.processing.hook.callable == "examples.hooks.hooks:enrich"
    assert dest.partitioning_enabled and dest.source_backup is not None


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p[1]["Parameters"][0].update(ParameterValue="arn:aws:lambda:us-east-1:1:function:x"),
     "Processors[1].Parameters[0].ParameterValue: no Python callable for"),
    (lambda p: p[1]["Parameters"][1].update(ParameterValue="five"),
     "Processors[1].Parameters[1].ParameterValue: expected an integer, got 'five'"),
    (lambda p: p[0]["Parameters"][1].update(ParameterValue="not base64!"),
     "Processors[0].Parameters[1].ParameterValue: Delimiter must be base64"),
    (lambda p: p[2]["Parameters"][1].update(ParameterValue="JQ-1.5"),
     "Processors[2].Parameters[1].ParameterValue: only JQ-1.6 is supported"),
    (lambda p: p[0]["Parameters"][0].update(ParameterName="LambdaArn"),
     "Processors[0].Parameters[0].ParameterName: RecordDeAggregation takes SubRecordType"),
    (lambda p: p.append({"Type": "Decompression"}),
     "Processors[4].Type: Decompression is not supported"),
    (lambda p: p.append({"Type": "AppendDelimiterToRecord"}),
     "Processors[4].Type: a second AppendDelimiterToRecord processor"),
])
def test_processor_errors_name_the_parameter(change, message: str) -> None:
    doc = _extended()
    doc["Shardline"] = {"Functions": {"enrich": "mypkg.transforms:handler"}}
    change(doc[S3]["ProcessingConfiguration"]["Processors"])
    assert error_of(doc).startswith(f"{S3}.ProcessingConfiguration.{message}")


def test_a_lambda_arn_may_be_the_callable_itself() -> None:
    doc = s3_stream(ProcessingConfiguration={"Processors": [{"Type": "Lambda", "Parameters": [
        {"ParameterName": "LambdaArn", "ParameterValue": "mypkg.mod:func"}]}]})
    assert translate(doc).mapping["s3"]["processing"] == {"hook": {"callable": "mypkg.mod:func"}}


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


# -- OpenSearch / Elasticsearch ----------------------------------------------------------


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


# -- describe-delivery-stream ------------------------------------------------------------


def _describe() -> dict[str, Any]:
    s3 = {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::out", "Prefix": "raw/",
          "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 300},
          "CompressionFormat": "GZIP",
          "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
          "CloudWatchLoggingOptions": {"Enabled": False}}
    return {"DeliveryStreamDescription": {
        "DeliveryStreamName": "ticks-s3",
        "DeliveryStreamARN": "arn:aws:firehose:us-east-1:1:deliverystream/ticks-s3",
        "DeliveryStreamStatus": "ACTIVE",
        "DeliveryStreamType": "MSKAsSource",
        "VersionId": "3",
        "CreateTimestamp": 1772359200.0,
        "Source": {"MSKSourceDescription": {"MSKClusterARN": "arn:aws:kafka:::cluster/x",
                                            "TopicName": "ticks",
                                            "DeliveryStartTimestamp": 1772359200.0}},
        "Destinations": [{
            "DestinationId": "destinationId-000000000001",
            "S3DestinationDescription": dict(s3),
            "ExtendedS3DestinationDescription": {
                **s3, "S3BackupMode": "Enabled",
                "S3BackupDescription": {"BucketARN": "arn:aws:s3:::raw", "Prefix": "src/"},
                "ProcessingConfiguration": {"Enabled": False, "Processors": []},
            },
        }],
        "HasMoreDestinations": False,
    }}


def test_describe_output_translates_like_the_create_input() -> None:
    tr = translate(_describe())
    assert tr.mapping == {
        "name": "ticks-s3", "topic": "ticks",
        "s3": {"bucket": "out", "prefix": "raw/", "error_output_prefix": "", "compression": "GZIP",
               "buffering": {"size_mb": 5, "interval_seconds": 300},
               "source_backup": {"bucket": "raw", "prefix": "src/", "compression": "UNCOMPRESSED"}},
    }
    path = "DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription"
    assert tr.paths["s3.buffering.size_mb"] == f"{path}.BufferingHints.SizeInMBs"


def test_describe_errors_name_the_description_field() -> None:
    doc = _describe()
    doc["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"][
        "BufferingHints"]["SizeInMBs"] = 0
    assert error_of(doc) == (
        "DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription"
        ".BufferingHints.SizeInMBs: must be between 1 and 128, got 0")
    doc = _describe()
    doc["DeliveryStreamDescription"]["Destinations"].append({})
    assert error_of(doc) == (
        "DeliveryStreamDescription.Destinations: expected exactly one destination, got 2")


# -- files -------------------------------------------------------------------------------


def test_files_in_every_format_and_layout(tmp_path: Path) -> None:
    shardline = {"name": "ticks-s3", "topic": "ticks",
                 "s3": {"bucket": "out", "compression": "UNCOMPRESSED", "error_output_prefix": ""}}
    (tmp_path / "a.toml").write_text(
        'name = "ticks-s3"\ntopic = "ticks"\n[s3]\nbucket = "out"\ncompression = "UNCOMPRESSED"\n'
        'error_output_prefix = ""\n')
    (tmp_path / "b.toml").write_text(
        'DeliveryStreamName = "ticks-s3"\nDeliveryStreamType = "MSKAsSource"\n'
        '[MSKSourceConfiguration]\nTopicName = "ticks"\n'
        '[ExtendedS3DestinationConfiguration]\nBucketARN = "arn:aws:s3:::out"\n')
    (tmp_path / "c.json").write_text(json.dumps(s3_stream()))
    describe = _describe()
    extended = describe["DeliveryStreamDescription"]["Destinations"][0][
        "ExtendedS3DestinationDescription"]
    extended["S3BackupMode"] = "Disabled"  # (source_backup is not in DeliveryConfig yet)
    (tmp_path / "d.yaml").write_text(json.dumps(describe))  # JSON is YAML too
    expected = load_deliveries(shardline)
    for name in ("a.toml", "b.toml", "c.json"):
        assert load_deliveries(tmp_path / name) == expected, name
    assert load_deliveries(tmp_path / "d.yaml")[0].topic == "ticks"
    (tmp_path / "bad.toml").write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_deliveries(tmp_path / "bad.toml")


def test_a_deliveries_list_may_mix_layouts_and_errors_keep_the_item_path() -> None:
    fire = s3_stream()
    fire["DeliveryStreamName"] = "fire"
    mixed = {"deliveries": [{"name": "plain", "topic": "t", "s3": {"bucket": "out"}}, fire]}
    assert [c.name for c in load_deliveries(mixed)] == ["plain", "fire"]
    broken = copy.deepcopy(mixed)
    broken["deliveries"][1][S3]["BufferingHints"] = {"SizeInMBs": 200}
    with pytest.raises(ConfigError) as info:
        load_deliveries(broken)
    assert str(info.value) == (
        f"deliveries[1].{S3}.BufferingHints.SizeInMBs: must be between 1 and 128, got 200")


def test_ignored_fields_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="connectors.firehose_layout"):
        delivery_from_firehose(s3_stream(CloudWatchLoggingOptions={"Enabled": True}))
    assert f"{S3}.CloudWatchLoggingOptions: ignored" in caplog.text
    assert ROLE not in caplog.text  # values are never logged, only field names
