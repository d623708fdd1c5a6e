"""Delivery files: one delivery or a ``deliveries:`` list, in either layout, from YAML, TOML
or JSON."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from connectors import ElasticsearchConfig, load_deliveries
from ground.errors import ConfigError


def test_yaml_with_two_deliveries(tmp_path) -> None:
    path = tmp_path / "deliver.yaml"
    path.write_text(
        "deliveries:\n"
        "  - {name: a-s3, topic: ticks, s3: {bucket: out, error_output_prefix: errors/}}\n"
        "  - name: a-es\n"
        "    topic: ticks\n"
        "    elasticsearch:\n"
        "      index: ticks\n"
        "      document_id: record_key\n"
        "      s3_backup: {bucket: out}\n"
        "      buffering: {size_mb: 100}\n"
    )
    s3_cfg, es_cfg = load_deliveries(path)
    assert s3_cfg.destination.error_output_prefix == "errors/"
    assert isinstance(es_cfg.destination, ElasticsearchConfig)
    assert es_cfg.destination.s3_backup is not None
    assert es_cfg.destination.s3_backup.prefix == "es-failed/"
    path.write_text("deliveries:\n  - {name: a, topic: t, s3: {bucket: out, nope: 1}}\n")
    with pytest.raises(ConfigError) as info:
        load_deliveries(path)
    assert info.value.field == "deliveries[0].s3.nope"


def test_unreadable_yaml(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("a: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_deliveries(path)


# -- either layout, in every format -----------------------------------------------------------

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
