"""Temporal values: their text forms (against DuckDB), timestamp text, intervals."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.sql.types import (
    Date,
    Interval,
    SqlType,
    Time,
    Timestamp,
    TypeKind,
    parse_timestamp,
    parse_type,
)
from tests.unit.pipelines.sql.conftest import Oracle


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
    with pytest.raises(UnsupportedTypeError, match="year-month intervals not supported"):
        parse_type("INTERVAL YEAR TO MONTH")
    assert parse_type("INTERVAL YEAR TO MONTH", year_month=True).qualifier == "YEAR TO MONTH"
    assert parse_type("INTERVAL MONTH", year_month=True).qualifier == "MONTH"
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
