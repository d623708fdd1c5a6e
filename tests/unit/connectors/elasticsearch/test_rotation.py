"""Index-name suffixes for concrete instants, written out by hand from Firehose's rules."""

from datetime import UTC, date, datetime, timedelta

import pytest

from connectors.elasticsearch import IndexRotationPeriod, index_for, week_of

P = IndexRotationPeriod


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_the_guides_example_instant() -> None:
    t = ms("2016-02-25T13:00:00")
    assert index_for("myindex", P.NO_ROTATION, t) == "myindex"
    assert index_for("myindex", P.ONE_HOUR, t) == "myindex-2016-02-25-13"
    assert index_for("myindex", P.ONE_DAY, t) == "myindex-2016-02-25"
    assert index_for("myindex", P.ONE_MONTH, t) == "myindex-2016-02"
    # The guide's table says w08 (the ISO week); its stated US rule gives w09:
    # week 1 = Sun 2015-12-27..Sat 2016-01-02, week 9 = Sun 2016-02-21..Sat 2016-02-27.
    assert index_for("myindex", P.ONE_WEEK, t) == "myindex-2016-w09"


@pytest.mark.parametrize(
    ("instant", "hour", "day", "week", "month"),
    [
        # Thursday; the Sunday-to-Saturday week holding 2027-01-01 starts Sun 2026-12-27.
        ("2026-12-31T23:59:59.999", "2026-12-31-23", "2026-12-31", "2027-w01", "2026-12"),
        ("2027-01-01T00:00:00", "2027-01-01-00", "2027-01-01", "2027-w01", "2027-01"),
        ("2026-12-26T12:00:00", "2026-12-26-12", "2026-12-26", "2026-w52", "2026-12"),  # Sat
        ("2026-12-27T00:00:00", "2026-12-27-00", "2026-12-27", "2027-w01", "2026-12"),  # Sun
        ("2027-01-02T23:59:59.999", "2027-01-02-23", "2027-01-02", "2027-w01", "2027-01"),
        ("2027-01-03T00:00:00", "2027-01-03-00", "2027-01-03", "2027-w02", "2027-01"),  # Sun
        # 2022 starts on a Saturday (week 1 is Sun 2021-12-26..Sat 2022-01-01) and has 53 weeks.
        ("2021-12-26T05:00:00", "2021-12-26-05", "2021-12-26", "2022-w01", "2021-12"),
        ("2022-01-02T05:00:00", "2022-01-02-05", "2022-01-02", "2022-w02", "2022-01"),
        ("2022-12-31T23:00:00", "2022-12-31-23", "2022-12-31", "2022-w53", "2022-12"),
        ("2023-01-01T00:00:00", "2023-01-01-00", "2023-01-01", "2023-w01", "2023-01"),  # Sun
        ("2025-12-27T08:30:00", "2025-12-27-08", "2025-12-27", "2025-w52", "2025-12"),
        ("2026-01-01T00:00:00", "2026-01-01-00", "2026-01-01", "2026-w01", "2026-01"),
        ("1999-03-07T09:05:00", "1999-03-07-09", "1999-03-07", "1999-w11", "1999-03"),
    ],
)
def test_suffixes(instant: str, hour: str, day: str, week: str, month: str) -> None:
    t = ms(instant)
    assert index_for("ticks", P.ONE_HOUR, t) == f"ticks-{hour}"
    assert index_for("ticks", P.ONE_DAY, t) == f"ticks-{day}"
    assert index_for("ticks", P.ONE_WEEK, t) == f"ticks-{week}"
    assert index_for("ticks", P.ONE_MONTH, t) == f"ticks-{month}"


def test_utc_not_local_time_and_milliseconds_truncate() -> None:
    assert index_for("i", P.ONE_HOUR, ms("2026-03-01T09:59:59.999")) == "i-2026-03-01-09"
    assert index_for("i", P.ONE_HOUR, ms("2026-03-01T10:00:00")) == "i-2026-03-01-10"


def test_week_numbers_step_on_sundays_and_restart_at_the_week_of_1_january() -> None:
    """Against a day-by-day walk: +1 every Sunday, back to 1 on the Sunday whose week has 1/1."""
    day, expected = date(1999, 12, 26), (2000, 1)  # Sunday of the week holding 2000-01-01
    while day < date(2041, 1, 1):
        assert week_of(day) == expected, day
        day += timedelta(days=1)
        if day.weekday() == 6:  # Sunday
            saturday = day + timedelta(days=6)
            expected = (saturday.year, 1) if saturday.year != expected[0] else (
                expected[0], expected[1] + 1)
    assert week_of(date(2040, 12, 31))[1] == 1  # a Monday in the week of 2041-01-01


def test_values_are_firehoses_spelling() -> None:
    assert [p.value for p in P] == ["NoRotation", "OneHour", "OneDay", "OneWeek", "OneMonth"]
