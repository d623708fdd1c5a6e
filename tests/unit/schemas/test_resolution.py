"""The codec with a schema registry: ids registered on encode, writer schemas by id (cached),
Avro schema resolution onto the reader's schema, and unknown or incompatible ids as record
errors with their bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ground.errors import CodecError, ConfigError, SchemaMismatchError, SchemaRegistryError
from schemas import SchemaCatalog, SchemaSources, codec_for, decode_any
from tests.unit.schemas.fake_registry import (
    TICKER_V1,
    TICKER_V2,
    FakeClient,
    catalog_on,
    framed,
)

TICK = {"ticker_symbol": "AMZN", "sector": "TECHNOLOGY", "change": -1.25, "price": 185.5,
        "event_time_ms": 1_700_000_000_123}


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def v2_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "avro"
    folder.mkdir()
    (folder / "ticker.avsc").write_text(json.dumps(TICKER_V2))
    return folder


def test_encode_registers_under_the_subject_and_writes_its_id(client: FakeClient) -> None:
    codec = codec_for("avro", "ticker", catalog=catalog_on(client), subject="prices-value")
    raw = codec.encode(TICK)
    sid = client.subjects["prices-value"][0]
    assert raw[:5] == b"\x00" + sid.to_bytes(4, "big") and sid != 1
    assert codec.encode(TICK) == raw
    assert client.calls["register_schema"] == 1
    assert codec.decode(raw) == TICK
    plan = codec.plan(sid)
    assert plan.reader is None  # the writer is the reader: no resolution on the hot path
    assert client.calls["get_schema"] == 1


def test_v1_reader_reads_v2_records_dropping_the_new_field(client: FakeClient) -> None:
    v2 = client.add("prices-value", TICKER_V2)
    codec = codec_for("avro", "ticker", catalog=catalog_on(client))  # the bundled v1
    raw = framed(v2, TICKER_V2, {**TICK, "exchange": "XNAS"})
    assert codec.decode(raw) == TICK
    assert codec.plan(v2).reader is codec.schema


def test_v2_reader_fills_the_default_into_v1_records(client: FakeClient, v2_folder) -> None:
    v1 = client.add("prices-value", TICKER_V1)
    codec = codec_for("avro", "ticker", catalog=catalog_on(client, folder=v2_folder))
    assert codec.decode(framed(v1, TICKER_V1, TICK)) == {**TICK, "exchange": "XNYS"}


def test_writer_schemas_and_plans_are_cached_per_id(client: FakeClient) -> None:
    v1, v2 = client.add("p-value", TICKER_V1), client.add("p-value", TICKER_V2)
    codec = codec_for("avro", "ticker", catalog=catalog_on(client))
    for i in range(200):
        sid, schema = (v1, TICKER_V1) if i % 2 else (v2, TICKER_V2)
        extra = {} if i % 2 else {"exchange": "XNAS"}
        assert codec.decode(framed(sid, schema, {**TICK, "price": float(i), **extra})) == {
            **TICK, "price": float(i)}
    assert client.calls["get_schema"] == 2


def test_an_incompatible_writer_is_a_record_error_with_its_bytes(client: FakeClient) -> None:
    priced_in_text = {**TICKER_V1, "fields": [
        {"name": "price", "type": "string"} if f["name"] == "price" else f
        for f in TICKER_V1["fields"]]}
    sid = client.add("other-value", priced_in_text)
    raw = framed(sid, priced_in_text, {**TICK, "price": "185.50"})
    codec = codec_for("avro", "ticker", catalog=catalog_on(client))
    with pytest.raises(SchemaMismatchError) as info:
        codec.decode(raw)
    assert info.value.raw == raw
    assert info.value.reason.startswith(
        f"schema id {sid} (shardline.schemas.Ticker) cannot be read as ticker")
    missing = {**TICKER_V1, "fields": TICKER_V1["fields"][:-1]}  # no event_time_ms, no default
    sid2 = client.add("other-value", missing)
    with pytest.raises(CodecError, match=f"schema id {sid2} .* cannot be read as ticker"):
        codec.decode(framed(sid2, missing, {k: v for k, v in TICK.items()
                                            if k != "event_time_ms"}))
    other = {"type": "record", "name": "Click", "fields": [{"name": "page", "type": "string"}]}
    sid3 = client.add("clicks-value", other)
    with pytest.raises(CodecError, match=r"\(Click\) cannot be read as ticker"):
        codec.decode(framed(sid3, other, {"page": "/"}))


def test_an_unknown_id_is_a_record_error_with_its_bytes(client: FakeClient) -> None:
    codec = codec_for("avro", "ticker", catalog=catalog_on(client))
    raw = framed(999, TICKER_V1, TICK)
    with pytest.raises(SchemaMismatchError,
                       match="unknown schema id 999: not in the schema registry") as info:
        codec.decode(raw)
    assert info.value.raw == raw
    with pytest.raises(CodecError, match="unknown schema id 999") as info:
        decode_any(raw, catalog=codec.catalog)
    assert info.value.raw == raw


def test_registry_down_while_decoding_is_not_a_record_error(client: FakeClient) -> None:
    sid = client.add("p-value", TICKER_V1)
    codec = codec_for("avro", "ticker", catalog=catalog_on(client))
    client.down = True
    with pytest.raises(SchemaRegistryError):
        codec.decode(framed(sid, TICKER_V1, TICK))


def test_decode_any_reads_the_writers_shape(client: FakeClient) -> None:
    v2 = client.add("p-value", TICKER_V2)
    record = {**TICK, "exchange": "XNAS"}
    assert decode_any(framed(v2, TICKER_V2, record), catalog=catalog_on(client)) == record


def test_without_a_registry_only_the_fixed_id_is_read(v2_folder: Path) -> None:
    offline = SchemaCatalog(SchemaSources(folder=v2_folder))
    codec = codec_for("avro", "ticker", catalog=offline)
    with pytest.raises(ConfigError, match="no fixed id for Avro.*SHARDLINE_SCHEMA_REGISTRY_URL"):
        codec.encode(TICK)
    assert json.loads(codec_for("json", "ticker", catalog=offline).encode(TICK))["exchange"] \
        == "XNYS"
    (v2_folder / "ids.json").write_text('{"ticker": 7}')
    offline = SchemaCatalog(SchemaSources(folder=v2_folder))
    codec = codec_for("avro", "ticker", catalog=offline)
    raw = codec.encode(TICK)
    assert raw[:5] == b"\x00\x00\x00\x00\x07"
    assert codec.decode(raw) == {**TICK, "exchange": "XNYS"}
    with pytest.raises(CodecError, match=r"id 1 \(no known schema\) where 'ticker' \(id 7\)"):
        codec.decode(framed(1, TICKER_V1, TICK))
