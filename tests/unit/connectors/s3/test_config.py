"""An S3 delivery's ``s3:`` section: defaults, Firehose's spellings, errors naming the field,
and the destinations built from it."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from connectors import DeliveryConfig, S3Config, build_core, load_deliveries
from connectors.core import (
    Batch,
)
from connectors.s3 import (
    FORMAT_CONVERSION_FAILED,
    Compression,
    CompressionFormat,
    ParquetCompression,
    ParquetEncoder,
    S3Destination,
)
from ground.errors import ConfigError
from ground.settings import Settings
from tests.unit.connectors.helpers import rec


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


# -- prefixes and the destinations built ------------------------------------------------------

BATCH = Batch.of([rec(1234, b'{"a":1}', partition=2, ts=1_700_000_000_000),
                  rec(1235, None, partition=2), rec(1236, b'{"a":2}', partition=2)])


def test_build_core_writes_failures_under_the_error_output_prefix() -> None:
    settings = Settings.from_env({})
    plain = DeliveryConfig.from_mapping(
        {"name": "ticks", "topic": "t", "s3": {"bucket": "out", "prefix": "raw/",
                                               "error_output_prefix": "errors/"}})
    core = build_core(plain, settings)
    assert isinstance(core.destination, S3Destination)
    assert isinstance(core.backup, S3Destination)
    assert core.destination.key_for(BATCH) == (
        "raw/2023/11/14/22/ticks-t+2+00000000000000001234.jsonl.gz")
    assert core.backup.key_for(BATCH) == (  # as before the prefix engine
        "errors/s3-failed/2023/11/14/22/ticks-t+2+00000000000000001234.jsonl.gz")
    expr = DeliveryConfig.from_mapping(
        {"name": "ticks", "topic": "t", "s3": {
            "bucket": "out", "prefix": "raw/!{timestamp:yyyy-MM-dd}/",
            "error_output_prefix": "errors/!{firehose:error-output-type}/!{timestamp:yyyy}/"}})
    core = build_core(expr, settings)
    assert isinstance(core.destination, S3Destination)
    assert isinstance(core.backup, S3Destination)
    assert core.destination.key_for(BATCH) == (
        "raw/2023-11-14/ticks-t+2+00000000000000001234.jsonl.gz")
    assert core.backup.key_for(BATCH) == (
        "errors/s3-failed/2023/ticks-t+2+00000000000000001234.jsonl.gz")


# -- record format conversion -----------------------------------------------------------------

def tick(i: int) -> bytes:
    return json.dumps({"ticker_symbol": f"T{i % 3}", "sector": "TECH", "change": i / 4,
                       "price": 10 + i, "event_time_ms": 1_700_000_000_000 + i}).encode()


def conversion(**over) -> dict:
    return {"schema": "ticker", **over}


def test_conversion_defaults_and_build() -> None:
    config = DeliveryConfig.from_mapping(s3(data_format_conversion=conversion()))
    dest = config.destination
    conv = dest.data_format_conversion  # type: ignore[union-attr]
    assert conv is not None and conv.schema == "ticker" and conv.output_format == "PARQUET"
    assert conv.compression is ParquetCompression.SNAPPY and conv.case_insensitive
    assert dest.compression is CompressionFormat.UNCOMPRESSED  # type: ignore[union-attr]
    core = build_core(config, Settings.from_env({}))
    assert isinstance(core.destination, S3Destination)
    assert isinstance(core.destination.encoder, ParquetEncoder)
    batch = Batch.of([rec(1, tick(1))])
    assert core.destination.key_for(batch) == (
        "2023/11/14/22/ticks-s3-t+0+00000000000000000001.parquet")
    # without an ErrorOutputPrefix conversion failures still have one: Firehose's default
    assert isinstance(core.backup, S3Destination)
    failed = Batch.of([replace(rec(1, b"x"), error_output_type=FORMAT_CONVERSION_FAILED)])
    assert core.backup.key_for(failed) == (
        "format-conversion-failed/2023/11/14/22/ticks-s3-t+0+00000000000000000001.jsonl")


def test_conversion_full() -> None:
    config = DeliveryConfig.from_mapping(s3(compression="UNCOMPRESSED", data_format_conversion=
        conversion(compression="gzip", case_insensitive=False,
                   convert_dots_in_json_keys_to_underscores=True,
                   column_to_json_key_mappings={"event_time_ms": "ts"},
                   enable_dictionary_compression=False, page_size_bytes=65536,
                   writer_version="V2")))
    conv = config.destination.data_format_conversion  # type: ignore[union-attr]
    assert conv.compression is ParquetCompression.GZIP and not conv.case_insensitive
    assert conv.column_to_json_key_mappings == (("event_time_ms", "ts"),)


def test_example_config_delivers_parquet() -> None:
    example = Path(__file__).parents[4] / "examples/deliveries/ticker-parquet-s3.yaml"
    [config] = load_deliveries(example)
    core = build_core(config, Settings.from_env({}))
    assert isinstance(core.destination, S3Destination)
    assert isinstance(core.destination.encoder, ParquetEncoder)
    values = [tick(1), b"{oops", tick(2)]
    write = core.destination.encode(Batch.of([rec(i, v) for i, v in enumerate(values)]))
    [obj] = write.objects
    assert obj.key.startswith("ticker-parquet/") and obj.key.endswith(".parquet")
    rows = pq.read_table(io.BytesIO(obj.body)).to_pylist()
    assert rows == [json.loads(tick(1)), json.loads(tick(2))]
    assert [(f.record.value, f.error_output_type) for f in write.failures] == [
        (b"{oops", FORMAT_CONVERSION_FAILED)]


def test_disabled_conversion_keeps_json_lines() -> None:
    config = DeliveryConfig.from_mapping(s3(data_format_conversion=conversion(enabled=False)))
    assert config.destination.data_format_conversion is None  # type: ignore[union-attr]
    assert config.destination.compression is CompressionFormat.GZIP  # type: ignore[union-attr]


@pytest.mark.parametrize(("over", "field", "words"), [
    ({"compression": "GZIP", "data_format_conversion": conversion()}, "s3.compression",
     "UNCOMPRESSED"),
    ({"data_format_conversion": conversion(schema="nope")},
     "s3.data_format_conversion.schema", "unknown schema"),
    ({"data_format_conversion": {}}, "s3.data_format_conversion.schema", "required"),
    ({"data_format_conversion": conversion(output_format="ORC")},
     "s3.data_format_conversion.output_format", "PARQUET"),
    ({"data_format_conversion": conversion(compression="LZ4")},
     "s3.data_format_conversion.compression", "SNAPPY"),
    ({"data_format_conversion": conversion(case_insensitive="yes")},
     "s3.data_format_conversion.case_insensitive", "true or false"),
    ({"data_format_conversion": conversion(column_to_json_key_mappings={"nope": "x"})},
     "s3.data_format_conversion.column_to_json_key_mappings.nope", "no such column"),
    ({"data_format_conversion": conversion(page_size_bytes=10)},
     "s3.data_format_conversion.page_size_bytes", "at least"),
    ({"data_format_conversion": conversion(writer_version="V3")},
     "s3.data_format_conversion.writer_version", "V1"),
    ({"data_format_conversion": conversion(block_size_bytes=1)},
     "s3.data_format_conversion.block_size_bytes", "unknown"),
])
def test_conversion_errors_name_the_field(over: dict, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        DeliveryConfig.from_mapping(s3(**over))
    assert info.value.field == field and words in str(info.value)


# -- compression ------------------------------------------------------------------------------

ALL = list(CompressionFormat)


@pytest.mark.parametrize(
    ("value", "fmt"),
    [(f.value, f) for f in ALL]
    + [("gzip", CompressionFormat.GZIP), ("SNAPPY", CompressionFormat.SNAPPY),
       ("hadoop_snappy", CompressionFormat.HADOOP_SNAPPY), ("zip", CompressionFormat.ZIP)],
)
def test_every_compression_format_is_accepted(value: str, fmt: CompressionFormat) -> None:
    assert DeliveryConfig.from_mapping(s3(compression=value)).destination.compression is fmt
    es = {"name": "x", "topic": "t",
          "elasticsearch": {"index": "i", "s3_backup": {"bucket": "backups", "compression": value}}}
    assert DeliveryConfig.from_mapping(es).destination.s3_backup.compression is fmt


@pytest.mark.parametrize("value", ["ZSTD", "HADOOP-SNAPPY", "", "snappy-java"])
def test_a_bad_compression_format_names_the_field(value: str) -> None:
    with pytest.raises(ConfigError, match="UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY") as e:
        DeliveryConfig.from_mapping(s3(compression=value))
    assert e.value.field == "s3.compression"


def test_prefixes_are_compiled_once_with_the_config_and_reused_by_the_destinations() -> None:
    config = DeliveryConfig.from_mapping(s3(
        prefix="raw/!{timestamp:yyyy}/", error_output_prefix="e/!{firehose:error-output-type}/",
        source_backup={"bucket": "src", "prefix": "src/"}))
    dest = config.destination
    assert isinstance(dest, S3Config) and dest.source_backup is not None
    core = build_core(config, Settings.from_env({}))
    assert isinstance(core.destination, S3Destination)
    assert isinstance(core.backup, S3Destination)
    assert isinstance(core.source_backup, S3Destination)
    assert core.destination.prefix is dest.prefixes.prefix
    assert core.backup.prefix is dest.prefixes.error_output_prefix
    assert core.source_backup.prefix is dest.source_backup.compiled_prefix
    # Compiled prefixes are not part of the config's value: equal configs compare equal.
    assert dest == DeliveryConfig.from_mapping(s3(
        prefix="raw/!{timestamp:yyyy}/", error_output_prefix="e/!{firehose:error-output-type}/",
        source_backup={"bucket": "src", "prefix": "src/"})).destination


def test_a_config_built_in_code_checks_its_prefixes_too() -> None:
    with pytest.raises(ConfigError) as info:
        S3Config(bucket="b", prefix="raw/!{timestamp:yyyy}/")
    assert info.value.field == "ErrorOutputPrefix"
    with pytest.raises(ConfigError) as info:
        DeliveryConfig.from_mapping(s3(source_backup={"bucket": "src", "prefix": "s/!{nope:x}/"}))
    assert info.value.field == "s3.source_backup.prefix"


def test_conversion_takes_its_table_schema_from_a_registry_subject() -> None:
    from schemas import use_catalog
    from tests.unit.schemas.fake_registry import TICKER_V2, FakeClient, catalog_on

    client = FakeClient()
    client.add("ticks-value", TICKER_V2)
    previous = use_catalog(catalog_on(client))  # what `shardline deliver` installs
    try:
        config = DeliveryConfig.from_mapping(
            s3(data_format_conversion=conversion(schema="ticks-value")))
        encoder = config.destination.data_format_conversion.encoder()  # type: ignore[union-attr]
        assert encoder.schema.names[-1] == "exchange"
        assert all(f.nullable for f in encoder.schema)
        with pytest.raises(ConfigError, match=r"data_format_conversion.schema: unknown schema "
                                              r"'nope'.*schema registry at http://registry"):
            DeliveryConfig.from_mapping(s3(data_format_conversion=conversion(schema="nope")))
    finally:
        use_catalog(previous)
