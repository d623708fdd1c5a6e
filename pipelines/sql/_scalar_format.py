"""CHAR_TO_TIMESTAMP, CHAR_TO_DATE, CHAR_TO_TIME and TIMESTAMP_TO_CHAR, DATE_TO_CHAR,
TIME_TO_CHAR with Java ``SimpleDateFormat`` patterns (private; use
:mod:`pipelines.sql.functions`).

The DATE and TIME forms are the TIMESTAMP ones on the part of the value they keep
(sql-reference-char-to-date.html, -char-to-time.html, -date-to-char.html, -time-to-char.html
give only the signatures): CHAR_TO_DATE parses like CHAR_TO_TIMESTAMP and keeps the day,
CHAR_TO_TIME keeps the time of day; DATE_TO_CHAR formats the date's midnight, TIME_TO_CHAR
the time on 1970-01-01. Unlike TIMESTAMP_TO_CHAR, whose page documents the string ``'null'``
for a NULL timestamp, they give NULL for NULL.

Supported pattern letters: ``y`` (``yy`` = two digits, read as 1950–2049), ``M`` (``MM``
number, ``MMM`` short name, ``MMMM`` full name), ``d``, ``D`` (day of year, format only),
``H`` (0–23), ``k`` (1–24), ``h`` (1–12), ``K`` (0–11), ``m``, ``s``, ``S`` (milliseconds),
``a`` (AM/PM), ``E`` (day name; ignored when parsing), ``Z`` (``+hhmm``), ``X`` (``Z``,
``+hh``, ``+hhmm``, ``+hh:mm``), and ``'quoted'`` literals (``''`` is a quote). Any other ASCII
letter is an ``Invalid_Argument`` error, as ``SimpleDateFormat`` rejects unknown letters.

Parsing is strict: the whole text must match and every field must be in range (KDA: "each
element … must be within the range for its corresponding element in the template, or no result
is returned", sql-reference-char-to-timestamp.html). Fields absent from the pattern default to
1970-01-01 00:00:00.000. Numeric fields followed directly by another numeric field take exactly
the pattern's width (``yyyyMMdd``), as Java does; otherwise any number of digits.
"""

from __future__ import annotations

import datetime as _dt
import re
from functools import lru_cache
from typing import Any

from ground.errors import RowError
from ground.java_pattern import PatternError, tokenize
from pipelines.sql._scalar_numeric import INVALID_ARGUMENT
from pipelines.sql.types import COERCION_ERROR, Date, Time, Timestamp
from pipelines.sql.types.values import MS_PER_DAY

_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_LETTERS = frozenset("yMdDHkhKmsSaEZX")
_NUMERIC = frozenset("ydDHkhKmsS")
_EPOCH = _dt.datetime(1970, 1, 1)


@lru_cache(maxsize=256)
def _tokens(pattern: str) -> tuple[tuple[str, Any], ...]:
    """``(letter, count)`` for a letter run, ``("", text)`` for a literal (quoted or not)."""
    try:
        tokens = tokenize(pattern)
    except PatternError as exc:
        raise RowError(INVALID_ARGUMENT, str(exc)) from None
    out: list[tuple[str, Any]] = []
    for letter, value in tokens:
        if letter in ("", "'"):
            out.append(("", value))
        elif letter not in _LETTERS:
            raise RowError(
                INVALID_ARGUMENT, f"unsupported pattern letter {letter!r} in {pattern!r}"
            )
        else:
            out.append((letter, value))
    return tuple(out)


def _pad(value: int, count: int) -> str:
    return str(value).zfill(count)


