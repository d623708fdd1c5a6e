"""Decoding records into rows: JSON, CSV and AVRO as KDA maps them, and only row errors."""

import json
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ground.errors import RowError
from pipelines.sql.decoders import MALFORMED_RECORD, SCHEMA_MISMATCH, build_decoder
from pipelines.sql.record_schema import Column, InputSchema, RecordFormat, RecordFormatType
from pipelines.sql.types import COERCION_ERROR, Timestamp, parse_timestamp, parse_type
from schemas import codec_for


def schema(kind: str, *columns: tuple[str, str] | tuple[str, str, str], **fmt: Any) -> InputSchema:
    cols = tuple(Column(c[0], parse_type(c[1]), c[2] if len(c) > 2 else None) for c in columns)
    return InputSchema(RecordFormat(RecordFormatType(kind), **fmt), cols)


def error_name(decoder: Any, raw: Any) -> str:
    with pytest.raises(RowError) as err:
        decoder.decode_rows(raw)
    return err.value.name


TICKER = schema(
    "JSON",
    ("TICKER_SYMBOL", "VARCHAR(4)", "$.ticker_symbol"),
    ("PRICE", "REAL", "$.price"),
    ("EVENT_TIME", "TIMESTAMP", "$.event_time_ms"),
)

# -- JSON ------------------------------------------------------------------------------------


def test_json_columns_in_record_columns_order_and_typed() -> None:
    d = build_decoder(TICKER)
    row = d.decode(b'{"price": 12, "event_time_ms": 1700000000123, "ticker_symbol": "AMZN"}')
    assert row == ("AMZN", 12.0, Timestamp(1_700_000_000_123))
    assert isinstance(row[1], float) and isinstance(row[2], Timestamp)
    assert d.decode(
        b'{"ticker_symbol":"A","price":"1.5","event_time_ms":"2024-01-02 03:04:05.6"}'
    ) == ("A", 1.5, parse_timestamp("2024-01-02 03:04:05.600"))


def test_json_missing_elements_and_nulls_are_null_as_in_kda() -> None:
    d = build_decoder(TICKER)
    assert d.decode(b'{"ticker_symbol": null}') == (None, None, None)
    assert d.decode(b"{}") == (None, None, None)


def test_nested_paths() -> None:
    d = build_decoder(
        schema(
            "JSON",
            ("CITY", "VARCHAR(16)", "$.address.city"),
            ("FIRST", "INTEGER", "$.nums[0]"),
            ("LAST", "INTEGER", "$.nums[-1]"),
            ("SPACED", "VARCHAR(8)", "$['a b']"),
            ("DEEP", "DOUBLE", '$["x"].y[1].z'),
            ("ANY", "INTEGER", "$..only"),
            ("GONE", "VARCHAR(4)", "$.address.street.number"),
        )
    )
    raw = orjson.dumps(
        {
            "address": {"city": "Anytown", "street": "Main"},
            "nums": [1, 2, 3],
            "a b": "yes",
            "x": {"y": [{}, {"z": 2.5}]},
            "deep": {"only": 7},
        }
    )
    assert d.decode(raw) == ("Anytown", 1, 3, "yes", 2.5, 7, None)


def test_json_conversions_follow_kda() -> None:
    d = build_decoder(
        schema(
            "JSON",
            ("OBJ", "VARCHAR(64)", "$.obj"),
            ("ARR", "VARCHAR(64)", "$.arr[0:]"),
            ("FLAG", "INTEGER", "$.flag"),
            ("TRUTH", "BOOLEAN", "$.num"),
            ("NUMTEXT", "VARCHAR(8)", "$.n"),
            ("DEC", "DECIMAL(5,2)", "$.d"),
        )
    )
    row = d.decode(b'{"obj":{"a":1},"arr":[1,"x"],"flag":true,"num":0,"n":12.5,"d":1.5}')
    assert row == ('{"a":1}', '[1,"x"]', 1, False, "12.5", Decimal("1.50"))


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (b'{"ticker_symbol": "TOOLONG"}', COERCION_ERROR),
        (b'{"price": "abc"}', COERCION_ERROR),
        (b'{"price": {"a": 1}}', COERCION_ERROR),
        (b'{"event_time_ms": "yesterday"}', COERCION_ERROR),
        (b'{"event_time_ms": true}', COERCION_ERROR),
        (b"not json", MALFORMED_RECORD),
        (b"", MALFORMED_RECORD),
        (b'{"ticker_symbol": "\xff\xfe"}', MALFORMED_RECORD),
        (b"\xff\xfe{}", MALFORMED_RECORD),
        (b'{"price": NaN}', MALFORMED_RECORD),
        (None, MALFORMED_RECORD),
        (b"42", SCHEMA_MISMATCH),
        (b"[1, 2]", SCHEMA_MISMATCH),
    ],
)
def test_json_failures_are_row_errors_with_kda_names(raw: bytes, name: str) -> None:
    assert error_name(build_decoder(TICKER), raw) == name


