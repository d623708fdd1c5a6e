"""``ProcessingConfiguration`` in Firehose's layout → ``processing:``: processors, their
parameters, and a LambdaArn naming a Python callable."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from connectors.firehose_layout import delivery_from_firehose, translate
from connectors.s3 import S3Config
from ground.errors import ConfigError

ROLE = "arn:aws:iam::123456789012:role/firehose"


S3 = "ExtendedS3DestinationConfiguration"


def s3_stream(**dest: Any) -> dict[str, Any]:
    return {
        "DeliveryStreamName": "ticks-s3",
        "DeliveryStreamType": "MSKAsSource",
        "MSKSourceConfiguration": {"MSKClusterARN": "arn:aws:kafka:::cluster/x",
                                   "TopicName": "ticks"},
        S3: {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::out", **dest},
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