def timestamp_to_char(fmt: Any, ts: Any) -> Any:
    """``TIMESTAMP_TO_CHAR(format, ts)``.

    A NULL ``ts`` gives the string ``'null'`` — KDA documents exactly that
    (sql-reference-timestamp-to-char.html); a NULL format gives NULL.
    """
    if fmt is None:
        return None
    if ts is None:
        return "null"
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise RowError(COERCION_ERROR, f"TIMESTAMP_TO_CHAR needs a TIMESTAMP, got {ts!r}")
    ms = int(ts)
    try:
        moment = _EPOCH + _dt.timedelta(milliseconds=ms)
    except OverflowError:
        raise RowError(INVALID_ARGUMENT, f"timestamp {ms} out of range") from None
    parts: list[str] = []
    for letter, count in _tokens(fmt):
        if letter == "":
            parts.append(count)
        elif letter == "y":
            parts.append(_pad(moment.year % 100, 2) if count == 2 else _pad(moment.year, count))
        elif letter == "M":
            if count >= 4:
                parts.append(_MONTHS[moment.month - 1])
            elif count == 3:
                parts.append(_MONTHS[moment.month - 1][:3])
            else:
                parts.append(_pad(moment.month, count))
        elif letter == "d":
            parts.append(_pad(moment.day, count))
        elif letter == "D":
            parts.append(_pad(moment.timetuple().tm_yday, count))
        elif letter == "H":
            parts.append(_pad(moment.hour, count))
        elif letter == "k":
            parts.append(_pad(moment.hour or 24, count))
        elif letter == "h":
            parts.append(_pad(moment.hour % 12 or 12, count))
        elif letter == "K":
            parts.append(_pad(moment.hour % 12, count))
        elif letter == "m":
            parts.append(_pad(moment.minute, count))
        elif letter == "s":
            parts.append(_pad(moment.second, count))
        elif letter == "S":
            parts.append(_pad(moment.microsecond // 1000, count))
        elif letter == "a":
            parts.append("AM" if moment.hour < 12 else "PM")
        elif letter == "E":
            name = _DAYS[moment.weekday()]
            parts.append(name if count >= 4 else name[:3])
        elif letter == "Z":
            parts.append("+0000")
        else:  # X
            parts.append("Z")
    return "".join(parts)


@lru_cache(maxsize=256)
def _parser(fmt: str) -> tuple[re.Pattern[str], tuple[tuple[str, int], ...]]:
    tokens = _tokens(fmt)
    regex: list[str] = []
    fields: list[tuple[str, int]] = []
    for k, (letter, count) in enumerate(tokens):
        if letter == "":
            regex.append(re.escape(count))
            continue
        nxt = tokens[k + 1][0] if k + 1 < len(tokens) else ""
        if letter in _NUMERIC or (letter == "M" and count <= 2):
            fixed = nxt in _NUMERIC or (nxt == "M" and tokens[k + 1][1] <= 2)
            regex.append(rf"(\d{{{count}}})" if fixed else r"(\d+)")
        elif letter == "M":
            regex.append(r"([A-Za-z]+)")
        elif letter == "a":
            regex.append(r"([AaPp][Mm])")
        elif letter == "E":
            regex.append(r"([A-Za-z]+)")
        else:  # Z, X
            regex.append(r"(Z|[+-]\d{2}(?::?\d{2})?)")
        fields.append((letter, count))
    return re.compile("".join(regex), re.DOTALL), tuple(fields)


def _month_number(name: str) -> int:
    low = name.lower()
    for i, full in enumerate(_MONTHS):
        if low == full.lower() or low == full[:3].lower():
            return i + 1
    raise ValueError(name)


def char_to_timestamp(fmt: Any, text: Any) -> Any:
    """``CHAR_TO_TIMESTAMP(format, text)`` → :class:`Timestamp`; a mismatch is a
    ``Type_Coercion_Error``."""
    if fmt is None or text is None:
        return None
    regex, fields = _parser(fmt)
    match = regex.fullmatch(text.strip())
    if match is None:
        raise RowError(COERCION_ERROR, f"{text!r} does not match the format {fmt!r}")
    year, month, day, hour, minute, second, milli = 1970, 1, 1, 0, 0, 0, 0
    hour12: int | None = None
    pm: bool | None = None
    offset_ms = 0
    try:
        for (letter, count), raw in zip(fields, match.groups(), strict=True):
            if letter == "y":
                year = int(raw)
                if count == 2 and len(raw) == 2:
                    year += 2000 if year < 50 else 1900
            elif letter == "M":
                month = int(raw) if count <= 2 else _month_number(raw)
            elif letter == "d":
                day = int(raw)
            elif letter == "D":
                raise ValueError("day-of-year parsing is not supported")
            elif letter == "H":
                hour = int(raw)
            elif letter == "k":
                hour = int(raw)
                if not 1 <= hour <= 24:
                    raise ValueError(raw)
                hour %= 24
            elif letter in "hK":
                hour12 = int(raw)
                if letter == "h" and not 1 <= hour12 <= 12:
                    raise ValueError(raw)
                if letter == "K" and not 0 <= hour12 <= 11:
                    raise ValueError(raw)
                hour12 %= 12
            elif letter == "m":
                minute = int(raw)
            elif letter == "s":
                second = int(raw)
            elif letter == "S":
                milli = int(raw)
                if milli > 999:
                    raise ValueError(raw)
            elif letter == "a":
                pm = raw.upper() == "PM"
            elif letter in "ZX" and raw != "Z":
                digits = raw[1:].replace(":", "")
                minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)
                offset_ms = (-1 if raw[0] == "-" else 1) * minutes * 60_000
        if hour12 is not None:  # h/K with a; H/k ignore the AM/PM marker, as in Java
            hour = hour12 + (12 if pm else 0)
        moment = _dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise RowError(COERCION_ERROR, f"{text!r} is not a valid {fmt!r} timestamp") from None
    ms = (moment - _EPOCH) // _dt.timedelta(milliseconds=1) + milli - offset_ms
    return Timestamp(ms)


def char_to_date(fmt: Any, text: Any) -> Any:
    """``CHAR_TO_DATE(format, text)`` → :class:`Date` (the day of the parsed timestamp)."""
    ts = char_to_timestamp(fmt, text)
    return None if ts is None else Date(ts - ts % MS_PER_DAY)


def char_to_time(fmt: Any, text: Any) -> Any:
    """``CHAR_TO_TIME(format, text)`` → :class:`Time` (the time of day of the parsed
    timestamp; fields absent from the format are 0)."""
    ts = char_to_timestamp(fmt, text)
    return None if ts is None else Time(ts % MS_PER_DAY)


def date_to_char(fmt: Any, d: Any) -> Any:
    """``DATE_TO_CHAR(format, date)``: the date's midnight formatted; NULL gives NULL."""
    if fmt is None or d is None:
        return None
    if type(d) is not Date:
        raise RowError(COERCION_ERROR, f"DATE_TO_CHAR needs a DATE, got {d!r}")
    return timestamp_to_char(fmt, Timestamp(d))


def time_to_char(fmt: Any, t: Any) -> Any:
    """``TIME_TO_CHAR(format, time)``: the time formatted (date fields read 1970-01-01);
    NULL gives NULL."""
    if fmt is None or t is None:
        return None
    if type(t) is not Time:
        raise RowError(COERCION_ERROR, f"TIME_TO_CHAR needs a TIME, got {t!r}")
    return timestamp_to_char(fmt, Timestamp(int(t) % MS_PER_DAY))
