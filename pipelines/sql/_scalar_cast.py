"""``CAST(value AS type)`` (private; use :mod:`pipelines.sql.functions`).

Conversions follow the table on the KDA CAST page (sql-reference-cast.html); any other pair is a
``Type_Coercion_Error``. Choices where the page is silent:

* Approximate or DECIMAL → integer rounds half away from zero (2.5 → 3, −2.5 → −3), as DECIMAL
  rounding does in SQLstream and DuckDB; out of the target's range is an error.
* → DECIMAL(p, s) rounds half away from zero to ``s`` places; more than ``p`` digits is an error.
* → VARCHAR(n)/CHAR(n) from a string cuts to ``n`` characters (SQL: truncating a string is
  allowed). From a number, datetime or boolean whose text does not fit, it is an error — the
  KDA page shows ``CAST(DATE '2008-08-23' AS VARCHAR(9))`` selecting no rows. CHAR(n) pads with
  blanks.
* Numbers become text as Java prints them: DOUBLE ``1.0E10`` / ``0.001`` / ``1.5``; DECIMAL in
  plain notation. Datetimes use :meth:`Timestamp.text` forms; INTERVAL ``[-]D HH:MM:SS.fff``.
* INTERVAL → BIGINT/DECIMAL gives milliseconds. TIME → TIMESTAMP is that time on 1970-01-01.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ground.errors import RowError
from pipelines.sql._scalar_numeric import _round_half_away
from pipelines.sql.types import (
    COERCION_ERROR,
    Date,
    Interval,
    MonthInterval,
    SqlType,
    Time,
    Timestamp,
    TypeKind,
    interval_text,
    is_year_month,
    month_interval_text,
    parse_timestamp,
)
from pipelines.sql.types.kinds import INTEGER_RANGES, STRING_KINDS
from pipelines.sql.types.values import MS_PER_DAY

_INTERVAL_TEXT = re.compile(
    r"^\s*([+-])?\s*(?:(\d+)\s+)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,3}))?\s*$"
)
_TIME_TEXT = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*$")


def _fail(value: Any, target: SqlType, why: str = "") -> RowError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return RowError(COERCION_ERROR, f"cannot CAST {shown} AS {target}{': ' + why if why else ''}")


def java_double_text(x: float) -> str:
    """``Double.toString`` as Java (≥ 19) prints it: shortest digits that round-trip, plain for
    10⁻³ ≤ |x| < 10⁷, otherwise ``d.dddE±n``."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    digits, exponent = _shortest(abs(x))
    if 1e-3 <= abs(x) < 1e7:
        point = exponent + 1  # digits before the decimal point
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        whole, frac = digits[:point].ljust(point, "0"), digits[point:]
        return f"{sign}{whole}.{frac or '0'}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def _shortest(x: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``x > 0`` and the decimal exponent of the first digit."""
    d = Decimal(repr(x))
    digits = "".join(map(str, d.as_tuple().digits)).rstrip("0") or "0"
    return digits, d.adjusted()


def to_text(value: Any) -> str:
    """A non-NULL value as CAST(… AS VARCHAR) writes it."""
    t = type(value)
    if t is str:
        return value
    if t is bool:
        return "TRUE" if value else "FALSE"
    if t is int:
        return str(value)
    if t is float:
        return java_double_text(value)
    if t is Decimal:
        return format(value, "f")
    if t is Timestamp or t is Date or t is Time or t is Interval:
        return value.text()
    raise RowError(COERCION_ERROR, f"cannot convert {value!r} to a character string")


def _to_integer(value: Any, target: SqlType) -> int:
    t = type(value)
    if t is int:
        number = value
    elif t is float or t is Decimal:
        if t is Decimal and not value.is_finite():
            raise _fail(value, target)
        number = _round_half_away(value)
    elif t is str:
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = _round_half_away(Decimal(text))
            except (InvalidOperation, RowError):
                raise _fail(value, target) from None
    elif t is Interval and target.kind is TypeKind.BIGINT:
        number = int(value)
    else:
        raise _fail(value, target)
    low, high = INTEGER_RANGES[target.kind]
    if not low <= number <= high:
        raise _fail(value, target, "out of range")
    return number


def _to_float(value: Any, target: SqlType) -> float:
    t = type(value)
    if t is float:
        return value
    if t is int or t is Decimal:
        try:
            return float(value)
        except OverflowError:
            raise _fail(value, target, "out of range") from None
    if t is str:
        try:
            return float(value.strip())
        except ValueError:
            raise _fail(value, target) from None
    raise _fail(value, target)


def _to_decimal(value: Any, target: SqlType) -> Decimal:
    t = type(value)
    try:
        if t is Decimal:
            number = value
        elif t is int or (t is Interval):
            number = Decimal(int(value))
        elif t is float:
            if not math.isfinite(value):
                raise _fail(value, target)
            number = Decimal(repr(value))
        elif t is str:
            number = Decimal(value.strip())
        else:
            raise _fail(value, target)
        if not number.is_finite():
            raise _fail(value, target)
        if target.scale is not None:
            number = number.quantize(Decimal(1).scaleb(-target.scale), rounding=ROUND_HALF_UP)
        if target.precision is not None and len(number.as_tuple().digits) > target.precision:
            if number != 0:
                raise _fail(value, target, "too many digits")
    except InvalidOperation:
        raise _fail(value, target) from None
    return number


