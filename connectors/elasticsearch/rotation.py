"""Firehose's ``IndexRotationPeriod``: a suffix on ``IndexName`` from the record's arrival time.

From the Firehose developer guide ("Configure index rotation for OpenSearch Service"), for
``IndexName`` ``myindex`` and arrival time 2016-02-25T13:00:00Z, UTC:

============  =========================
NoRotation    ``myindex``
OneHour       ``myindex-2016-02-25-13``
OneDay        ``myindex-2016-02-25``
OneWeek       ``myindex-2016-w08`` (see below)
OneMonth      ``myindex-2016-02``
============  =========================

OneWeek is ``<YEAR>-w<WEEK NUMBER>`` "according to US conventions: a week starts on Sunday;
the first week of the year is the first week that contains a Saturday in this year" — i.e.
week 1 is the Sunday-to-Saturday week holding 1 January (Java's ``WeekFields.SUNDAY_START``,
pattern ``YYYY-'w'ww``). The year is therefore the *week-based* year: 2026-12-31 (a Thursday)
is in the week of 2027-01-01 and gets ``2027-w01``. Note the guide's own table says ``w08``
for 2016-02-25, which is the ISO week; its US rule (implemented here) gives ``w09``.

The time is the record's Kafka timestamp (Shardline's ApproximateArrivalTimestamp), never the
wall clock, so a replay writes every document to the index it went to the first time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

__all__ = ["IndexRotationPeriod", "index_for", "week_of"]


class IndexRotationPeriod(StrEnum):
    NO_ROTATION = "NoRotation"
    ONE_HOUR = "OneHour"
    ONE_DAY = "OneDay"
    ONE_WEEK = "OneWeek"
    ONE_MONTH = "OneMonth"


def _sunday_on_or_before(day: date) -> date:
    return day - timedelta(days=(day.weekday() + 1) % 7)  # Monday=0 … Sunday=6


def week_of(day: date) -> tuple[int, int]:
    """(week-based year, week number) with weeks Sunday..Saturday and week 1 holding 1 January."""
    start = _sunday_on_or_before(day)
    year = (start + timedelta(days=6)).year  # the week's Saturday decides the year
    first = _sunday_on_or_before(date(year, 1, 1))
    return year, (start - first).days // 7 + 1


def index_for(index_name: str, period: IndexRotationPeriod, timestamp_ms: int) -> str:
    """``index_name`` with the suffix ``period`` takes from ``timestamp_ms`` (UTC)."""
    if period is IndexRotationPeriod.NO_ROTATION:
        return index_name
    t = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    if period is IndexRotationPeriod.ONE_HOUR:
        return f"{index_name}-{t:%Y-%m-%d-%H}"
    if period is IndexRotationPeriod.ONE_DAY:
        return f"{index_name}-{t:%Y-%m-%d}"
    if period is IndexRotationPeriod.ONE_WEEK:
        year, week = week_of(t.date())
        return f"{index_name}-{year:04d}-w{week:02d}"
    return f"{index_name}-{t:%Y-%m}"
