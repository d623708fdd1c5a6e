"""Datetime functions: FLOOR/CEIL … TO, STEP … BY, EXTRACT, TSDIFF, UNIX_TIMESTAMP,
TO_TIMESTAMP (private; use :mod:`pipelines.sql.functions`).

All arithmetic is on integer milliseconds, UTC, proleptic Gregorian calendar; negative values
(before 1970) floor toward minus infinity like positive ones.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any

from ground.errors import RowError
from pipelines.sql._scalar_numeric import DIVIDE_BY_ZERO, INVALID_ARGUMENT
from pipelines.sql.types import COERCION_ERROR, Date, Interval, MonthInterval, Time, Timestamp
from pipelines.sql.types.values import MS_PER_DAY

MS_PER_SECOND = 1_000
MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()

#: Units FLOOR/CEIL … TO accepts. KDA documents YEAR, MONTH, DAY, HOUR, MINUTE, SECOND
#: (sql-reference-floor.html, sql-reference-ceil.html); MILLISECOND, WEEK (ISO, Monday) and
#: QUARTER are Shardline extensions.
FLOOR_UNITS = frozenset(
    {"MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}
)
#: Fields EXTRACT accepts. KDA documents YEAR, MONTH, DAY, HOUR, MINUTE, SECOND
#: (sql-reference-extract.html); the rest are Shardline extensions with DuckDB/PostgreSQL meaning.
EXTRACT_UNITS = frozenset(
    {
        "YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "DOW", "DOY",
        "HOUR", "MINUTE", "SECOND", "MILLISECOND", "EPOCH",
    }
)  # fmt: skip
_FIXED_MS = {
    "MILLISECOND": 1,
    "SECOND": MS_PER_SECOND,
    "MINUTE": MS_PER_MINUTE,
    "HOUR": MS_PER_HOUR,
    "DAY": MS_PER_DAY,
    "WEEK": 7 * MS_PER_DAY,
}
_MONTHS_PER = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}


def _civil(days: int) -> _dt.date:
    try:
        return _dt.date.fromordinal(days + _EPOCH_ORDINAL)
    except (ValueError, OverflowError):
        raise RowError(INVALID_ARGUMENT, "date outside years 1..9999") from None


def _days(d: _dt.date) -> int:
    return d.toordinal() - _EPOCH_ORDINAL


def _unit(unit: str, allowed: frozenset[str], what: str) -> str:
    u = unit.upper()
    if u not in allowed:
        raise RowError(INVALID_ARGUMENT, f"{what} does not support unit {unit!r}")
    return u


def _floor_ms(ms: int, unit: str) -> int:
    if unit in _MONTHS_PER:
        d = _civil(ms // MS_PER_DAY)
        months = _MONTHS_PER[unit]
        month = (d.month - 1) // months * months + 1
        return _days(_dt.date(d.year, month, 1)) * MS_PER_DAY
    if unit == "WEEK":
        day = ms // MS_PER_DAY
        return (day - (day + 3) % 7) * MS_PER_DAY  # 1970-01-01 was a Thursday
    size = _FIXED_MS[unit]
    return ms - ms % size


def _next_ms(floor: int, unit: str) -> int:
    if unit in _MONTHS_PER:
        d = _civil(floor // MS_PER_DAY)
        index = d.year * 12 + d.month - 1 + _MONTHS_PER[unit]
        year, month0 = divmod(index, 12)
        if year > 9999:
            raise RowError(INVALID_ARGUMENT, "date outside years 1..9999")
        return _days(_dt.date(year, month0 + 1, 1)) * MS_PER_DAY
    return floor + _FIXED_MS[unit]


def _temporal(value: Any, name: str) -> type:
    t = type(value)
    if t is Timestamp or t is Date or t is Time:
        return t
    raise RowError(COERCION_ERROR, f"{name} needs a DATE, TIME or TIMESTAMP, got {value!r}")


def floor_to(value: Any, unit: str) -> Any:
    """``FLOOR(value TO unit)``: same class as ``value``; a TIME floored to DAY or more is 00:00."""
    if value is None:
        return None
    u = _unit(unit, FLOOR_UNITS, "FLOOR … TO")
    t = _temporal(value, "FLOOR … TO")
    if t is Time:
        return Time(0 if u not in _FIXED_MS or u in ("DAY", "WEEK") else _floor_ms(value, u))
    return t(_floor_ms(int(value), u))


def ceil_to(value: Any, unit: str) -> Any:
    """``CEIL(value TO unit)``: the smallest unit boundary ≥ ``value``."""
    if value is None:
        return None
    u = _unit(unit, FLOOR_UNITS, "CEIL … TO")
    t = _temporal(value, "CEIL … TO")
    ms = int(value)
    if t is Time:
        if u not in _FIXED_MS or u in ("DAY", "WEEK"):
            return Time(0)  # 00:00 itself, or the next midnight, which is 00:00 again
        floor = _floor_ms(ms, u)
        return Time(ms if floor == ms else (floor + _FIXED_MS[u]) % MS_PER_DAY)
    floor = _floor_ms(ms, u)
    return t(ms if floor == ms else _next_ms(floor, u))


def step(value: Any, by: Any) -> Any:
    """``STEP(value BY by)``: the largest multiple of ``by`` that is ≤ ``value``.

    Datetimes step by an INTERVAL counted from the epoch (1970-01-01 00:00, or midnight for
    TIME) and keep their class; integers step by an integer. Negative values floor toward
    minus infinity — the KDA page (sql-reference-step.html) defines STEP as "the largest
    multiple … equal to or smaller than" the input; its ``(x / n) * n`` shorthand only agrees
    for non-negative input.
    """
    if value is None or by is None:
        return None
    t, tb = type(value), type(by)
    if tb is MonthInterval and (t is Timestamp or t is Date):
        return t(_step_months(value, by))
    if t is Timestamp or t is Date or t is Time or t is Interval:
        if tb is not Interval:
            raise RowError(COERCION_ERROR, f"STEP of a datetime needs an INTERVAL, got {by!r}")
        if by <= 0:
            raise RowError(INVALID_ARGUMENT, f"STEP interval must be positive, got {by!r}")
        return t(value - value % by)
    if t is int and tb is int:
        if by == 0:
            raise RowError(DIVIDE_BY_ZERO, "STEP by zero")
        size = abs(by)
        return value - value % size
    raise RowError(COERCION_ERROR, f"cannot STEP {value!r} BY {by!r}")


def _step_months(value: int, by: int) -> int:
    """STEP of a TIMESTAMP or DATE by a year-month interval: KDA's formula
    ``((t - TIMESTAMP '1970-01-01') / by) * by + TIMESTAMP '1970-01-01'`` with the difference
    in whole months — the first instant of the latest month ``by`` months apart from January
    1970 at or before ``t``."""
    if by <= 0:
        raise RowError(INVALID_ARGUMENT, f"STEP interval must be positive, got {by!r}")
    d = _civil(value // MS_PER_DAY)
    index = (d.year - 1970) * 12 + d.month - 1
    index -= index % by
    year, month0 = divmod(index, 12)
    try:
        return _days(_dt.date(1970 + year, month0 + 1, 1)) * MS_PER_DAY
    except ValueError:
        raise RowError(INVALID_ARGUMENT, "date outside years 1..9999") from None


def _seconds(ms: int) -> Decimal:
    return Decimal(ms).scaleb(-3)


def extract(unit: str, value: Any) -> Any:
    """``EXTRACT(unit FROM value)``.

    Returns ``int`` (BIGINT) for every field except SECOND and EPOCH, which return ``Decimal``
    with three decimals (KDA: "For SECOND it returns DECIMAL(5,3) and includes milliseconds",
    sql-reference-extract.html). MILLISECOND is seconds×1000 + milliseconds, DOW counts from
    Sunday = 0, WEEK is the ISO week — as in DuckDB and PostgreSQL. From an INTERVAL, DAY, HOUR,
    MINUTE, SECOND and MILLISECOND are its fields, each carrying the interval's sign; from a
    year-month INTERVAL, YEAR and MONTH likewise.
    """
    if value is None:
        return None
    u = _unit(unit, EXTRACT_UNITS, "EXTRACT")
    t = type(value)
    ms = int(value)
    if t is MonthInterval:
        sign = -1 if ms < 0 else 1
        if u == "YEAR":
            return sign * (abs(ms) // 12)
        if u == "MONTH":
            return sign * (abs(ms) % 12)
        raise RowError(INVALID_ARGUMENT, f"cannot EXTRACT {u} from a year-month INTERVAL")
    if t is Interval:
        sign = -1 if ms < 0 else 1
        a = abs(ms)
        if u == "DAY":
            return sign * (a // MS_PER_DAY)
        if u == "HOUR":
            return sign * (a % MS_PER_DAY // MS_PER_HOUR)
        if u == "MINUTE":
            return sign * (a % MS_PER_HOUR // MS_PER_MINUTE)
        if u == "SECOND":
            return _seconds(sign * (a % MS_PER_MINUTE))
        if u == "MILLISECOND":
            return sign * (a % MS_PER_MINUTE)
        if u == "EPOCH":
            return _seconds(ms)
        raise RowError(INVALID_ARGUMENT, f"cannot EXTRACT {u} from a day-time INTERVAL")
    if t is not Timestamp and t is not Date and t is not Time:
        raise RowError(COERCION_ERROR, f"EXTRACT needs a datetime or INTERVAL, got {value!r}")
    if u == "HOUR":
        return ms % MS_PER_DAY // MS_PER_HOUR
    if u == "MINUTE":
        return ms % MS_PER_HOUR // MS_PER_MINUTE
    if u == "SECOND":
        return _seconds(ms % MS_PER_MINUTE)
    if u == "MILLISECOND":
        return ms % MS_PER_MINUTE
    if u == "EPOCH":
        return _seconds(ms)
    if t is Time:
        raise RowError(INVALID_ARGUMENT, f"cannot EXTRACT {u} from a TIME")
    days = ms // MS_PER_DAY
    if u == "DOW":
        return (days + 4) % 7  # 1970-01-01 was a Thursday (4)
    d = _civil(days)
    if u == "YEAR":
        return d.year
    if u == "MONTH":
        return d.month
    if u == "DAY":
        return d.day
    if u == "QUARTER":
        return (d.month - 1) // 3 + 1
    if u == "DOY":
        return d.timetuple().tm_yday
    return d.isocalendar()[1]  # WEEK


def tsdiff(ts1: Any, ts2: Any) -> int | None:
    """``TSDIFF(ts1, ts2)`` = ``ts1 − ts2`` in milliseconds, as BIGINT.

    The KDA page (sql-reference-tsdiff.html) names the arguments ``startTime, endTime`` and says
    only "the difference between the two timestamps in milliseconds"; Shardline subtracts the
    second from the first. Arguments may be TIMESTAMPs or BIGINT epoch milliseconds.
    """
    if ts1 is None or ts2 is None:
        return None
    for v in (ts1, ts2):
        if type(v) is not Timestamp and type(v) is not int:
            raise RowError(COERCION_ERROR, f"TSDIFF needs TIMESTAMP or BIGINT, got {v!r}")
    return int(ts1) - int(ts2)


def unix_timestamp(ts: Any) -> int | None:
    """``UNIX_TIMESTAMP(ts)``: milliseconds since 1970-01-01 00:00:00 UTC as BIGINT
    (sql-reference-unix-timestamp.html)."""
    if ts is None:
        return None
    if type(ts) is not Timestamp:
        raise RowError(COERCION_ERROR, f"UNIX_TIMESTAMP needs a TIMESTAMP, got {ts!r}")
    return int(ts)


def to_timestamp(epoch_ms: Any) -> Timestamp | None:
    """``TO_TIMESTAMP(unixEpoch)``: BIGINT milliseconds since the epoch → TIMESTAMP
    (sql-reference-to-timestamp.html)."""
    if epoch_ms is None:
        return None
    if type(epoch_ms) is not int:
        raise RowError(COERCION_ERROR, f"TO_TIMESTAMP needs a BIGINT, got {epoch_ms!r}")
    return Timestamp(epoch_ms)