def _to_string(value: Any, target: SqlType) -> str:
    text = to_text(value)
    n = target.length
    if n is not None and len(text) > n:
        if type(value) is not str:
            raise _fail(value, target, f"needs {len(text)} characters")
        text = text[:n]
    if target.kind is TypeKind.CHAR and n is not None:
        text = text.ljust(n)
    return text


def _parse_time(text: str) -> Time:
    m = _TIME_TEXT.match(text)
    if not m:
        raise ValueError(text)
    hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(text)
    millis = int((m.group(4) or "0").ljust(3, "0")[:3])
    return Time(((hour * 60 + minute) * 60 + second) * 1000 + millis)


def _parse_interval(text: str) -> Interval:
    m = _INTERVAL_TEXT.match(text)
    if not m:
        raise ValueError(text)
    sign, days, hours, minutes, seconds, millis = m.groups()
    if int(minutes) > 59 or int(seconds) > 59:
        raise ValueError(text)
    ms = (
        int(days or 0) * MS_PER_DAY
        + int(hours) * 3_600_000
        + int(minutes) * 60_000
        + int(seconds) * 1000
        + int((millis or "0").ljust(3, "0"))
    )
    return Interval(-ms if sign == "-" else ms)


_YEAR_MONTH_TEXT = re.compile(r"^\s*([+-])?\s*(\d+)(?:-(\d{1,2}))?\s*$")


def _year_month(value: Any, target: SqlType, source: SqlType | None) -> Any:
    """CAST from or to a year-month interval: text in the qualifier's form (``'+4-04'`` for
    YEAR TO MONTH) and back; nothing else converts (a month has no fixed length)."""
    t = type(value)
    if t is MonthInterval:
        if target.kind in STRING_KINDS:
            qualifier = (
                source.qualifier if source is not None and is_year_month(source) else None
            ) or "YEAR TO MONTH"
            return _to_string(month_interval_text(value, qualifier), target)
        if is_year_month(target):
            return value
        raise _fail(value, target)
    if t is str:
        m = _YEAR_MONTH_TEXT.match(value)
        if m:
            sign = -1 if m.group(1) == "-" else 1
            number = int(m.group(2))
            if m.group(3) is not None:
                months = int(m.group(3))
                if target.qualifier == "YEAR TO MONTH" and months < 12:
                    return MonthInterval(sign * (number * 12 + months))
            elif target.qualifier == "MONTH":
                return MonthInterval(sign * number)
            else:
                return MonthInterval(sign * number * 12)
    raise _fail(value, target)


def cast(value: Any, target: SqlType, source: SqlType | None = None) -> Any:
    """``CAST(value AS target)``; NULL stays NULL. Failure raises ``Type_Coercion_Error``.

    ``source`` is the operand's type when the compiler knows it: an INTERVAL with a qualifier
    becomes text in its qualifier's form (``'+3 04:20'`` for DAY TO MINUTE,
    sql-reference-abs.html)."""
    if value is None:
        return None
    kind = target.kind
    t = type(value)
    if t is Interval and source is not None and source.qualifier and kind in STRING_KINDS:
        return _to_string(interval_text(value, source.qualifier), target)
    if t is MonthInterval or (kind is TypeKind.INTERVAL and is_year_month(target)):
        return _year_month(value, target, source)
    if kind in INTEGER_RANGES:
        if t is bool:
            raise _fail(value, target)
        return _to_integer(value, target)
    if kind is TypeKind.DOUBLE or kind is TypeKind.REAL:
        return _to_float(value, target)
    if kind is TypeKind.DECIMAL:
        return _to_decimal(value, target)
    if kind in STRING_KINDS:
        return _to_string(value, target)
    try:
        if kind is TypeKind.BOOLEAN:
            if t is bool:
                return value
            if t is str:
                word = value.strip().upper()
                if word in ("TRUE", "FALSE"):
                    return word == "TRUE"
                if word == "UNKNOWN":
                    return None
            raise _fail(value, target)
        if kind is TypeKind.TIMESTAMP:
            if t is Timestamp:
                return value
            if t is Date or t is Time:
                return Timestamp(int(value))
            if t is str:
                return parse_timestamp(value)
            raise _fail(value, target)
        if kind is TypeKind.DATE:
            if t is Date:
                return value
            if t is Timestamp:
                return Date(value - value % MS_PER_DAY)
            if t is str:
                ts = parse_timestamp(value)
                return Date(ts - ts % MS_PER_DAY)
            raise _fail(value, target)
        if kind is TypeKind.TIME:
            if t is Time:
                return value
            if t is Timestamp:
                return Time(value % MS_PER_DAY)
            if t is str:
                return _parse_time(value)
            raise _fail(value, target)
        if kind is TypeKind.INTERVAL:
            if t is Interval:
                return value
            if t is str:
                return _parse_interval(value)
            raise _fail(value, target)
        if kind is TypeKind.BINARY or kind is TypeKind.VARBINARY:
            if t is bytes:
                n = target.length
                if n is not None and len(value) > n:
                    raise _fail(value, target, "too long")
                if kind is TypeKind.BINARY and n is not None:
                    return value.ljust(n, b"\x00")
                return value
            raise _fail(value, target)
    except RowError:
        raise
    except ValueError:
        raise _fail(value, target) from None
    raise _fail(value, target)
