"""CSV records into rows as KDA maps them."""

import pytest

from pipelines.sql.decoders import MALFORMED_RECORD, SCHEMA_MISMATCH, build_decoder
from pipelines.sql.types import COERCION_ERROR, Timestamp, parse_timestamp
from tests.unit.pipelines.sql.decoders.schemas import CSV, error_name, schema


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
