"""Whatever the bytes, every decoder raises nothing but row errors, in a record or a batch."""

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ground.errors import RowError
from pipelines.sql.decoders import build_decoder
from schemas import codec_for
from tests.unit.pipelines.sql.decoders.schemas import CSV, TICKER, TICKER_AVRO, schema

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
