"""The codec: Confluent framing, JSON, schema checks and precise decode errors."""

from __future__ import annotations

import io
import json
import struct

import fastavro
import pytest

import schemas
from ground.errors import CodecError, ConfigError
from schemas import codec_for, decode_any, load_schema, schema_id

TICK = {
    "ticker_symbol": "AMZN",
    "sector": "TECHNOLOGY",
    "change": -1.25,
    "price": 185.5,
    "event_time_ms": 1_700_000_000_123,
}
TRADE = {
    **TICK,
    "trade_id": 2_343_169_234_551_444_294,
    "exchange": "XNAS",
    "quantity": 1_250,
    "side": "SELL",
    "account_id": "ACCT-1263027",
    "order_id": "d599b7d58132c78d",
    "currency": "USD",
}
CLICK = {
    "event_id": "00ff00ff00ff00ff",
    "user_id": "user-0007",
    "session_id": "s-000000000001",
    "page": "/products/3",
    "action": "add_to_cart",
    "referrer": None,
    "event_time_ms": 1_700_000_000_000,
}
RECORDS = [("ticker", TICK), ("clickstream", CLICK), ("trade", TRADE)]


def test_public_api_is_pinned_and_sorted():
    assert schemas.__all__ == sorted(schemas.__all__)
    assert schemas.__all__ == [
        "AVRO_MAGIC", "AvroPlan", "Codec", "FORMATS", "Format", "RegistryConfig",
        "SchemaCatalog", "SchemaFolder", "SchemaRegistry", "SchemaSources", "WriterSchema",
        "catalog_for", "codec_for", "decode_any", "default_catalog", "detect_format",
        "load_schema", "schema_id", "schema_name_for_id", "schema_names", "use_catalog",
    ]


def test_schema_cache_returns_the_same_object():
    assert load_schema("ticker") is load_schema("ticker")
    assert schemas.schema_names() == ["clickstream", "ticker", "trade"]


def test_ticker_schema_fields():
    fields = {f["name"]: f["type"] for f in load_schema("ticker")["fields"]}
    assert fields == {"ticker_symbol": "string", "sector": "string", "change": "double",
                      "price": "double", "event_time_ms": "long"}


def test_trade_schema_is_the_ticker_plus_trade_fields():
    """The benchmarks' record: a ticker SQL app's columns map onto it unchanged, and it is
    ~100 bytes in Confluent framing."""
    ticker = [(f["name"], f["type"]) for f in load_schema("ticker")["fields"]]
    trade = [(f["name"], f["type"]) for f in load_schema("trade")["fields"]]
    assert trade[: len(ticker)] == ticker
    assert dict(trade[len(ticker):]) == {
        "trade_id": "long", "exchange": "string", "quantity": "int", "side": "string",
        "account_id": "string", "order_id": "string", "currency": "string",
    }
    assert 90 <= len(codec_for("avro", "trade").encode(TRADE)) <= 110


def test_unknown_schema_name():
    with pytest.raises(ConfigError, match="unknown schema 'nope'"):
        codec_for("json", "nope")
    with pytest.raises(ConfigError, match="format"):
        codec_for("xml", "ticker")


@pytest.mark.parametrize(("name", "record"), RECORDS)
def test_avro_confluent_framing_exact(name, record):
    raw = codec_for("avro", name).encode(record)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, load_schema(name), record)
    assert raw == b"\x00" + schema_id(name).to_bytes(4, "big") + body.getvalue()
    assert codec_for("avro", name).decode(raw) == record
    assert decode_any(raw) == record


def test_avro_ids_from_manifest():
    assert schema_id("ticker") == 1 and schema_id("clickstream") == 2 and schema_id("trade") == 3
    assert codec_for("avro", "ticker").encode(TICK)[:5] == b"\x00\x00\x00\x00\x01"


@pytest.mark.parametrize(("name", "record"), RECORDS)
def test_json_round_trip(name, record):
    raw = codec_for("json", name).encode(record)
    assert json.loads(raw) == record
    assert raw.startswith(b"{") and b" " not in raw.replace(b"/products/3", b"")
    assert codec_for("json", name).decode(raw) == record
    assert decode_any(raw, name) == record


def test_json_ints_widen_to_double_and_defaults_fill_in():
    raw = json.dumps({**TICK, "price": 185, "extra": 1}).encode()
    assert codec_for("json", "ticker").decode(raw) == {**TICK, "price": 185.0}
    click = {k: v for k, v in CLICK.items() if k != "referrer"}
    assert codec_for("json", "clickstream").decode(json.dumps(click).encode()) == CLICK


def test_decode_any_json_without_schema_only_needs_an_object():
    assert decode_any(b'{"a": 1}') == {"a": 1}


