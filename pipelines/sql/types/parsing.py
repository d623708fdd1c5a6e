"""Type names → :class:`~pipelines.sql.types.kinds.SqlType`: ``parse_type('VARCHAR(4)')``, the
aliases KDA accepts, day-time interval types.
"""

from __future__ import annotations

import re

from pipelines.sql.types.kinds import (
    BINARY_KINDS,
    INTERVAL_FIELDS,
    STRING_KINDS,
    YEAR_MONTH_FIELDS,
    SqlType,
    TypeKind,
    interval_qualifier,
)

__all__ = ["UnsupportedTypeError", "parse_type"]


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
    """A year-month interval as a column's type, which KDA does not have."""


_INTERVAL_TEXT = re.compile(
    r"^\s*INTERVAL\s+([A-Za-z]+)\s*(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?"
    r"(?:\s+TO\s+([A-Za-z]+)\s*(?:\(\s*\d+\s*\))?)?\s*$",
    re.IGNORECASE,
)


_YEAR_MONTH_SPANS = (("YEAR", "YEAR"), ("YEAR", "MONTH"), ("MONTH", "MONTH"))


def _parse_interval_type(text: str, year_month: bool) -> SqlType:
    """``INTERVAL DAY TO SECOND``, ``INTERVAL HOUR``, ``INTERVAL MINUTE(2) TO SECOND(3)`` →
    the day-time INTERVAL type (values are milliseconds whatever the fields); with
    ``year_month``, ``INTERVAL YEAR [TO MONTH]`` and ``INTERVAL MONTH`` too (values are months).
    """
    match = _INTERVAL_TEXT.match(text)
    if not match:
        raise ValueError(f"not an interval type: {text!r}")
    first = match.group(1).upper()
    last = (match.group(2) or first).upper()
    if first in YEAR_MONTH_FIELDS or last in YEAR_MONTH_FIELDS:
        if year_month and (first, last) in _YEAR_MONTH_SPANS:
            return SqlType(TypeKind.INTERVAL, qualifier=interval_qualifier(first, last))
        raise UnsupportedTypeError(
            f"KDA for SQL does not support the year-month interval type {text.strip()!r} "
            "for a column (SQL Reference, Data Types, sql-reference-data-types.html: "
            '"Day-time intervals supported, year-month intervals not supported"; they are '
            "values of expressions only)"
        )
    if first not in INTERVAL_FIELDS or last not in INTERVAL_FIELDS:
        raise ValueError(f"unknown interval field in {text!r}")
    if INTERVAL_FIELDS.index(last) < INTERVAL_FIELDS.index(first):
        raise ValueError(f"interval {text!r} runs from a smaller to a larger field")
    return SqlType(TypeKind.INTERVAL, qualifier=interval_qualifier(first, last))


def parse_type(text: str, *, year_month: bool = False) -> SqlType:
    """``'VARCHAR(4)'``, ``'REAL'``, ``'DECIMAL(10,2)'``, ``'DOUBLE PRECISION'``,
    ``'INTERVAL DAY TO SECOND'`` → :class:`SqlType`.

    Raises ``ValueError`` naming the text when it is not a KDA type, and its subclass
    :class:`UnsupportedTypeError` for a year-month interval type, which KDA has in
    expressions but not as a column's type (SQL Reference, *Data Types*: "Day-time intervals
    supported, year-month intervals not supported"); ``year_month`` accepts them (a CAST).
    """
    if re.match(r"^\s*INTERVAL\s+\S", text, re.IGNORECASE):
        return _parse_interval_type(text, year_month)
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
    if first is not None and kind not in STRING_KINDS and kind not in BINARY_KINDS:
        raise ValueError(f"{name} takes no size, got {text!r}")
    return SqlType(kind, length=first)
