"""Decoded values → values of a SQL type, and values → their output form."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ground.errors import RowError
from pipelines.sql.types import (
    COERCION_ERROR,
    Date,
    Interval,
    SqlType,
    Time,
    Timestamp,
    coerce,
    format_value,
    parse_timestamp,
    parse_type,
)


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