def test_unicode_round_trip():
    rec = {**CLICK, "page": "/café/☃"}
    for fmt in ("avro", "json"):
        codec = codec_for(fmt, "clickstream")
        assert codec.decode(codec.encode(rec)) == rec


def _avro(name=None, record=None):
    return codec_for("avro", name or "ticker").encode(record or TICK)


def _json(**changes):
    return json.dumps({**TICK, **changes}).encode()


MALFORMED = [
    (b"", "empty record"),
    (b"\x00\x00\x00\x00\x07abc", "unknown schema id 7"),
    (b"\x00\x00\x01", "truncated Confluent header: 3 of 5 bytes"),
    (_avro()[:-3], "truncated Avro body (ticker)"),
    (_avro()[:6], "truncated Avro body (ticker)"),
    (_avro() + b"\x00", "1 trailing bytes after the Avro body (ticker)"),
    (b'{"ticker_symbol": "AMZN", ', "invalid JSON: Expecting property name"),
    (b'{"price": NaN}', "invalid JSON: non-standard JSON constant NaN"),
    (b"{\xff}", "not UTF-8 JSON: "),
    (b"\xff\xfe", "not UTF-8 JSON: "),
    (b"[1, 2]", "JSON value is not an object but list"),
    (b'"text"', "JSON value is not an object but str"),
    (json.dumps({k: v for k, v in TICK.items() if k != "price"}).encode(),
     "missing field 'price'"),
    (_json(price="185.50"), "field 'price' is not a number"),
    (_json(price=True), "field 'price' is not a number"),
    (_json(event_time_ms=1.5), "field 'event_time_ms' is not an integer"),
    (_json(event_time_ms=2**63), "field 'event_time_ms' is out of range for long"),
    (_json(ticker_symbol=None), "field 'ticker_symbol' is not a string"),
]


@pytest.mark.parametrize(("raw", "reason"), MALFORMED)
def test_malformed_gives_reason_and_raw(raw, reason):
    with pytest.raises(CodecError) as info:
        decode_any(raw, "ticker")
    assert info.value.reason.startswith(reason), info.value.reason
    assert info.value.raw == raw
    assert isinstance(info.value, ValueError)


def test_bad_union_branch_is_invalid_not_truncated():
    raw = bytearray(codec_for("avro", "clickstream").encode(CLICK))
    assert raw[-7] == 0  # the union index of referrer (null), before the 6-byte long
    raw[-7] = 0x08  # branch 4 does not exist
    with pytest.raises(CodecError, match=r"invalid Avro body \(clickstream\)"):
        decode_any(bytes(raw))


def test_every_truncation_of_an_avro_body_is_truncated():
    for name, rec in (("ticker", TICK), ("clickstream", {**CLICK, "referrer": "https://x/"})):
        raw = codec_for("avro", name).encode(rec)
        for cut in range(5, len(raw)):
            with pytest.raises(CodecError, match="truncated Avro body"):
                decode_any(raw[:cut])


def test_codec_decode_rejects_the_other_schema_id():
    raw = codec_for("avro", "clickstream").encode(CLICK)
    with pytest.raises(CodecError, match=r"schema id 2 \(schema 'clickstream'\)") as info:
        codec_for("avro", "ticker").decode(raw)
    assert info.value.raw == raw


def test_json_codec_rejects_avro_bytes():
    raw = _avro()
    with pytest.raises(CodecError, match="invalid JSON|not UTF-8") as info:
        codec_for("json", "ticker").decode(raw)
    assert info.value.raw == raw


def test_magic_byte_other_than_zero_via_codec():
    raw = b"\x01" + struct.pack(">I", 1) + _avro()[5:]
    with pytest.raises(CodecError, match="not Avro: magic byte is 1"):
        codec_for("avro", "ticker").decode(raw)


@pytest.mark.parametrize("fmt", ["avro", "json"])
def test_encode_checks_the_schema(fmt):
    codec = codec_for(fmt, "ticker")
    with pytest.raises(CodecError, match="missing field 'price'") as info:
        codec.encode({k: v for k, v in TICK.items() if k != "price"})
    assert info.value.raw is None
    with pytest.raises(CodecError, match="field 'price' is not a number"):
        codec.encode({**TICK, "price": "1"})


def test_json_encode_rejects_nan_but_avro_keeps_it():
    with pytest.raises(CodecError, match="NaN or Infinity is not valid JSON"):
        codec_for("json", "ticker").encode({**TICK, "price": float("nan")})
    avro = codec_for("avro", "ticker")
    decoded = avro.decode(avro.encode({**TICK, "price": float("inf")}))
    assert decoded["price"] == float("inf")


def test_schemas_are_package_data():
    from importlib import resources

    names = {p.name for p in resources.files("schemas").iterdir()}
    assert {"ticker.avsc", "clickstream.avsc", "trade.avsc", "ids.json"} <= names
