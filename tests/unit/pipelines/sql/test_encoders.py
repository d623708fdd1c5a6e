"""Encoding rows into records: JSON and CSV with KDA's text forms, and error-stream rows."""

import json
from decimal import Decimal

import pytest

from ground.errors import RowError
from pipelines.error_rows import ERROR_STREAM_COLUMNS, ErrorRow
from pipelines.sql.decoders import build_decoder
from pipelines.sql.encoders import build_encoder, timestamp_text
from pipelines.sql.record_schema import Column, InputSchema, RecordFormat, RecordFormatType
from pipelines.sql.types import COERCION_ERROR, Timestamp, parse_type

OUT = (
    Column("SYM", parse_type("VARCHAR(8)")),
    Column("N", parse_type("INTEGER")),
    Column("BIG", parse_type("BIGINT")),
    Column("X", parse_type("DOUBLE")),
    Column("OK", parse_type("BOOLEAN")),
    Column("T", parse_type("TIMESTAMP")),
    Column("D", parse_type("DECIMAL(6,2)")),
)
ROW = ('a,"b"', 7, 2**40, 0.1, True, Timestamp(1_700_000_000_005), Decimal("12.50"))


def test_json_encoding_uses_column_names_and_kda_timestamps() -> None:
    out = build_encoder(OUT, "JSON").encode(ROW)
    assert json.loads(out) == {
        "SYM": 'a,"b"',
        "N": 7,
        "BIG": 2**40,
        "X": 0.1,
        "OK": True,
        "T": "2023-11-14 22:13:20.005",
        "D": 12.5,
    }
    assert build_encoder(OUT, "json").encode((None,) * 7) == (
        b'{"SYM":null,"N":null,"BIG":null,"X":null,"OK":null,"T":null,"D":null}'
    )


def test_json_round_trip() -> None:
    encoder = build_encoder(OUT, "JSON")
    decoder = build_decoder(
        InputSchema(
            RecordFormat(RecordFormatType.JSON),
            tuple(Column(c.name, c.sql_type, f"$.{c.name}") for c in OUT),
        )
    )
    assert decoder.decode(encoder.encode(ROW)) == ROW
    rows = [ROW, (None,) * 7, ("", -1, 0, -2.5, False, Timestamp(0), Decimal("0.00"))]
    assert [decoder.decode(r) for r in encoder.encode_many(rows)] == rows


@pytest.mark.parametrize("fmt", ["JSON", "CSV"])
def test_encoding_stream_rows_skips_their_rowtime(fmt: str) -> None:
    encoder = build_encoder(OUT, fmt)
    rows = [ROW, (None,) * 7, ("", -1, 0, -2.5, False, Timestamp(0), Decimal("0.00"))]
    stream_rows = [(Timestamp(9), *r) for r in rows]
    assert encoder.encode_many(stream_rows, 1) == [encoder.encode(r) for r in rows]
    with pytest.raises(ValueError, match="a row of 6 values for 7 columns"):
        encoder.encode_many([stream_rows[0][:-1]], 1)
    if fmt == "JSON":
        with pytest.raises(RowError, match="cannot write the row"):
            encoder.encode_many([(Timestamp(9), *ROW[:-1], object())], 1)


def test_csv_encoding_is_one_line_without_delimiter() -> None:
    encoder = build_encoder(OUT, "CSV")
    line = encoder.encode(ROW)
    assert line == b'"a,""b""",7,1099511627776,0.1,TRUE,2023-11-14 22:13:20.005,12.50'
    assert encoder.encode(("", None, None, None, None, None, None)) == b'"",,,,,,'
    decoder = build_decoder(InputSchema(RecordFormat(RecordFormatType.CSV), OUT))
    assert decoder.decode(line) == ROW


def test_encoders_check_the_row_length_and_format() -> None:
    with pytest.raises(ValueError):
        build_encoder(OUT, "JSON").encode((1,))
    with pytest.raises(ValueError):
        build_encoder(OUT, "AVRO")


def test_timestamp_text_matches_the_type() -> None:
    for ms in (0, 1, 999, 1_700_000_000_123, -1, -86_400_001, 253_402_300_799_999):
        assert timestamp_text(ms) == Timestamp(ms).text()


def test_error_rows_as_kda_error_stream_rows() -> None:
    error = RowError(COERCION_ERROR, "cannot convert 'x' to INTEGER")
    row = ErrorRow.from_row_error(
        error,
        b"\x00raw",
        error_time_ms=1_700_000_000_000,
        data_rowtime_ms=None,
        pump_name="SOURCE_SQL_STREAM_001",
        source_topic="t",
        source_partition=1,
        source_offset=42,
    )
    out = json.loads(build_encoder(ERROR_STREAM_COLUMNS, "JSON").encode(row.as_sql_row()))
    assert out["ERROR_TIME"] == "2023-11-14 22:13:20.000"
    assert out["ERROR_NAME"] == COERCION_ERROR and out["ERROR_LEVEL"] == "ERROR"
    assert out["DATA_ROWTIME"] is None and out["PUMP_NAME"] == "SOURCE_SQL_STREAM_001"
    assert ErrorRow.original_bytes(out) == b"\x00raw"
    assert (out["SOURCE_TOPIC"], out["SOURCE_PARTITION"], out["SOURCE_OFFSET"]) == ("t", 1, 42)
