"""sqlglot nodes read the KDA way: identifier names, source positions, intervals, data types.

Every part of the front end names things with :func:`identifier_name` (KDA's rule: unquoted
is upper case) and reports errors at :func:`node_position`; :func:`interval_value`,
:func:`interval_ms` (day-time only: window lengths) and :func:`datatype_to_sql` turn literal
nodes into the values of :mod:`pipelines.sql.types`.
"""

from __future__ import annotations

import re

from sqlglot import exp

from ground.errors import SqlPlanError
from pipelines.sql.types import (
    INTERVAL_FIELDS,
    YEAR_MONTH_FIELDS,
    Interval,
    MonthInterval,
    SqlType,
    TypeKind,
    UnsupportedTypeError,
    interval_qualifier,
    parse_type,
)

__all__ = [
    "YEAR_MONTH_LENGTH",
    "datatype_to_sql",
    "identifier_name",
    "interval_ms",
    "interval_type",
    "interval_value",
    "is_star",
    "node_position",
]


def identifier_name(node: exp.Expression | str | None) -> str:
    """KDA's identifier rule: unquoted names are upper-cased, quoted ones kept as written."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.upper()
    if isinstance(node, exp.Identifier):
        return node.this if node.quoted else node.this.upper()
    if isinstance(node, exp.Table | exp.Column):
        return identifier_name(node.this)
    return str(node.name).upper()


def is_star(item: exp.Expression) -> bool:
    """``*`` or ``alias.*``."""
    return isinstance(item, exp.Star) or (
        isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
    )


def node_position(node: exp.Expression | None) -> tuple[int, int]:
    """Best-effort (line, column) of a node: where it starts when it knows (a clause knows
    its keyword: JOIN, UNION, ORDER BY, OVER, INTERVAL …), else where the first token under
    it that knows its place starts (in the text's order)."""
    if node is None:
        return 0, 0
    found: tuple[int, int] | None = None
    for candidate in node.walk():
        meta = getattr(candidate, "meta", None) or {}
        if "line" in meta:
            # sqlglot records the column of a token's last character; report its first.
            width = int(meta.get("end", 0)) - int(meta.get("start", 0))
            here = int(meta["line"]), max(1, int(meta.get("col", 0)) - width)
            if candidate is node:
                return here
            if found is None or here < found:
                found = here
    return found or (0, 0)


_UNIT_MS = {
    "MILLISECOND": 1,
    "MILLISECONDS": 1,
    "SECOND": 1000,
    "SECONDS": 1000,
    "MINUTE": 60_000,
    "MINUTES": 60_000,
    "HOUR": 3_600_000,
    "HOURS": 3_600_000,
    "DAY": 86_400_000,
    "DAYS": 86_400_000,
}
#: A year-month interval as a window's or a sort's length is not KDA's (the message, with
#: the pages that say so); ``{}`` is the interval.
YEAR_MONTH_LENGTH = (
    "KDA for SQL does not support a year-month interval ({}) as a window's or a sort's "
    "length: its windows are day-time intervals (SQL Reference, WINDOW Clause, "
    "sql-reference-window-clause.html: \"RANGE INTERVAL 'interval' {{SECOND | MINUTE | HOUR}} "
    'PRECEDING"; Data Types, sql-reference-data-types.html: "Day-time intervals supported, '
    'year-month intervals not supported")'
)
_NUMBER = r"(\d+(?:\.\d+)?)"
_SPAN = re.compile(rf"^\s*(-)?\s*{_NUMBER}(?:[ :]{_NUMBER})?(?::{_NUMBER})?(?::{_NUMBER})?\s*$")
_SPAN_ORDER = ["DAY", "HOUR", "MINUTE", "SECOND"]


def interval_ms(node: exp.Interval) -> Interval:
    """``INTERVAL '1' MINUTE``, ``INTERVAL '1:30' MINUTE TO SECOND`` → :class:`Interval` ms."""
    text = node.this.name if isinstance(node.this, exp.Literal) else node.this.sql()
    unit = node.args.get("unit")
    line, column = node_position(node)
    if isinstance(unit, exp.IntervalSpan):
        first = str(unit.this.name).upper().rstrip("S")
        last = str(unit.expression.name).upper().rstrip("S")
    elif unit is not None:
        first = last = str(unit.name).upper().rstrip("S")
    else:
        raise SqlPlanError(f"interval {text!r} needs a unit", line=line, column=column)
    if first in YEAR_MONTH_FIELDS or last in YEAR_MONTH_FIELDS:
        raise SqlPlanError(YEAR_MONTH_LENGTH.format(node.sql()), line=line, column=column)
    if first not in _SPAN_ORDER or last not in _SPAN_ORDER:
        if first == "MILLISECOND" and last == "MILLISECOND":
            return Interval(int(float(text)))
        raise SqlPlanError(f"unknown interval unit {first}", line=line, column=column)
    match = _SPAN.match(text)
    if not match:
        raise SqlPlanError(f"bad interval literal {text!r}", line=line, column=column)
    sign = -1 if match.group(1) else 1
    parts = [p for p in match.groups()[1:] if p is not None]
    units = _SPAN_ORDER[_SPAN_ORDER.index(first) : _SPAN_ORDER.index(last) + 1]
    if len(parts) != len(units):
        if len(parts) == 1:
            units = [first]
        else:
            raise SqlPlanError(
                f"interval {text!r} does not match {first} TO {last}", line=line, column=column
            )
    total = 0.0
    for part, part_unit in zip(parts, units, strict=True):
        total += float(part) * _UNIT_MS[part_unit]
    return Interval(sign * round(total))


_YEAR_MONTH = re.compile(r"^\s*([+-])?\s*(\d+)(?:-(\d+))?\s*$")


def _fields(node: exp.Interval) -> tuple[str, str] | None:
    unit = node.args.get("unit")
    if isinstance(unit, exp.IntervalSpan):
        return (
            str(unit.this.name).upper().rstrip("S"),
            str(unit.expression.name).upper().rstrip("S"),
        )
    if unit is not None:
        first = str(unit.name).upper().rstrip("S")
        return first, first
    return None


def interval_value(node: exp.Interval) -> Interval | MonthInterval:
    """An interval literal's value: :class:`MonthInterval` months for a year-month one
    (``INTERVAL '3-4' YEAR TO MONTH`` → 40, ``INTERVAL '-2' YEAR`` → -24), otherwise
    :func:`interval_ms`."""
    fields = _fields(node)
    if fields is None or (
        fields[0] not in YEAR_MONTH_FIELDS and fields[1] not in YEAR_MONTH_FIELDS
    ):
        return interval_ms(node)
    first, last = fields
    text = node.this.name if isinstance(node.this, exp.Literal) else node.this.sql()
    line, column = node_position(node)
    if (first, last) not in (("YEAR", "YEAR"), ("MONTH", "MONTH"), ("YEAR", "MONTH")):
        raise SqlPlanError(
            f"{node.sql()}: a year-month interval is YEAR, MONTH or YEAR TO MONTH",
            line=line,
            column=column,
        )
    match = _YEAR_MONTH.match(text)
    if not match or (match.group(3) is not None and first == last):
        raise SqlPlanError(
            f"bad interval literal {text!r} for {interval_qualifier(first, last)}",
            line=line,
            column=column,
        )
    sign = -1 if match.group(1) == "-" else 1
    number = int(match.group(2))
    if match.group(3) is not None:
        months = int(match.group(3))
        if months > 11:
            raise SqlPlanError(
                f"interval {text!r}: the months of YEAR TO MONTH run from 0 to 11",
                line=line,
                column=column,
            )
        return MonthInterval(sign * (number * 12 + months))
    return MonthInterval(sign * (number if first == "MONTH" else number * 12))


def interval_type(node: exp.Interval) -> SqlType:
    """The type of an interval literal, with its qualifier (``INTERVAL '3 4' DAY TO HOUR`` →
    ``INTERVAL DAY TO HOUR``)."""
    unit = node.args.get("unit")
    if isinstance(unit, exp.IntervalSpan):
        first = str(unit.this.name).upper().rstrip("S")
        last = str(unit.expression.name).upper().rstrip("S")
    elif unit is not None:
        first = last = str(unit.name).upper().rstrip("S")
    else:
        return SqlType(TypeKind.INTERVAL)
    if first in YEAR_MONTH_FIELDS and last in YEAR_MONTH_FIELDS:
        return SqlType(TypeKind.INTERVAL, qualifier=interval_qualifier(first, last))
    if first not in INTERVAL_FIELDS or last not in INTERVAL_FIELDS:
        return SqlType(TypeKind.INTERVAL)
    return SqlType(TypeKind.INTERVAL, qualifier=interval_qualifier(first, last))


def datatype_to_sql(node: exp.DataType, *, year_month: bool = False) -> SqlType:
    """A sqlglot ``DataType`` as a KDA :class:`SqlType` (``REAL`` parses as FLOAT in sqlglot).
    A year-month interval type is a plan error unless ``year_month`` (a CAST's target): KDA
    has no column of that type."""
    text = node.sql().upper()
    text = text.replace("FLOAT", "REAL").replace("TEXT", "VARCHAR")
    try:
        return parse_type(text, year_month=year_month)
    except UnsupportedTypeError as exc:
        line, column = node_position(node)
        raise SqlPlanError(str(exc), line=line, column=column) from None
    except ValueError as exc:
        line, column = node_position(node)
        raise SqlPlanError(str(exc), line=line, column=column) from None
