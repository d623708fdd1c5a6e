"""pipelines/sql/types.py: type parsing, value text forms, input coercion."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ground.errors import RowError
from pipelines.sql.types import (
    COERCION_ERROR,
    Date,
    Interval,
    SqlType,
    Time,
    Timestamp,
    TypeKind,
    coerce,
    format_value,
    parse_timestamp,
    parse_type,
)

from .conftest import Oracle


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("VARCHAR(4)", SqlType(TypeKind.VARCHAR, length=4)),
        (" real ", SqlType(TypeKind.REAL)),
        ("DECIMAL(10,2)", SqlType(TypeKind.DECIMAL, precision=10, scale=2)),
        ("numeric(5)", SqlType(TypeKind.DECIMAL, precision=5)),
        ("DOUBLE   PRECISION", SqlType(TypeKind.DOUBLE)),
        ("character varying(8)", SqlType(TypeKind.VARCHAR, length=8)),
        ("INT", SqlType(TypeKind.INTEGER)),
        ("TIMESTAMP", SqlType(TypeKind.TIMESTAMP)),
    ],
)
def test_parse_type(text: str, want: SqlType) -> None:
    assert parse_type(text) == want


@pytest.mark.parametrize("text", ["VARCHAR(", "BLOB", "INTEGER(4)", "VARCHAR(1,2)", ""])
def test_parse_type_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_type(text)


def test_type_str_and_predicates() -> None:
    assert str(parse_type("decimal(10, 2)")) == "DECIMAL(10,2)"
    assert str(parse_type("varchar(3)")) == "VARCHAR(3)"
    assert parse_type("SMALLINT").is_integer and parse_type("REAL").is_numeric
    assert parse_type("CHAR(2)").is_string and parse_type("DATE").is_temporal
    assert not parse_type("BOOLEAN").is_numeric


def test_text_forms_match_duckdb(oracle: Oracle) -> None:
    r = random.Random(5)
    ms = [r.randint(-62_135_596_800_000, 253_402_300_799_999) for _ in range(300)]
    cols = {"t": ("BIGINT", ms)}
    want = oracle("strftime(epoch_ms(t), '%Y-%m-%d %H:%M:%S.%g')", cols)
    assert [Timestamp(m).text() for m in ms] == want
    days = [m - m % 86_400_000 for m in ms]
    assert [Date(d).text() for d in days] == [w[:10] for w in want]
    assert [Time(m % 86_400_000).text() for m in ms] == [w[11:] for w in want]


def test_text_forms_pad_small_years() -> None:
    # fixed in this branch: strftime('%Y') does not zero-pad years below 1000
    first = parse_timestamp("0001-01-01 00:00:00")
    assert Timestamp(first).text() == "0001-01-01 00:00:00.000"
    assert Date(first).text() == "0001-01-01"
    assert repr(Timestamp(0)) == "TIMESTAMP '1970-01-01 00:00:00.000'"
    assert Interval(-90_061_001).text() == "-1 01:01:01.001"


@given(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)))
def test_parse_timestamp_inverts_text(moment: dt.datetime) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    ms = (moment - dt.datetime(1970, 1, 1)) // dt.timedelta(milliseconds=1)
    assert parse_timestamp(Timestamp(ms).text()) == ms


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2026-11-22 10:15:00.123", "2026-11-22T10:15:00.123+00:00"),
        ("2026-11-22T10:15", "2026-11-22T10:15:00+00:00"),
        ("2026-11-22", "2026-11-22T00:00:00+00:00"),
        ("2026-11-22 10:15:00Z", "2026-11-22T10:15:00+00:00"),
        ("2026-11-22 10:15:00+02:00", "2026-11-22T10:15:00+02:00"),
        ("2026-11-22 10:15:00-0530", "2026-11-22T10:15:00-05:30"),
        ("2026-11-22 10:15:00.1234567", "2026-11-22T10:15:00.123+00:00"),
    ],
)
def test_parse_timestamp_forms(text: str, iso: str) -> None:
    want = dt.datetime.fromisoformat(iso).timestamp() * 1000
    assert parse_timestamp(text) == round(want)
    assert type(parse_timestamp(text)) is Timestamp


@pytest.mark.parametrize("text", ["2026-02-30", "2026-11-22 25:00", "22/11/2026", "", "2026-1"])
def test_parse_timestamp_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


def T(text: str) -> SqlType:
    return parse_type(text)


def coercion_fails(value: Any, target: str) -> bool:
    with pytest.raises(RowError) as info:
        coerce(value, T(target))
    return info.value.name == COERCION_ERROR


def test_coerce_integers() -> None:
    assert coerce(" 12 ", T("INTEGER")) == 12
    assert coerce(12.0, T("BIGINT")) == 12
    assert coerce(Decimal("7"), T("TINYINT")) == 7
    assert coercion_fails(12.5, "INTEGER")
    assert coercion_fails(128, "TINYINT")
    assert coercion_fails(2**31, "INTEGER")
    assert coercion_fails(True, "INTEGER")
    assert coercion_fails("1e3", "INTEGER")
    assert coerce(None, T("INTEGER")) is None


def test_coerce_decimal_rounds_half_up_and_checks_precision() -> None:
    # fixed in this branch: quantize used the default half-even rounding, NaN was accepted and
    # the precision was ignored
    assert coerce("2.345", T("DECIMAL(10,2)")) == Decimal("2.35")
    assert coerce("-2.345", T("DECIMAL(10,2)")) == Decimal("-2.35")
    assert coerce(2.5, T("DECIMAL(3,0)")) == Decimal("3")
    assert coercion_fails("NaN", "DECIMAL(10,2)")
    assert coercion_fails("Infinity", "DECIMAL")
    assert coercion_fails(123456, "DECIMAL(5,2)")
    assert coercion_fails("999.995", "DECIMAL(5,2)")
    assert coerce("999.99", T("DECIMAL(5,2)")) == Decimal("999.99")


def test_coerce_strings() -> None:
    assert coerce("abcd", T("VARCHAR(4)")) == "abcd"
    assert coercion_fails("abcde", "VARCHAR(4)")  # input mapping errors; CAST would cut
    assert coerce(True, T("VARCHAR")) == "TRUE"
    assert coerce(12, T("VARCHAR")) == "12"
    # fixed in this branch: datetimes are int subclasses and used to hit the int branch,
    # producing "TIMESTAMP '…'" instead of the value's text
    assert coerce(Timestamp(0), T("VARCHAR(30)")) == "1970-01-01 00:00:00.000"
    assert coerce(Date(0), T("VARCHAR")) == "1970-01-01"
    assert coerce(Time(1), T("VARCHAR")) == "00:00:00.001"
    assert coerce(Interval(1000), T("VARCHAR")) == "0 00:00:01.000"


def test_coerce_temporal_and_others() -> None:
    assert coerce(1_700_000_000_123, T("TIMESTAMP")) == Timestamp(1_700_000_000_123)
    assert type(coerce("2024-01-02 03:04:05", T("TIMESTAMP"))) is Timestamp
    assert coerce("2024-01-02 03:04:05", T("DATE")) == parse_timestamp("2024-01-02")
    assert coerce(-1, T("DATE")) == Date(-86_400_000)
    assert coerce("10:15:30.5", T("TIME")) == Time(36_930_500)
    assert coerce(90_000_000, T("TIME")) == Time(3_600_000)
    assert coerce(5, T("INTERVAL")) == Interval(5)
    assert coerce(" true ", T("BOOLEAN")) is True
    assert coerce("00ff", T("VARBINARY")) == b"\x00\xff"
    assert coerce(3, T("DOUBLE")) == 3.0 and type(coerce(3, T("REAL"))) is float
    assert coercion_fails(1.5, "TIMESTAMP")
    assert coercion_fails("maybe", "BOOLEAN")
    assert coercion_fails("zz", "BINARY")
    assert coercion_fails(True, "DOUBLE")


def test_format_value() -> None:
    assert format_value(Timestamp(0)) == "1970-01-01 00:00:00.000"
    assert format_value(Date(0)) == "1970-01-01"
    assert format_value(Interval(5)) == 5 and type(format_value(Interval(5))) is int
    assert format_value(Decimal("1.5")) == 1.5
    assert format_value(b"\x01") == "01"
    assert format_value("x") == "x" and format_value(None) is None and format_value(True) is True


def test_temporal_values_are_ints() -> None:
    a, b = Timestamp(5), Timestamp(7)
    assert a < b and a + 2 == b and hash(a) == hash(5)
    assert type(a + 2) is int  # arithmetic drops the class, as the module documents


def test_interval_types_and_their_text() -> None:
    # sql-reference-abs.html: CAST(ABS(INTERVAL '-3 4:20' DAY TO MINUTE) AS VARCHAR(8)) is
    # '+3 04:20'; sql-reference-date-timestamp-interval.html writes '+4 04' DAY TO HOUR and
    # '-2 04' DAY TO HOUR.
    from pipelines.sql.types import UnsupportedTypeError, interval_text

    assert parse_type("INTERVAL DAY TO MINUTE") == SqlType(
        TypeKind.INTERVAL, qualifier="DAY TO MINUTE"
    )
    assert parse_type("interval minute(2) to second(3)").qualifier == "MINUTE TO SECOND"
    assert str(parse_type("INTERVAL HOUR")) == "INTERVAL HOUR"
    with pytest.raises(UnsupportedTypeError):
        parse_type("INTERVAL YEAR TO MONTH")
    for bad in ("INTERVAL SECOND TO DAY", "INTERVAL WEEK"):
        with pytest.raises(ValueError):
            parse_type(bad)
    day, hour, minute = 86_400_000, 3_600_000, 60_000
    assert interval_text(3 * day + 4 * hour + 20 * minute, "DAY TO MINUTE") == "+3 04:20"
    assert interval_text(4 * day + 4 * hour, "DAY TO HOUR") == "+4 04"
    assert interval_text(-(2 * day + 4 * hour), "DAY TO HOUR") == "-2 04"
    assert interval_text(26 * hour + 3 * minute + 4500, "HOUR TO SECOND") == "+26:03:04.500"
    assert interval_text(-5678, "SECOND") == "-5.678"
    assert interval_text(-90_061_001, None) == Interval(-90_061_001).text()
