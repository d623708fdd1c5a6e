"""What every delivery has (name, topic, exactly one destination, the memory cap), and errors
naming the field wherever in the delivery they are."""

from __future__ import annotations

import pytest

from connectors import DeliveryConfig
from ground.errors import ConfigError


def s3(**over) -> dict:
    return {"name": "ticks-s3", "topic": "ticks", "s3": {"bucket": "ticks", **over}}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (s3(buffering={"size_mb": 129}), "s3.buffering.size_mb", "between 1 and 128"),
        (s3(buffering={"SizeInMBs": 0}), "s3.buffering.SizeInMBs", "between 1 and 128"),
        (s3(buffering={"interval_seconds": 901}), "s3.buffering.interval_seconds", "0 and 900"),
        (s3(buffering={"size_mb": 1, "size_bytes": 5}), "s3.buffering.size_bytes", "only one"),
        (s3(buffering={"max_records": 0}), "s3.buffering.max_records", "at least 1"),
        (s3(buffering={"sizemb": 1}), "s3.buffering.sizemb", "unknown"),
        (s3(compression="ZSTD"), "s3.compression", "UNCOMPRESSED, GZIP"),
        (s3(bucket="Bad_Bucket"), "s3.bucket", "bucket name"),
        (s3(retry={"duration_seconds": 7201}), "s3.retry.duration_seconds", "0 and 7200"),
        ({"name": "x", "topic": "t", "elasticsearch": {"index": "i",
                                                       "buffering": {"size_mb": 101}}},
         "elasticsearch.buffering.size_mb", "between 1 and 100"),
        ({"name": "x", "topic": "t", "elasticsearch": {"index": "I"}}, "elasticsearch.index",
         "index name"),
        ({"name": "x", "topic": "t", "elasticsearch": {"index": "i", "document_id": "uuid"}},
         "elasticsearch.document_id", "offset, record_key"),
        ({"name": "x", "topic": "t"}, "s3", "exactly one"),
        ({"topic": "t", "s3": {"bucket": "abc"}}, "name", "required"),
        (s3(prefix="d/!{timestamp:yyyy}/"), "s3.error_output_prefix",
         "can't be empty when Prefix contains expressions"),
        (s3(prefix="d/!{firehose:error-output-type}/", error_output_prefix="e/"), "s3.prefix",
         "only allowed in ErrorOutputPrefix"),
        (s3(prefix="d/!{timestamp:yyyy", error_output_prefix="e/"), "s3.prefix", "no closing"),
        (s3(error_output_prefix="e/!{timestamp:yyyy}/"), "s3.error_output_prefix",
         "must contain"),
    ],
)
def test_errors_name_the_field(data: dict, field: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        DeliveryConfig.from_mapping(data)
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")
    assert str(info.value) == f"{field}: {info.value.message}"
    assert "Prefix:" not in info.value.message  # named once, in this layout


def test_max_buffered_mb_is_validated_against_the_buffering_size() -> None:
    base = {"name": "n", "topic": "t", "s3": {"bucket": "bkt", "buffering": {"size_mb": 64}}}
    assert DeliveryConfig.from_mapping(base).max_buffered_mb == 128
    assert DeliveryConfig.from_mapping({**base, "max_buffered_mb": 64}).max_buffered_bytes == (
        64 * 1024 * 1024)
    with pytest.raises(ConfigError) as err:
        DeliveryConfig.from_mapping({**base, "max_buffered_mb": 32})
    assert err.value.field == "max_buffered_mb" and "64" in str(err.value)
    config = DeliveryConfig.from_mapping({**base, "shutdown_timeout_seconds": 5})
    assert config.shutdown_timeout_ms == 5_000
    assert DeliveryConfig.from_mapping(base).shutdown_timeout_ms == 30_000
    with pytest.raises(ConfigError) as err:
        DeliveryConfig.from_mapping({**base, "shutdown_timeout_seconds": -1})
    assert err.value.field == "shutdown_timeout_seconds"
