"""Temporal values: TIMESTAMP, DATE, TIME and INTERVAL as ``int`` milliseconds, their text
forms, and timestamp text → :class:`Timestamp`.
"""

from __future__ import annotations

import datetime as _dt
import re

from pipelines.sql.types.kinds import INTERVAL_FIELDS

__all__ = [
    "Date",
    "Interval",
    "MS_PER_DAY",
    "Time",
    "Timestamp",
    "interval_text",
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


_EPOCH = _dt.datetime(1970, 1, 1)


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
