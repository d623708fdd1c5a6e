"""Temporal values: TIMESTAMP, DATE, TIME and INTERVAL as ``int`` milliseconds, their text
forms, and timestamp text → :class:`Timestamp`.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re

from pipelines.sql.types.kinds import INTERVAL_FIELDS

__all__ = [
    "Date",
    "Interval",
    "MS_PER_DAY",
    "MonthInterval",
    "Time",
    "Timestamp",
    "add_months",
    "interval_text",
    "month_interval_text",
    "parse_timestamp",
]


MS_PER_DAY = 86_400_000


class Timestamp(int):
    """A TIMESTAMP: integer milliseconds since the epoch, UTC."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"TIMESTAMP '{self.text()}'"

    def text(self) -> str:
        """``YYYY-MM-DD HH:MM:SS.fff`` — the form KDA writes."""
        m = _EPOCH + _dt.timedelta(milliseconds=int(self))
        return (
            f"{m.year:04d}-{m.month:02d}-{m.day:02d} "
            f"{m.hour:02d}:{m.minute:02d}:{m.second:02d}.{m.microsecond // 1000:03d}"
        )


class Date(int):
    """A DATE: integer milliseconds of the day's midnight, UTC."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"DATE '{self.text()}'"

    def text(self) -> str:
        d = _EPOCH + _dt.timedelta(milliseconds=int(self))
        return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


class Time(int):
    """A TIME of day: integer milliseconds since midnight."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"TIME '{self.text()}'"

    def text(self) -> str:
        ms = int(self) % MS_PER_DAY
        seconds, millis = divmod(ms, 1000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        return f"{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}"


class Interval(int):
    """A day-time INTERVAL: integer milliseconds."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"INTERVAL {int(self)} ms"

    def text(self) -> str:
        """``[-]D HH:MM:SS.fff`` (days, then the time of the remainder)."""
        ms = int(self)
        days, rest = divmod(abs(ms), MS_PER_DAY)
        seconds, millis = divmod(rest, 1000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        sign = "-" if ms < 0 else ""
        return f"{sign}{days} {hour:02d}:{minute:02d}:{second:02d}.{millis:03d}"


class MonthInterval(int):
    """A year-month INTERVAL: integer months (``INTERVAL '3-4' YEAR TO MONTH`` is 40).

    Not a day-time :class:`Interval`: a month has no fixed length, so the two never mix; the
    operators check the class, never just ``int``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"INTERVAL {int(self)} MONTH"

    def text(self) -> str:
        """``[-]Y-MM``."""
        return month_interval_text(int(self), "YEAR TO MONTH").lstrip("+")


_EPOCH = _dt.datetime(1970, 1, 1)


def add_months(ms: int, months: int) -> int:
    """``ms`` (a TIMESTAMP or DATE) moved by ``months`` calendar months, its time of day kept.
    A day the new month does not have becomes that month's last day (2024-01-31 + 1 month →
    2024-02-29), as Calcite's ``addMonths`` does; raises ``ValueError`` outside years 1..9999.
    """
    moment = _EPOCH + _dt.timedelta(milliseconds=ms)
    index = moment.year * 12 + moment.month - 1 + months
    year, month0 = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"date outside years 1..9999 ({year})")
    last_day = calendar.monthrange(year, month0 + 1)[1]
    moved = moment.replace(year=year, month=month0 + 1, day=min(moment.day, last_day))
    return (moved - _EPOCH) // _dt.timedelta(milliseconds=1)


def month_interval_text(months: int, qualifier: str | None) -> str:
    """A year-month interval as KDA writes it for its qualifier: a sign, the leading field
    unpadded, MONTH after YEAR two digits (``INTERVAL '+4-04' YEAR TO MONTH``,
    sql-reference-date-timestamp-interval.html). ``YEAR`` alone drops the months left over."""
    sign = "-" if months < 0 else "+"
    rest = abs(months)
    if qualifier == "MONTH":
        return f"{sign}{rest}"
    years, month = divmod(rest, 12)
    if qualifier == "YEAR":
        return f"{sign}{years}"
    return f"{sign}{years}-{month:02d}"


_TS_TEXT = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)


def parse_timestamp(text: str) -> Timestamp:
    """``'2026-11-22 10:15:00.123'`` (also ``T``, ``Z`` or ``±hh:mm``) → :class:`Timestamp`."""
    match = _TS_TEXT.match(text)
    if not match:
        raise ValueError(f"not a timestamp: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = _dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError as exc:
        raise ValueError(f"not a timestamp: {text!r} ({exc})") from None
    ms = (moment - _EPOCH) // _dt.timedelta(milliseconds=1)
    if fraction:
        ms += int((fraction + "00")[:3])
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        ms -= sign * (int(digits[:2]) * 3_600_000 + int(digits[2:]) * 60_000)
    return Timestamp(ms)


def interval_text(ms: int, qualifier: str | None) -> str:
    """An interval as KDA writes it for its qualifier: a sign, the leading field unpadded, the
    others two digits, seconds with milliseconds (``INTERVAL '-3 4:20' DAY TO MINUTE`` →
    ``'-3 04:20'``, sql-reference-abs.html shows ``'+3 04:20'`` for its absolute value).
    Without a qualifier: :meth:`Interval.text`."""
    if not qualifier:
        return Interval(ms).text()
    first, _, last = qualifier.partition(" TO ")
    last = last or first
    fields = INTERVAL_FIELDS[INTERVAL_FIELDS.index(first) : INTERVAL_FIELDS.index(last) + 1]
    rest = abs(ms)
    sizes = {"DAY": MS_PER_DAY, "HOUR": 3_600_000, "MINUTE": 60_000, "SECOND": 1000}
    parts: list[str] = []
    for i, field in enumerate(fields):
        if field == "SECOND" and i == len(fields) - 1:
            whole, millis = divmod(rest, 1000)
            number = f"{whole}" if i == 0 else f"{whole:02d}"
            parts.append(f"{number}.{millis:03d}")
            rest = 0
            continue
        count, rest = divmod(rest, sizes[field])
        parts.append(str(count) if i == 0 else f"{count:02d}")
    text = parts[0]
    for field, part in zip(fields[1:], parts[1:], strict=True):
        text += (" " if field == "HOUR" else ":") + part
    return ("-" if ms < 0 else "+") + text
