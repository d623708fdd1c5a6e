"""processing / dynamic_partitioning / source_backup in a delivery's config."""

from typing import Any

import pytest

from connectors import DeliveryConfig
from connectors.s3 import S3Config
from connectors.transform import SubRecordType, build_transform
from ground.errors import ConfigError

HOOK = "examples.hooks.hooks:enrich"


def s3(**extra: Any) -> dict[str, Any]:
    return {"name": "d", "topic": "t", "s3": {"bucket": "bkt", **extra}}


def load(**extra: Any) -> S3Config:
    dest = DeliveryConfig.from_mapping(s3(**extra)).destination
    assert isinstance(dest, S3Config)
    return dest


def test_full_section() -> None:
    cfg = load(
        prefix="c=!{partitionKeyFromQuery:c}/l=!{partitionKeyFromLambda:l}/",
        error_output_prefix="err/!{firehose:error-output-type}/",
        processing={"deaggregation": {"sub_record_type": "DELIMITED", "delimiter": "|"},
                    "hook": {"callable": HOOK, "retries": 1, "timeout_ms": 500,
                             "buffer_size_mb": 0.2},
                    "metadata_extraction": {"query": "{c: .c}"}, "append_delimiter": True},
        dynamic_partitioning={"enabled": True, "max_active_partitions": 7},
        source_backup={"bucket": "other", "prefix": "src/", "compression": "UNCOMPRESSED"},
    )
    p = cfg.processing
    assert p is not None and p.deaggregation is not None and p.hook is not None
    assert p.deaggregation.sub_record_type is SubRecordType.DELIMITED
    assert p.hook.buffer_size_bytes == int(0.2 * 1024 * 1024) and p.hook.retries == 1
    assert cfg.partitioning_enabled and cfg.source_backup is not None
    stage = build_transform(p, max_active_partitions=7, required_keys=("c", "l"))
    assert stage is not None and stage.partitions is not None and stage.partitions.limit == 7
    assert stage.append_delimiter == b"\n" and stage.hook is not None


@pytest.mark.parametrize(("extra", "field"), [
    ({"processing": {"hook": {"callable": "nope.nope:f"}}}, "s3.processing.hook.callable"),
    ({"processing": {"hook": {"callable": HOOK, "buffer_size_mb": 4}}},
     "s3.processing.hook.buffer_size_mb"),
    ({"processing": {"hook": {"callable": HOOK, "retries": -1}}}, "s3.processing.hook.retries"),
    ({"processing": {"deaggregation": {"sub_record_type": "XML"}}},
     "s3.processing.deaggregation.sub_record_type"),
    ({"processing": {"deaggregation": {"delimiter": ","}}},
     "s3.processing.deaggregation.delimiter"),
    ({"processing": {"metadata_extraction": {"query": "{c: .c}"}}},
     "s3.processing.metadata_extraction"),  # needs dynamic partitioning
    ({"prefix": "c=!{partitionKeyFromQuery:c}/", "error_output_prefix": "e/",
      "dynamic_partitioning": {"enabled": True},
      "processing": {"metadata_extraction": {"query": "{c: .c"}}},
     "s3.processing.metadata_extraction.query"),
    ({"prefix": "x/", "error_output_prefix": "e/", "dynamic_partitioning": {"enabled": True}},
     "s3.prefix"),
    ({"prefix": "c=!{partitionKeyFromQuery:c}/"}, "s3.prefix"),  # keys without partitioning
    ({"prefix": "c=!{partitionKeyFromQuery:c}/", "dynamic_partitioning": {"enabled": True}},
     "s3.error_output_prefix"),
    ({"prefix": "c=!{partitionKeyFromQuery:c}/", "error_output_prefix": "e/",
      "dynamic_partitioning": {"enabled": True}}, "s3.processing.metadata_extraction.query"),
    ({"prefix": "c=!{partitionKeyFromLambda:c}/", "error_output_prefix": "e/",
      "dynamic_partitioning": {"enabled": True}}, "s3.processing.hook"),
    ({"dynamic_partitioning": {"enabled": "yes"}}, "s3.dynamic_partitioning.enabled"),
    ({"prefix": "c=!{partitionKeyFromLambda:c}/", "error_output_prefix": "e/",
      "processing": {"hook": {"callable": HOOK}},
      "dynamic_partitioning": {"enabled": True, "max_active_partitions": 0}},
     "s3.dynamic_partitioning.max_active_partitions"),
    ({"source_backup": {"bucket": "Bad_Bucket"}}, "s3.source_backup.bucket"),
    ({"processing": {"wat": 1}}, "s3.processing.wat"),
])
def test_errors_name_the_field(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(**extra)
    assert err.value.field == field


def test_elasticsearch_takes_processing_but_not_partitioning() -> None:
    cfg = DeliveryConfig.from_mapping({"name": "d", "topic": "t", "elasticsearch": {
        "index": "i", "processing": {"hook": {"callable": HOOK}}}})
    assert cfg.destination.processing is not None
    with pytest.raises(ConfigError) as err:
        DeliveryConfig.from_mapping({"name": "d", "topic": "t", "elasticsearch": {
            "index": "i", "dynamic_partitioning": {"enabled": True}}})
    assert err.value.field == "elasticsearch.dynamic_partitioning"
