import pytest

from connectors import DeliveryConfig, ElasticsearchConfig, S3Config, load_deliveries
from connectors.s3 import Compression
from ground.errors import ConfigError


def s3(**over) -> dict:
    return {"name": "ticks-s3", "topic": "ticks", "s3": {"bucket": "ticks", **over}}


def test_defaults_are_firehose_defaults() -> None:
    config = DeliveryConfig.from_mapping(s3())
    assert isinstance(config.destination, S3Config)
    assert config.destination.buffering.size_bytes == 5 * 1024 * 1024
    assert config.destination.buffering.interval_ms == 300_000
    assert config.destination.compression is Compression.GZIP
    assert config.destination.retry.duration_ms == 300_000
    assert config.group_id == "shardline-deliver-ticks-s3"


def test_firehose_and_shardline_names() -> None:
    a = DeliveryConfig.from_mapping(s3(buffering={"SizeInMBs": 64, "IntervalInSeconds": 60}))
    b = DeliveryConfig.from_mapping(s3(buffering={"size_mb": 64, "interval_ms": 60_000}))
    assert a.destination.buffering == b.destination.buffering
    small = DeliveryConfig.from_mapping(s3(buffering={"max_records": 10, "interval_ms": 50}))
    assert small.destination.buffering.max_records == 10


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


def es(**over) -> dict:
    return {"name": "x", "topic": "t", "elasticsearch": {"index": "ticks", **over}}


def test_index_rotation_period_default_and_both_spellings() -> None:
    from connectors.elasticsearch import IndexRotationPeriod

    default = DeliveryConfig.from_mapping(es()).destination
    assert isinstance(default, ElasticsearchConfig)
    assert default.index_rotation_period is IndexRotationPeriod.NO_ROTATION
    ours = DeliveryConfig.from_mapping(es(index_rotation_period="OneHour")).destination
    firehose = DeliveryConfig.from_mapping(es(IndexRotationPeriod="OneHour")).destination
    assert ours == firehose
    assert isinstance(ours, ElasticsearchConfig)
    assert ours.index_rotation_period is IndexRotationPeriod.ONE_HOUR
    named = DeliveryConfig.from_mapping(
        {"name": "x", "topic": "t", "elasticsearch": {"IndexName": "ticks"}}).destination
    assert named == default


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (es(index_rotation_period="Hourly"), "elasticsearch.index_rotation_period",
         "NoRotation, OneHour, OneDay, OneWeek, OneMonth, got 'Hourly'"),
        (es(IndexRotationPeriod="oneday"), "elasticsearch.IndexRotationPeriod", "got 'oneday'"),
        (es(IndexRotationPeriod=7), "elasticsearch.IndexRotationPeriod", "expected a string"),
        (es(index_rotation_period="OneDay", IndexRotationPeriod="OneDay"),
         "elasticsearch.IndexRotationPeriod", "only one"),
        (es(index="a" * 81), "elasticsearch.index", "1 to 80 characters, got 81"),
        (es(index=""), "elasticsearch.index", "1 to 80 characters, got 0"),
        ({"name": "x", "topic": "t", "elasticsearch": {"IndexName": "a" * 81}},
         "elasticsearch.IndexName", "1 to 80"),
        ({"name": "x", "topic": "t", "elasticsearch": {"IndexName": "Ticks"}},
         "elasticsearch.IndexName", "index name"),
        (es(retry={"DurationInSeconds": 7201}), "elasticsearch.retry.DurationInSeconds",
         "between 0 and 7200, got 7201"),
        (es(retry={"duration_seconds": -1}), "elasticsearch.retry.duration_seconds",
         "between 0 and 7200"),
    ],
)
def test_elasticsearch_errors_name_the_field(data: dict, field: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        DeliveryConfig.from_mapping(data)
    assert info.value.field == field


def test_elasticsearch_retry_duration_bounds_are_accepted() -> None:
    for seconds in (0, 7200):
        config = DeliveryConfig.from_mapping(es(retry={"DurationInSeconds": seconds}))
        assert config.destination.retry.duration_ms == seconds * 1000
    assert DeliveryConfig.from_mapping(es()).destination.retry.duration_ms == 300_000
    assert DeliveryConfig.from_mapping(es(index="a" * 80)).destination.index == "a" * 80  # type: ignore[union-attr]