def test_record_row_path_gives_zero_to_n_rows() -> None:
    cols = (("ID", "INTEGER", "$.id"),)
    d = build_decoder(schema("JSON", *cols, record_row_path="$.records[0:]"))
    assert d.decode_rows(b'{"records": [{"id": 1}, {"id": 2}, {}]}') == [(1,), (2,), (None,)]
    assert d.decode_rows(b'{"records": []}') == []
    assert d.decode_rows(b'{"records": {"id": 5}}') == [(5,)]
    assert error_name(d, b'{"other": 1}') == SCHEMA_MISMATCH
    assert error_name(d, b'{"records": [1]}') == SCHEMA_MISMATCH
    with pytest.raises(RowError) as err:
        d.decode(b'{"records": [{"id": 1}, {"id": 2}]}')
    assert err.value.name == SCHEMA_MISMATCH
    whole = build_decoder(schema("JSON", *cols))
    assert whole.decode_rows(b'[{"id": 1}, {"id": 2}]') == [(1,), (2,)]


ORDERS = orjson.dumps(
    {
        "customerName": "John Doe",
        "orders": [
            {"orderId": "23284", "itemPrice": "33.99"},
            {"orderId": "63122", "itemPrice": "22.50"},
            {"orderId": "77284"},
        ],
    }
)


def test_flattening_one_array_repeats_the_other_columns() -> None:
    d = build_decoder(
        schema(
            "JSON",
            ("NAME", "VARCHAR(16)", "$.customerName"),
            ("ORDER_ID", "INTEGER", "$.orders[0:].orderId"),
            ("PRICE", "DOUBLE", "$.orders[0:].itemPrice"),
        )
    )
    assert d.decode_rows(ORDERS) == [
        ("John Doe", 23284, 33.99),
        ("John Doe", 63122, 22.5),
        ("John Doe", 77284, None),
    ]
    # an empty or missing array still gives one row, of NULLs for the flattened columns
    assert d.decode_rows(b'{"customerName": "X", "orders": []}') == [("X", None, None)]
    assert d.decode_rows(b'{"customerName": "X"}') == [("X", None, None)]


def test_whole_array_is_one_value() -> None:
    d = build_decoder(schema("JSON", ("ORDERS", "VARCHAR(256)", "$.orders[0:]")))
    (row,) = d.decode_rows(ORDERS)
    assert json.loads(row[0]) == orjson.loads(ORDERS)["orders"]


def test_decode_many_keeps_going_and_says_where_rows_came_from() -> None:
    d = build_decoder(schema("JSON", ("ID", "INTEGER", "$.id"), record_row_path="$.r"))
    batch = d.decode_many(
        [
            b'{"r": {"id": 1}}',
            b"garbage",
            b'{"r": [{"id": 2}, {"id": 3}]}',
            b'{"r": []}',
            b'{"r": {"id": "x"}}',
        ]
    )
    assert batch.rows == [(1,), (2,), (3,)]
    assert batch.sources == [0, 2, 2]
    assert [(i, e.name) for i, e in batch.errors] == [(1, MALFORMED_RECORD), (4, COERCION_ERROR)]
    rows, sources, errors = batch  # a NamedTuple: unpacks


# -- CSV -------------------------------------------------------------------------------------

CSV = schema(
    "CSV", ("SYM", "VARCHAR(4)"), ("PRICE", "REAL"), ("QTY", "INTEGER"), ("T", "TIMESTAMP")
)


def test_csv_rows_are_positional_and_a_record_may_hold_several() -> None:
    d = build_decoder(CSV)
    assert d.decode_rows(b"AMZN,1.5,3,1700000000000\r\nXYZ,2,,2024-01-02 03:04:05.006\n\n") == [
        ("AMZN", 1.5, 3, Timestamp(1_700_000_000_000)),
        ("XYZ", 2.0, None, parse_timestamp("2024-01-02 03:04:05.006")),
    ]
    assert d.decode(b"A,1,2,0,extra,fields") == ("A", 1.0, 2, Timestamp(0))
    assert d.decode(b",1,2,0") == ("", 1.0, 2, Timestamp(0))


def test_csv_quoting_follows_python_csv() -> None:
    d = build_decoder(schema("CSV", ("NAME", "VARCHAR(32)"), ("N", "INTEGER")))
    assert d.decode_rows(b'"Doe, John",1\n"say ""hi""\nthere",2\n') == [
        ("Doe, John", 1),
        ('say "hi"\nthere', 2),
    ]


