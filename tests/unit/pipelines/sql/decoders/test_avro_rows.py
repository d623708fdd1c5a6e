"""AVRO records into rows, with and without a schema registry; the fused fast path."""

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ground.errors import RowError
from pipelines.sql.decoders import MALFORMED_RECORD, SCHEMA_MISMATCH, build_decoder
from pipelines.sql.types import COERCION_ERROR, Timestamp
from schemas import codec_for
from tests.unit.pipelines.sql.decoders.schemas import TICK, TICKER, TICKER_AVRO, error_name


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
    text_price = {
        **TICKER_V1,
        "fields": [
            {"name": "price", "type": "string"} if f["name"] == "price" else f
            for f in TICKER_V1["fields"]
        ],
    }
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
def test_avro_fused_decode_equals_decode_rows(tick: dict[str, Any], body: bytes, cut: int) -> None:
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
