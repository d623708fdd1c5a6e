"""Avro → Arrow: every Avro type, nested records, named references, nullability."""

from __future__ import annotations

import json
from importlib import resources

import fastavro
import pyarrow as pa
import pytest

from connectors.s3.avro_arrow import arrow_schema, avro_to_arrow, schema_for
from ground.errors import ConfigError

INNER = {"type": "record", "name": "Inner", "fields": [{"name": "x", "type": "int"}]}

EVERY_TYPE = {
    "type": "record", "name": "All", "namespace": "t",
    "fields": [
        {"name": "n", "type": "null"},
        {"name": "b", "type": "boolean"},
        {"name": "i", "type": "int"},
        {"name": "l", "type": "long"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "by", "type": "bytes"},
        {"name": "s", "type": "string"},
        {"name": "fx", "type": {"type": "fixed", "name": "F4", "size": 4}},
        {"name": "e", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]}},
        {"name": "r", "type": INNER},
        {"name": "r_again", "type": ["null", "Inner"]},  # a named reference, nullable
        {"name": "a", "type": {"type": "array", "items": "string"}},
        {"name": "a_opt", "type": {"type": "array", "items": ["null", "long"]}},
        {"name": "m", "type": {"type": "map", "values": "double"}},
        {"name": "u", "type": ["null", "string"]},
        {"name": "u_after", "type": ["string", "null"]},
        {"name": "date", "type": {"type": "int", "logicalType": "date"}},
        {"name": "tmil", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "tmic", "type": {"type": "long", "logicalType": "time-micros"}},
        {"name": "tsms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tsus", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "ltsms", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
        {"name": "ltsus", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
        {"name": "dec", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10,
                                 "scale": 2}},
        {"name": "decfx", "type": {"type": "fixed", "name": "D", "size": 20,
                                   "logicalType": "decimal", "precision": 40, "scale": 3}},
        {"name": "uuid", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "unknown_logical", "type": {"type": "long", "logicalType": "made-up"}},
    ],
}

EXPECTED = pa.schema([
    pa.field("n", pa.null(), nullable=True),
    pa.field("b", pa.bool_(), nullable=False),
    pa.field("i", pa.int32(), nullable=False),
    pa.field("l", pa.int64(), nullable=False),
    pa.field("f", pa.float32(), nullable=False),
    pa.field("d", pa.float64(), nullable=False),
    pa.field("by", pa.binary(), nullable=False),
    pa.field("s", pa.string(), nullable=False),
    pa.field("fx", pa.binary(4), nullable=False),
    pa.field("e", pa.string(), nullable=False),
    pa.field("r", pa.struct([pa.field("x", pa.int32(), nullable=False)]), nullable=False),
    pa.field("r_again", pa.struct([pa.field("x", pa.int32(), nullable=False)]), nullable=True),
    pa.field("a", pa.list_(pa.field("element", pa.string(), nullable=False)), nullable=False),
    pa.field("a_opt", pa.list_(pa.field("element", pa.int64(), nullable=True)),
             nullable=False),
    pa.field("m", pa.map_(pa.string(), pa.field("value", pa.float64(), nullable=False)),
             nullable=False),
    pa.field("u", pa.string(), nullable=True),
    pa.field("u_after", pa.string(), nullable=True),
    pa.field("date", pa.date32(), nullable=False),
    pa.field("tmil", pa.time32("ms"), nullable=False),
    pa.field("tmic", pa.time64("us"), nullable=False),
    pa.field("tsms", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("tsus", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("ltsms", pa.timestamp("ms"), nullable=False),
    pa.field("ltsus", pa.timestamp("us"), nullable=False),
    pa.field("dec", pa.decimal128(10, 2), nullable=False),
    pa.field("decfx", pa.decimal256(40, 3), nullable=False),
    pa.field("uuid", pa.string(), nullable=False),
    pa.field("unknown_logical", pa.int64(), nullable=False),
])


@pytest.mark.parametrize("parsed", [False, True], ids=["plain", "fastavro-parsed"])
def test_every_avro_type(parsed: bool) -> None:
    schema = fastavro.parse_schema(json.loads(json.dumps(EVERY_TYPE))) if parsed else EVERY_TYPE
    got = avro_to_arrow(schema)
    assert got.equals(EXPECTED), f"\n{got}\n!=\n{EXPECTED}"
    for name in EXPECTED.names:  # field by field, nullability included
        assert got.field(name).equals(EXPECTED.field(name)), name


def test_all_nullable_makes_every_level_optional_like_a_glue_table() -> None:
    got = avro_to_arrow(EVERY_TYPE, all_nullable=True)
    assert all(f.nullable for f in got)
    assert got.field("r").type.field("x").nullable
    assert got.field("a").type.value_field.nullable
    assert got.field("m").type.item_field.nullable
    assert got.field("r").type.field("x").type == pa.int32()  # types unchanged


def test_nested_records() -> None:
    deep = {"type": "record", "name": "Outer", "fields": [
        {"name": "mid", "type": {"type": "record", "name": "Mid", "fields": [
            {"name": "inner", "type": {"type": "array", "items": {
                "type": "record", "name": "Leaf", "fields": [
                    {"name": "v", "type": ["null", "double"]}]}}},
        ]}},
        {"name": "leaves", "type": {"type": "map", "values": "Leaf"}},
    ]}
    leaf = pa.struct([pa.field("v", pa.float64())])
    got = avro_to_arrow(deep)
    assert got.field("mid").type == pa.struct(
        [pa.field("inner", pa.list_(pa.field("element", leaf, False)), False)])
    assert got.field("leaves").type == pa.map_(pa.string(), pa.field("value", leaf, False))


def test_bundled_schemas() -> None:
    ticker = arrow_schema("ticker")
    assert ticker.names == ["ticker_symbol", "sector", "change", "price", "event_time_ms"]
    assert [str(t) for t in ticker.types] == ["string", "string", "double", "double", "int64"]
    assert not any(f.nullable for f in ticker)
    click = arrow_schema("clickstream")
    assert click.field("referrer").nullable and not click.field("page").nullable
    assert schema_for("ticker").equals(arrow_schema("ticker", all_nullable=True))
    assert all(f.nullable for f in schema_for("ticker"))


def test_every_bundled_schema_maps() -> None:
    names = [p.name[:-5] for p in resources.files("schemas").iterdir()
             if p.name.endswith(".avsc")]
    assert names
    for name in names:
        assert len(schema_for(name)) > 0


def test_multi_type_union_is_a_config_error() -> None:
    bad = {"type": "record", "name": "U", "fields": [{"name": "v", "type": ["int", "string"]}]}
    with pytest.raises(ConfigError, match="no Parquet equivalent") as info:
        avro_to_arrow(bad)
    assert "U.v" in info.value.field


def test_unknown_schema_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        schema_for("no-such-schema")
    assert info.value.field == "schema" and "ticker" in str(info.value)


def test_not_a_record() -> None:
    with pytest.raises(ConfigError, match="record"):
        avro_to_arrow({"type": "enum", "name": "E", "symbols": ["A"]})
