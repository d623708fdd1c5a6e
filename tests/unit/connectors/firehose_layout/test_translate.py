"""Delivery streams in Firehose's own layout: translation, validation, errors in its names."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from connectors.elasticsearch import (
    DocumentIdStrategy,
    ElasticsearchConfig,
)
from connectors.firehose_layout import delivery_from_firehose, is_firehose_layout, translate
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


# -- the document and its destination ---------------------------------------------------


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


# -- notices and the Shardline block -----------------------------------------------------


def test_ignored_fields_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="connectors.firehose_layout"):
        delivery_from_firehose(s3_stream(CloudWatchLoggingOptions={"Enabled": True}))
    assert f"{S3}.CloudWatchLoggingOptions: ignored" in caplog.text
    assert ROLE not in caplog.text  # values are never logged, only field names


def test_firehose_layout_document_id_field() -> None:
    doc = {
        "DeliveryStreamName": "orders-es",
        "Shardline": {"Topic": "orders", "DocumentId": "field", "DocumentIdField": "order_id"},
        "AmazonopensearchserviceDestinationConfiguration": {
            "RoleARN": "arn:aws:iam::123456789012:role/firehose", "IndexName": "orders"},
    }
    dest_cfg = delivery_from_firehose(doc).destination
    assert isinstance(dest_cfg, ElasticsearchConfig)
    assert dest_cfg.document_id is DocumentIdStrategy.FIELD
    assert dest_cfg.document_id_field == "order_id"
    del doc["Shardline"]["DocumentIdField"]
    with pytest.raises(ConfigError, match=r"^Shardline\.DocumentIdField: is required"):
        delivery_from_firehose(doc)