def test_csv_custom_delimiters_and_header() -> None:
    d = build_decoder(
        schema(
            "CSV",
            ("A", "VARCHAR(8)"),
            ("B", "INTEGER"),
            record_row_delimiter=";",
            record_column_delimiter="||",
            skip_header_lines=1,
        )
    )
    assert d.decode_rows(b"a||b;x||1;y||2;") == [("x", 1), ("y", 2)]
    pipes = build_decoder(
        schema(
            "CSV",
            ("A", "VARCHAR(8)"),
            ("B", "INTEGER"),
            record_row_delimiter="|",
            record_column_delimiter="\t",
        )
    )
    assert pipes.decode_rows(b'"x\ty"\t1|z\t2') == [("x\ty", 1), ("z", 2)]


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (b"AMZN,1.5", SCHEMA_MISMATCH),
        (b"AMZN,abc,1,0", COERCION_ERROR),
        (b"TOOLONG,1,1,0", COERCION_ERROR),
        (b"A,1,1.5,0", COERCION_ERROR),
        (b"\xff,1,1,0", MALFORMED_RECORD),
        (None, MALFORMED_RECORD),
    ],
)
def test_csv_failures(raw: bytes, name: str) -> None:
    assert error_name(build_decoder(CSV), raw) == name


# -- AVRO ------------------------------------------------------------------------------------

TICKER_AVRO = schema(
    "AVRO",
    ("TICKER_SYMBOL", "VARCHAR(4)", "$['ticker_symbol']"),
    ("SECTOR", "VARCHAR(16)", "$.sector"),
    ("PRICE", "REAL", "$.price"),
    ("EVENT_TIME", "TIMESTAMP", "$.event_time_ms"),
    avro_schema="ticker",
)
TICK = {
    "ticker_symbol": "AMZN",
    "sector": "TECHNOLOGY",
    "change": 0.5,
    "price": 100.25,
    "event_time_ms": 1_700_000_000_000,
}


def test_avro_records_map_fields() -> None:
    raw = codec_for("avro", "ticker").encode(TICK)
    assert build_decoder(TICKER_AVRO).decode(raw) == (
        "AMZN",
        "TECHNOLOGY",
        100.25,
        Timestamp(1_700_000_000_000),
    )


def test_avro_failures() -> None:
    d = build_decoder(TICKER_AVRO)
    raw = codec_for("avro", "ticker").encode(TICK)
    other = codec_for("avro", "clickstream")
    assert error_name(d, raw[:-3]) == MALFORMED_RECORD
    assert error_name(d, raw + b"\x00") == MALFORMED_RECORD
    assert error_name(d, orjson.dumps(TICK)) == MALFORMED_RECORD
    assert error_name(d, b"\x00\x00\x00\x00" + other.schema_id.to_bytes(1, "big")) == (
        SCHEMA_MISMATCH
    )
    long = codec_for("avro", "ticker").encode({**TICK, "ticker_symbol": "TOOLONG"})
    assert error_name(d, long) == COERCION_ERROR


def test_avro_with_a_registry_resolves_every_writer_version(tmp_path) -> None:
    """The reader's schema is the bundled ticker (v1); records written with v1 and with v2 (a
    field added with a default) give the same rows, through the fused fast path and the
    general one; the registry is asked once per id."""
    from tests.unit.schemas.fake_registry import (
        TICKER_V1,
        TICKER_V2,
        FakeClient,
        catalog_on,
        framed,
    )

    client = FakeClient()
    v1, v2 = client.add("t-value", TICKER_V1), client.add("t-value", TICKER_V2)
    d = build_decoder(TICKER_AVRO, catalog_on(client))
    assert d.prefixed is not None
    row = ("AMZN", "TECHNOLOGY", 100.25, Timestamp(1_700_000_000_000))
    records = [framed(v1, TICKER_V1, TICK), framed(v2, TICKER_V2, {**TICK, "exchange": "X"})] * 3
    assert [d.prefixed((), raw) for raw in records] == [row] * 6
    batch = d.decode_many(records)
    assert batch.rows == [row] * 6 and batch.errors == []
    assert client.calls["get_schema"] == 2


def test_avro_with_a_registry_unknown_or_unreadable_ids_are_schema_mismatches() -> None:
    from tests.unit.schemas.fake_registry import TICKER_V1, FakeClient, catalog_on, framed

    client = FakeClient()
    text_price = {**TICKER_V1, "fields": [
        {"name": "price", "type": "string"} if f["name"] == "price" else f
        for f in TICKER_V1["fields"]]}
    bad = client.add("other-value", text_price)
    good = client.add("t-value", TICKER_V1)
    d = build_decoder(TICKER_AVRO, catalog_on(client))
    unknown = framed(4242, TICKER_V1, TICK)
    unreadable = framed(bad, text_price, {**TICK, "price": "100.25"})
    batch = d.decode_many([unknown, framed(good, TICKER_V1, TICK), unreadable])
    assert [(i, e.name) for i, e in batch.errors] == [(0, SCHEMA_MISMATCH), (2, SCHEMA_MISMATCH)]
    assert "unknown schema id 4242" in batch.errors[0][1].message
    assert "cannot be read as ticker" in batch.errors[1][1].message
    assert error_name(d, framed(good, TICKER_V1, TICK)[:-2]) == MALFORMED_RECORD
    with pytest.raises(RowError, match="unknown schema id 4242"):
        d.prefixed((), unknown)  # type: ignore[misc]


