"""JSON → Parquet conversion: rows read back with pyarrow and compared with the input parsed
here; OpenX key rules; per-record failures with the original bytes; deterministic bytes."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import random
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.core import Record
from connectors.s3 import (
    FORMAT_CONVERSION_FAILED,
    KeyRules,
    ParquetCompression,
    ParquetEncoder,
    WriterVersion,
    avro_to_arrow,
    schema_for,
)
from connectors.s3.parquet import MALFORMED_DATA

TICKER = schema_for("ticker")
COLUMNS = TICKER.names


def records(values: list[bytes], first: int = 0) -> list[Record]:
    return [Record("t", 0, first + i, None, v, 1_700_000_000_000 + i) for i, v in enumerate(values)]


def ticks(n: int, seed: int = 1) -> list[dict]:
    rnd = random.Random(seed)
    return [{"ticker_symbol": rnd.choice(["AMZN", "MSFT", "TBV"]), "sector": "TECHNOLOGY",
             "change": round(rnd.uniform(-5, 5), 2), "price": round(rnd.uniform(1, 500), 2),
             "event_time_ms": 1_700_000_000_000 + i} for i in range(n)]


def read(body: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(body))


def test_rows_equal_the_input() -> None:
    rows = ticks(500)
    encoded = ParquetEncoder(TICKER).encode(records([json.dumps(r).encode() for r in rows]))
    table = read(encoded.body)
    assert table.schema.equals(TICKER)
    assert table.to_pylist() == rows
    assert len(encoded.records) == 500 and encoded.failures == ()
    meta = pq.ParquetFile(io.BytesIO(encoded.body)).metadata
    assert meta.num_row_groups == 1  # one row group per object by default
    assert meta.row_group(0).column(0).compression == "SNAPPY"  # ParquetSerDe's default


def test_missing_fields_are_null_extra_keys_ignored_keys_case_insensitive() -> None:
    values = [
        b'{"TICKER_SYMBOL": "AMZN", "Price": 10.5, "unknown": [1, 2], "nested": {"a": 1}}',
        b'{"sector": "ENERGY"}',
        b"{}",
    ]
    table = read(ParquetEncoder(TICKER).encode(records(values)).body)
    assert table.to_pylist() == [
        {"ticker_symbol": "AMZN", "sector": None, "change": None, "price": 10.5,
         "event_time_ms": None},
        {"ticker_symbol": None, "sector": "ENERGY", "change": None, "price": None,
         "event_time_ms": None},
        dict.fromkeys(COLUMNS),
    ]


def test_case_sensitive_when_asked() -> None:
    encoder = ParquetEncoder(TICKER, keys=KeyRules(case_insensitive=False))
    row = read(encoder.encode(records([b'{"TICKER_SYMBOL": "A", "price": 1}'])).body).to_pylist()
    assert row[0]["ticker_symbol"] is None and row[0]["price"] == 1.0


def test_column_to_json_key_mappings() -> None:
    encoder = ParquetEncoder(TICKER, keys=KeyRules(
        mappings={"ticker_symbol": "symbol", "event_time_ms": "timestamp"}))
    value = b'{"Symbol": "AMZN", "timestamp": 5, "ticker_symbol": "not the column now"}'
    (row,) = read(encoder.encode(records([value])).body).to_pylist()
    # the mapped key fills the column (case-insensitively); the column's own name is then
    # just a key that matches nothing
    assert row["ticker_symbol"] == "AMZN" and row["event_time_ms"] == 5


def test_dots_to_underscores() -> None:
    schema = avro_to_arrow({"type": "record", "name": "D", "fields": [
        {"name": "a_b", "type": ["null", "int"]}]}, all_nullable=True)
    value = [b'{"a.b": 7}']
    assert read(ParquetEncoder(schema).encode(records(value)).body).to_pylist() == [
        {"a_b": None}]
    on = ParquetEncoder(schema, keys=KeyRules(dots_to_underscores=True))
    assert read(on.encode(records(value)).body).to_pylist() == [{"a_b": 7}]


def test_failures_per_record_keep_the_original_bytes_and_the_rest_is_written() -> None:
    rows = ticks(6)
    values = [json.dumps(r).encode() for r in rows]
    bad = {
        1: b"not json \xff{",
        2: b'[{"ticker_symbol": "A"}]',  # an array of documents is not valid input
        3: json.dumps({**rows[3], "price": "abc"}).encode(),
        4: json.dumps({**rows[4], "event_time_ms": 1.5}).encode(),
    }
    for i, v in bad.items():
        values[i] = v
    encoded = ParquetEncoder(TICKER).encode(records(values, first=100))
    assert [r.offset for r in encoded.records] == [100, 105]
    assert read(encoded.body).to_pylist() == [rows[0], rows[5]]
    assert [f.record.offset for f in encoded.failures] == [101, 102, 103, 104]
    assert [f.record.value for f in encoded.failures] == [bad[i] for i in (1, 2, 3, 4)]
    assert {f.error_output_type for f in encoded.failures} == {FORMAT_CONVERSION_FAILED}
    assert {f.error_code for f in encoded.failures} == {MALFORMED_DATA}
    messages = [f.error_message for f in encoded.failures]
    assert "not valid JSON" in messages[0]
    assert "JSON array, not an object" in messages[1]
    assert "price" in messages[2] and '"abc"' in messages[2]
    assert "event_time_ms" in messages[3]


def test_everything_failing_makes_no_body() -> None:
    encoded = ParquetEncoder(TICKER).encode(records([b"nope", b"1"]))
    assert encoded.body == b"" and encoded.records == () and len(encoded.failures) == 2


def test_coercions() -> None:
    values = [
        b'{"ticker_symbol": 42, "sector": true, "change": "1.25", "price": 3,'
        b' "event_time_ms": "17"}',
        b'{"ticker_symbol": "X", "change": 2.0, "event_time_ms": 12.0}',
    ]
    assert read(ParquetEncoder(TICKER).encode(records(values)).body).to_pylist() == [
        {"ticker_symbol": "42", "sector": "true", "change": 1.25, "price": 3.0,
         "event_time_ms": 17},
        {"ticker_symbol": "X", "sector": None, "change": 2.0, "price": None,
         "event_time_ms": 12},
    ]


@pytest.mark.parametrize("value", [
    b'{"ticker_symbol": {"a": 1}}', b'{"ticker_symbol": [1]}', b'{"price": "1.2.3"}',
    b'{"price": true}', b'{"event_time_ms": 9223372036854775808}', b'{"event_time_ms": "x"}',
])
def test_values_that_cannot_be_coerced(value: bytes) -> None:
    encoded = ParquetEncoder(TICKER).encode(records([b'{"price": 1}', value]))
    assert [f.record.value for f in encoded.failures] == [value]
    assert read(encoded.body).num_rows == 1


RICH = avro_to_arrow({"type": "record", "name": "Rich", "fields": [
    {"name": "flag", "type": "boolean"},
    {"name": "small", "type": "int"},
    {"name": "ratio", "type": "float"},
    {"name": "blob", "type": "bytes"},
    {"name": "code", "type": {"type": "fixed", "name": "C", "size": 2}},
    {"name": "color", "type": {"type": "enum", "name": "Col", "symbols": ["RED"]}},
    {"name": "when", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "tod", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 6,
                                "scale": 2}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "attrs", "type": {"type": "map", "values": "long"}},
    {"name": "inner", "type": {"type": "record", "name": "In", "fields": [
        {"name": "Deep", "type": ["null", "string"]},
        {"name": "n", "type": "long"}]}},
]}, all_nullable=True)


def test_nested_and_logical_types() -> None:
    value = json.dumps({
        "flag": "TRUE", "small": 7, "ratio": 0.5, "blob": "hi", "code": "ab", "color": "RED",
        "when": "2024-01-02T03:04:05.678Z", "day": "2024-02-29", "tod": 1000,
        "amount": "12.345", "tags": ["a", "b"], "attrs": {"k": 1, "j": 2},
        "INNER": {"deep": "x", "N": 3, "ignored": 1},
    }).encode()
    other = b'{"when": 1700000000000, "day": 1, "amount": 3, "inner": {}}'
    encoded = ParquetEncoder(RICH).encode(records([value, other]))
    assert encoded.failures == ()
    got = read(encoded.body).to_pylist()
    utc = dt.UTC
    assert got[0] == {
        "flag": True, "small": 7, "ratio": 0.5, "blob": b"hi", "code": b"ab", "color": "RED",
        "when": dt.datetime(2024, 1, 2, 3, 4, 5, 678_000, tzinfo=utc),
        "day": dt.date(2024, 2, 29), "tod": dt.time(0, 0, 1),
        "amount": decimal.Decimal("12.35"),  # rounded half-up to the scale
        "tags": ["a", "b"], "attrs": [("k", 1), ("j", 2)],
        "inner": {"Deep": "x", "n": 3},
    }
    assert got[1]["when"] == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=utc)
    assert got[1]["day"] == dt.date(1970, 1, 2) and got[1]["amount"] == decimal.Decimal("3.00")
    assert got[1]["inner"] == {"Deep": None, "n": None} and got[1]["tags"] is None


@pytest.mark.parametrize(("column", "value"), [
    ("small", 2**31), ("code", "abc"), ("amount", "12345.6"), ("tags", "a"),
    ("attrs", [1]), ("inner", 5), ("tod", 86_400_000), ("day", "2024-02-30"), ("flag", "yes"),
])
def test_rich_mismatches(column: str, value: object) -> None:
    encoded = ParquetEncoder(RICH).encode(records([json.dumps({column: value}).encode()]))
    (failure,) = encoded.failures
    assert column in failure.error_message


@pytest.mark.parametrize("compression", list(ParquetCompression))
@pytest.mark.parametrize("version", list(WriterVersion))
def test_same_input_same_bytes(compression: ParquetCompression, version: WriterVersion) -> None:
    values = [json.dumps(r).encode() for r in ticks(300, seed=7)] + [b"bad"]
    first = ParquetEncoder(TICKER, compression=compression, writer_version=version)
    again = ParquetEncoder(TICKER, compression=compression, writer_version=version)
    a, b = first.encode(records(values)), again.encode(records(values))
    assert a.body == b.body and a.body[:4] == b"PAR1" and a.body[-4:] == b"PAR1"
    meta = pq.ParquetFile(io.BytesIO(a.body)).metadata
    expected = "UNCOMPRESSED" if compression is ParquetCompression.UNCOMPRESSED else \
        compression.value
    assert meta.row_group(0).column(2).compression == expected
    assert read(a.body).to_pylist() == ticks(300, seed=7)
    assert "parquet" in meta.created_by


def test_no_time_in_the_file() -> None:
    """Written a second apart (a replay is later), the bytes are the same: nothing in the file
    depends on when it was written."""
    values = records([json.dumps(r).encode() for r in ticks(20)])
    first = ParquetEncoder(TICKER).encode(values).body
    time.sleep(1.1)
    assert ParquetEncoder(TICKER).encode(values).body == first


def test_options_reach_the_file() -> None:
    values = [json.dumps(r).encode() for r in ticks(1000)]
    plain = ParquetEncoder(TICKER, enable_dictionary=False, row_group_rows=300)
    meta = pq.ParquetFile(io.BytesIO(plain.encode(records(values)).body)).metadata
    assert meta.num_row_groups == 4
    assert "RLE_DICTIONARY" not in meta.row_group(0).column(0).encodings
    dictionary = ParquetEncoder(TICKER)
    meta = pq.ParquetFile(io.BytesIO(dictionary.encode(records(values)).body)).metadata
    assert "RLE_DICTIONARY" in meta.row_group(0).column(0).encodings


def test_fast_and_slow_paths_agree() -> None:
    """A column converted in one pyarrow call and the same column coerced value by value (a
    bad row elsewhere forces that) give the same rows."""
    rows = ticks(50)
    good = [json.dumps(r).encode() for r in rows]
    mixed = good + [json.dumps({**rows[0], "price": "oops", "change": "1"}).encode()]
    enc = ParquetEncoder(TICKER)
    assert read(enc.encode(records(mixed)).body).to_pylist() == rows
    assert enc.encode(records(mixed)).body == enc.encode(records(good)).body


def test_avro_records_of_every_registered_version_convert_and_unknown_ids_fail() -> None:
    """With the table schema's Avro codec, Confluent-framed records convert too: each read with
    its writer's schema (v1, or v2 with one more field) resolved to the table's; an unknown id
    or an unreadable writer schema is a failure holding the record, JSON still converts."""
    from schemas import codec_for
    from tests.unit.schemas.fake_registry import (
        TICKER_V1,
        TICKER_V2,
        FakeClient,
        catalog_on,
        framed,
    )

    client = FakeClient()
    v1, v2 = client.add("t-value", TICKER_V1), client.add("t-value", TICKER_V2)
    text_price = {**TICKER_V1, "fields": [
        {"name": "price", "type": "string"} if f["name"] == "price" else f
        for f in TICKER_V1["fields"]]}
    bad = client.add("other", text_price)
    rows = ticks(4)
    values = [framed(v1, TICKER_V1, rows[0]), framed(v2, TICKER_V2, {**rows[1], "exchange": "X"}),
              json.dumps(rows[2]).encode(), framed(9999, TICKER_V1, rows[3]),
              framed(bad, text_price, {**rows[3], "price": "1.5"})]
    encoder = ParquetEncoder(TICKER, schema_name="ticker",
                             avro=codec_for("avro", "ticker", catalog=catalog_on(client)))
    encoded = encoder.encode(records(values))
    assert read(encoded.body).to_pylist() == rows[:3]
    assert [f.record.value for f in encoded.failures] == values[3:]
    assert all(f.error_code == MALFORMED_DATA for f in encoded.failures)
    assert "unknown schema id 9999" in encoded.failures[0].error_message
    assert "cannot be read as ticker" in encoded.failures[1].error_message
    # without the codec (a bare encoder), Avro bytes are not JSON
    assert len(ParquetEncoder(TICKER).encode(records(values[:1])).failures) == 1
