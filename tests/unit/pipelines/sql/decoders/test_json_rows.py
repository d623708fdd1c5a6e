"""JSON records into rows as KDA maps them."""

import json
from decimal import Decimal

import orjson
import pytest

from ground.errors import RowError
from pipelines.sql.decoders import MALFORMED_RECORD, SCHEMA_MISMATCH, build_decoder
from pipelines.sql.types import COERCION_ERROR, Timestamp, parse_timestamp
from tests.unit.pipelines.sql.decoders.schemas import (
    TICKER,
    error_name,
    schema,
)


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
