"""Input schemas for the decoder tests: a builder, the ticker in JSON, CSV and AVRO."""

from typing import Any

import pytest

from ground.errors import RowError
from pipelines.sql.record_schema import Column, InputSchema, RecordFormat, RecordFormatType
from pipelines.sql.types import parse_type


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


CSV = schema(
    "CSV", ("SYM", "VARCHAR(4)"), ("PRICE", "REAL"), ("QTY", "INTEGER"), ("T", "TIMESTAMP")
)


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