def test_avro_registry_down_stops_the_batch_instead_of_making_error_rows() -> None:
    from ground.errors import SchemaRegistryError
    from tests.unit.schemas.fake_registry import TICKER_V1, FakeClient, catalog_on, framed

    client = FakeClient()
    sid = client.add("t-value", TICKER_V1)
    d = build_decoder(TICKER_AVRO, catalog_on(client))
    client.down = True
    with pytest.raises(SchemaRegistryError):
        d.decode_many([framed(sid, TICKER_V1, TICK)])
    with pytest.raises(SchemaRegistryError):
        d.prefixed((), framed(sid, TICKER_V1, TICK))  # type: ignore[misc]
    client.down = False
    assert d.decode_many([framed(sid, TICKER_V1, TICK)]).errors == []


# -- never anything but RowError -------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["id", "ticker_symbol", "price", "event_time_ms", "orders", "r", "x"]),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)
DECODERS = [
    build_decoder(TICKER),
    build_decoder(
        schema(
            "JSON",
            ("N", "VARCHAR(3)", "$.customerName"),
            ("O", "BIGINT", "$.orders[0:].x"),
            record_row_path="$.r",
        )
    ),
    build_decoder(
        schema(
            "JSON",
            ("N", "BOOLEAN", "$..x"),
            ("D", "DATE", "$.id"),
            ("T", "TIME", "$.price"),
            ("B", "VARBINARY(4)", "$.r"),
        )
    ),
    build_decoder(CSV),
    build_decoder(
        schema("CSV", ("A", "DECIMAL(4,2)"), ("B", "BOOLEAN"), record_column_delimiter="|")
    ),
    build_decoder(TICKER_AVRO),
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_only_ever_raise_row_errors(raw: bytes) -> None:
    for d in DECODERS:
        try:
            d.decode_rows(raw)
        except RowError:
            pass
        batch = d.decode_many([raw, raw])
        assert len(batch.errors) in (0, 2)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_arbitrary_json_only_ever_raises_row_errors(value: Any) -> None:
    raw = orjson.dumps(value)
    for d in DECODERS:
        try:
            d.decode_rows(raw)
        except RowError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_avro_framed_garbage_only_raises_row_errors(body: bytes) -> None:
    raw = b"\x00" + codec_for("avro", "ticker").schema_id.to_bytes(4, "big") + body
    try:
        build_decoder(TICKER_AVRO).decode_rows(raw)
    except RowError:
        pass


def _outcome(fn: Any, raw: bytes) -> Any:
    try:
        return ("row", fn(raw))
    except RowError as exc:
        return ("error", exc.name, exc.message)


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN, and of the same types."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is float and a != a:
        return type(b) is float and b != b
    return type(a) is type(b) and a == b


TICKS = st.fixed_dictionaries(
    {
        "ticker_symbol": st.text(max_size=6),
        "sector": st.text(max_size=20),
        "change": st.floats(allow_nan=False, width=64),
        "price": st.floats(width=64),
        "event_time_ms": st.integers(-(2**63), 2**63 - 1),
    }
)


@settings(max_examples=300, deadline=None)
@given(TICKS, st.binary(max_size=40), st.integers(0, 3))
def test_avro_fused_decode_equals_decode_rows(
    tick: dict[str, Any], body: bytes, cut: int
) -> None:
    """The processor's fused AVRO path gives the row (after the prefix) or the RowError that
    ``decode_rows`` gives, for valid records, cut or padded ones and framed garbage."""
    d = build_decoder(TICKER_AVRO)
    assert d.prefixed is not None
    good = codec_for("avro", "ticker").encode(tick)
    header = good[:5]
    prefix = (Timestamp(1), Timestamp(2))

    def fused(raw: bytes) -> Any:
        row = d.prefixed(prefix, raw)  # type: ignore[misc]
        assert row[:2] == prefix
        return row[2:]

    def reference(raw: bytes) -> Any:
        return d.decode(raw)

    for raw in (good, good[: len(good) - cut], good + body[:cut], header + body, body):
        assert _same(_outcome(fused, raw), _outcome(reference, raw))


def test_avro_fused_decode_is_absent_for_row_arrays() -> None:
    assert build_decoder(TICKER).prefixed is None  # JSON: decode_rows
