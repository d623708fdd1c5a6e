"""SQL types and values of the KDA dialect.

Values are plain Python objects, chosen for speed on the hot path:

=================  ==========================================================
SQL type           Python value
=================  ==========================================================
NULL               ``None``
BOOLEAN            ``bool``
TINYINT … BIGINT   ``int``
REAL, DOUBLE       ``float``
DECIMAL(p, s)      ``decimal.Decimal``
CHAR, VARCHAR      ``str``
BINARY, VARBINARY  ``bytes``
TIMESTAMP          :class:`Timestamp` — ``int`` milliseconds since the epoch, UTC
DATE               :class:`Date` — ``int`` milliseconds of that day's midnight, UTC
TIME               :class:`Time` — ``int`` milliseconds since midnight
INTERVAL (day-time) :class:`Interval` — ``int`` milliseconds
ROW(f1 t1, …)      ``tuple`` of the field values, in field order (``None`` for
                   a NULL row); the field names and types live in the
                   :class:`SqlType` (``fields``), not in the value
=================  ==========================================================

ROW values are what the log-parsing functions return (``REGEX_LOG_PARSE`` …): an expression
reads a field as ``row_expr.FIELD``; a ROW is never a stream column.

The temporal classes subclass ``int`` so that comparisons, hashing and ordering are free;
arithmetic on them returns plain ``int``, so the expression compiler re-wraps results.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from ground.errors import RowError

__all__ = [
    "COERCION_ERROR",
    "Date",
    "Fn",
    "INTERVAL_FIELDS",
    "Interval",
    "Row",
    "SqlType",
    "Time",
    "Timestamp",
    "TypeKind",
    "UnsupportedTypeError",
    "coerce",
    "format_value",
    "interval_qualifier",
    "interval_text",
    "parse_timestamp",
    "parse_type",
]

#: ``ERROR_NAME`` of a value that cannot be converted to its column's type.
COERCION_ERROR = "Type_Coercion_Error"

_MS_PER_DAY = 86_400_000

#: A row of an in-application stream or reference table: its values, in column order (a
#: stream's rows start with ROWTIME).
Row = tuple[Any, ...]
#: A compiled expression, key or condition: row → value.
Fn = Callable[[Row], Any]


class TypeKind(StrEnum):
    NULL = "NULL"
    BOOLEAN = "BOOLEAN"
    TINYINT = "TINYINT"
    SMALLINT = "SMALLINT"
    INTEGER = "INTEGER"
    BIGINT = "BIGINT"
    REAL = "REAL"
    DOUBLE = "DOUBLE"
    DECIMAL = "DECIMAL"
    CHAR = "CHAR"
    VARCHAR = "VARCHAR"
    BINARY = "BINARY"
    VARBINARY = "VARBINARY"
    DATE = "DATE"
    TIME = "TIME"
    TIMESTAMP = "TIMESTAMP"
    INTERVAL = "INTERVAL"
    ROW = "ROW"


_INTEGERS = {TypeKind.TINYINT, TypeKind.SMALLINT, TypeKind.INTEGER, TypeKind.BIGINT}
_APPROX = {TypeKind.REAL, TypeKind.DOUBLE}
_STRINGS = {TypeKind.CHAR, TypeKind.VARCHAR}
_BINARIES = {TypeKind.BINARY, TypeKind.VARBINARY}
_TEMPORAL = {TypeKind.DATE, TypeKind.TIME, TypeKind.TIMESTAMP}
_INT_RANGE = {
    TypeKind.TINYINT: (-(2**7), 2**7 - 1),
    TypeKind.SMALLINT: (-(2**15), 2**15 - 1),
    TypeKind.INTEGER: (-(2**31), 2**31 - 1),
    TypeKind.BIGINT: (-(2**63), 2**63 - 1),
}


@dataclass(frozen=True, slots=True)
class SqlType:
    """A column or expression type. ``length`` for strings and binaries, ``precision`` and
    ``scale`` for DECIMAL, ``fields`` (name, type) for ROW, ``qualifier`` for INTERVAL (its
    fields, ``"DAY TO MINUTE"``; it decides the interval's text form, not its value)."""

    kind: TypeKind
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    fields: tuple[tuple[str, SqlType], ...] | None = None
    qualifier: str | None = None

    @property
    def is_integer(self) -> bool:
        return self.kind in _INTEGERS

    @property
    def is_numeric(self) -> bool:
        return self.kind in _INTEGERS or self.kind in _APPROX or self.kind is TypeKind.DECIMAL

    @property
    def is_string(self) -> bool:
        return self.kind in _STRINGS

    @property
    def is_temporal(self) -> bool:
        return self.kind in _TEMPORAL

    def field(self, name: str) -> tuple[int, SqlType] | None:
        """(position, type) of a ROW's field by name (exact, then case-insensitive)."""
        fields = self.fields or ()
        for i, (field_name, field_type) in enumerate(fields):
            if field_name == name:
                return i, field_type
        for i, (field_name, field_type) in enumerate(fields):
            if field_name.upper() == name.upper():
                return i, field_type
        return None

    def __str__(self) -> str:
        if self.kind is TypeKind.ROW:
            inner = ", ".join(f"{n} {t}" for n, t in self.fields or ())
            return f"ROW({inner})"
        if self.kind is TypeKind.INTERVAL and self.qualifier:
            return f"INTERVAL {self.qualifier}"
        if self.kind is TypeKind.DECIMAL and self.precision is not None:
            if self.scale is not None:
                return f"DECIMAL({self.precision},{self.scale})"
            return f"DECIMAL({self.precision})"
        if self.length is not None:
            return f"{self.kind.value}({self.length})"
        return self.kind.value


_ALIASES = {
    "INT": TypeKind.INTEGER,
    "INTEGER": TypeKind.INTEGER,
    "TINYINT": TypeKind.TINYINT,
    "SMALLINT": TypeKind.SMALLINT,
    "BIGINT": TypeKind.BIGINT,
    "REAL": TypeKind.REAL,
    "FLOAT": TypeKind.DOUBLE,
    "DOUBLE": TypeKind.DOUBLE,
    "DOUBLE PRECISION": TypeKind.DOUBLE,
    "DECIMAL": TypeKind.DECIMAL,
    "NUMERIC": TypeKind.DECIMAL,
    "DEC": TypeKind.DECIMAL,
    "CHAR": TypeKind.CHAR,
    "CHARACTER": TypeKind.CHAR,
    "VARCHAR": TypeKind.VARCHAR,
    "CHARACTER VARYING": TypeKind.VARCHAR,
    "CHAR VARYING": TypeKind.VARCHAR,
    "BINARY": TypeKind.BINARY,
    "VARBINARY": TypeKind.VARBINARY,
    "BINARY VARYING": TypeKind.VARBINARY,
    "BOOLEAN": TypeKind.BOOLEAN,
    "BOOL": TypeKind.BOOLEAN,
    "DATE": TypeKind.DATE,
    "TIME": TypeKind.TIME,
    "TIMESTAMP": TypeKind.TIMESTAMP,
    "INTERVAL": TypeKind.INTERVAL,
}
_TYPE_TEXT = re.compile(
    r"^\s*([A-Za-z]+(?:\s+[A-Za-z]+)?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$"
)


class UnsupportedTypeError(ValueError):
    """A KDA type Shardline does not support yet (year-month intervals)."""


#: Day-time interval fields, largest first (``INTERVAL DAY TO SECOND`` …).
INTERVAL_FIELDS = ("DAY", "HOUR", "MINUTE", "SECOND")
_INTERVAL_TEXT = re.compile(
    r"^\s*INTERVAL\s+([A-Za-z]+)\s*(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?"
    r"(?:\s+TO\s+([A-Za-z]+)\s*(?:\(\s*\d+\s*\))?)?\s*$",
    re.IGNORECASE,
)


def _parse_interval_type(text: str) -> SqlType:
    """``INTERVAL DAY TO SECOND``, ``INTERVAL HOUR``, ``INTERVAL MINUTE(2) TO SECOND(3)`` →
    the day-time INTERVAL type (values are milliseconds whatever the fields)."""
    match = _INTERVAL_TEXT.match(text)
    if not match:
        raise ValueError(f"not an interval type: {text!r}")
    first = match.group(1).upper()
    last = (match.group(2) or first).upper()
    if first in ("YEAR", "MONTH") or last in ("YEAR", "MONTH"):
        raise UnsupportedTypeError(f"year-month interval type {text.strip()!r}")
    if first not in INTERVAL_FIELDS or last not in INTERVAL_FIELDS:
        raise ValueError(f"unknown interval field in {text!r}")
    if INTERVAL_FIELDS.index(last) < INTERVAL_FIELDS.index(first):
        raise ValueError(f"interval {text!r} runs from a smaller to a larger field")
    return SqlType(TypeKind.INTERVAL, qualifier=interval_qualifier(first, last))


def interval_qualifier(first: str, last: str) -> str:
    """``("DAY", "MINUTE")`` → ``"DAY TO MINUTE"``; ``("HOUR", "HOUR")`` → ``"HOUR"``."""
    return first if first == last else f"{first} TO {last}"


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
    sizes = {"DAY": _MS_PER_DAY, "HOUR": 3_600_000, "MINUTE": 60_000, "SECOND": 1000}
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


def parse_type(text: str) -> SqlType:
    """``'VARCHAR(4)'``, ``'REAL'``, ``'DECIMAL(10,2)'``, ``'DOUBLE PRECISION'``,
    ``'INTERVAL DAY TO SECOND'`` → :class:`SqlType`.

    Raises ``ValueError`` naming the text when it is not a KDA type, and its subclass
    :class:`UnsupportedTypeError` for a KDA type Shardline does not support.
    """
    if re.match(r"^\s*INTERVAL\s+\S", text, re.IGNORECASE):
        return _parse_interval_type(text)
    match = _TYPE_TEXT.match(text)
    if not match:
        raise ValueError(f"not a SQL type: {text!r}")
    name = " ".join(match.group(1).upper().split())
    kind = _ALIASES.get(name)
    if kind is None:
        raise ValueError(f"unknown SQL type {match.group(1)!r}")
    first = int(match.group(2)) if match.group(2) else None
    second = int(match.group(3)) if match.group(3) else None
    if kind is TypeKind.DECIMAL:
        return SqlType(kind, precision=first, scale=second)
    if second is not None:
        raise ValueError(f"{name} takes one size, got {text!r}")
    if first is not None and kind not in _STRINGS and kind not in _BINARIES:
        raise ValueError(f"{name} takes no size, got {text!r}")
    return SqlType(kind, length=first)


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
        ms = int(self) % _MS_PER_DAY
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
        days, rest = divmod(abs(ms), _MS_PER_DAY)
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


def _fail(value: Any, target: SqlType) -> RowError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return RowError(COERCION_ERROR, f"cannot convert {shown} to {target}")


def coerce(value: Any, target: SqlType) -> Any:
    """Convert a decoded value (JSON, CSV text, Avro) to ``target``, as KDA's input mapping does.

    ``None`` stays ``None``. Numbers become TIMESTAMPs as epoch milliseconds; strings are parsed.
    Strings longer than a VARCHAR's length are an error, not silently cut. Raises
    :class:`~ground.errors.RowError` (``Type_Coercion_Error``) when the value does not fit.
    """
    if value is None:
        return None
    kind = target.kind
    try:
        if kind in _INTEGERS:
            if isinstance(value, bool):
                raise _fail(value, target)
            if isinstance(value, int):
                number = value
            elif isinstance(value, float):
                if not value.is_integer():
                    raise _fail(value, target)
                number = int(value)
            elif isinstance(value, str):
                number = int(value.strip())
            elif isinstance(value, Decimal):
                if value != value.to_integral_value():
                    raise _fail(value, target)
                number = int(value)
            else:
                raise _fail(value, target)
            low, high = _INT_RANGE[kind]
            if not low <= number <= high:
                raise _fail(value, target)
            return number
        if kind in _APPROX:
            if isinstance(value, bool):
                raise _fail(value, target)
            if isinstance(value, int | float | Decimal):
                return float(value)
            if isinstance(value, str):
                return float(value.strip())
            raise _fail(value, target)
        if kind is TypeKind.DECIMAL:
            if isinstance(value, bool):
                raise _fail(value, target)
            if isinstance(value, float | int | str | Decimal):
                number_d = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
                if not number_d.is_finite():
                    raise _fail(value, target)
                if target.scale is not None:
                    number_d = number_d.quantize(
                        Decimal(1).scaleb(-target.scale), rounding=ROUND_HALF_UP
                    )
                if (
                    target.precision is not None
                    and number_d != 0
                    and number_d.adjusted() + 1 + max(-number_d.as_tuple().exponent, 0)  # type: ignore[operator]
                    > target.precision
                ):
                    raise _fail(value, target)
                return number_d
            raise _fail(value, target)
        if kind in _STRINGS:
            if isinstance(value, bool):
                text = "TRUE" if value else "FALSE"
            elif isinstance(value, str):
                text = value
            elif isinstance(value, Timestamp | Date | Time | Interval):
                text = value.text()  # before int: these are int subclasses
            elif isinstance(value, int | float | Decimal):
                text = str(value)
            else:
                raise _fail(value, target)
            if target.length is not None and len(text) > target.length:
                raise RowError(
                    COERCION_ERROR,
                    f"value of {len(text)} characters does not fit {target}",
                )
            return text
        if kind is TypeKind.BOOLEAN:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().upper() in ("TRUE", "FALSE"):
                return value.strip().upper() == "TRUE"
            raise _fail(value, target)
        if kind is TypeKind.TIMESTAMP:
            if isinstance(value, bool):
                raise _fail(value, target)
            if isinstance(value, int):
                return Timestamp(value)
            if isinstance(value, float) and value.is_integer():
                return Timestamp(int(value))
            if isinstance(value, str):
                return parse_timestamp(value)
            raise _fail(value, target)
        if kind is TypeKind.DATE:
            if isinstance(value, int) and not isinstance(value, bool):
                return Date(value - value % _MS_PER_DAY)
            if isinstance(value, str):
                ts = parse_timestamp(value)
                return Date(ts - ts % _MS_PER_DAY)
            raise _fail(value, target)
        if kind is TypeKind.TIME:
            if isinstance(value, int) and not isinstance(value, bool):
                return Time(value % _MS_PER_DAY)
            if isinstance(value, str):
                return Time(parse_timestamp("1970-01-01 " + value.strip()))
            raise _fail(value, target)
        if kind in _BINARIES:
            if isinstance(value, bytes):
                return value
            if isinstance(value, str):
                return bytes.fromhex(value)
            raise _fail(value, target)
        if kind is TypeKind.INTERVAL:
            if isinstance(value, int) and not isinstance(value, bool):
                return Interval(value)
            raise _fail(value, target)
    except RowError:
        raise
    except (ValueError, InvalidOperation, OverflowError):
        raise _fail(value, target) from None
    raise _fail(value, target)


def format_value(value: Any) -> Any:
    """A value as it appears in a JSON output row: temporal values as KDA's text forms,
    DECIMAL as a number (float), everything else unchanged."""
    if isinstance(value, Timestamp | Date | Time):
        return value.text()
    if isinstance(value, Interval):
        return int(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value
