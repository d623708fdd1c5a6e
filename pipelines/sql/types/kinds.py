"""SQL types: the kinds of the KDA dialect, a type with its size, precision or fields, and the
kinds' families and integer ranges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "APPROX_KINDS",
    "BIGINT",
    "BINARY_KINDS",
    "BOOLEAN",
    "DATE",
    "DOUBLE",
    "Fn",
    "INTEGER",
    "INTEGER_KINDS",
    "INTEGER_RANGES",
    "INTERVAL",
    "INTERVAL_FIELDS",
    "Row",
    "STRING_KINDS",
    "SqlType",
    "TEMPORAL_KINDS",
    "TIME",
    "TIMESTAMP",
    "TypeKind",
    "VARCHAR",
    "YEAR_MONTH_FIELDS",
    "interval_qualifier",
    "is_year_month",
]


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


INTEGER_KINDS = {TypeKind.TINYINT, TypeKind.SMALLINT, TypeKind.INTEGER, TypeKind.BIGINT}


APPROX_KINDS = {TypeKind.REAL, TypeKind.DOUBLE}


STRING_KINDS = {TypeKind.CHAR, TypeKind.VARCHAR}


BINARY_KINDS = {TypeKind.BINARY, TypeKind.VARBINARY}


TEMPORAL_KINDS = {TypeKind.DATE, TypeKind.TIME, TypeKind.TIMESTAMP}


INTEGER_RANGES = {
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
        return self.kind in INTEGER_KINDS

    @property
    def is_numeric(self) -> bool:
        return (
            self.kind in INTEGER_KINDS or self.kind in APPROX_KINDS or self.kind is TypeKind.DECIMAL
        )

    @property
    def is_string(self) -> bool:
        return self.kind in STRING_KINDS

    @property
    def is_temporal(self) -> bool:
        return self.kind in TEMPORAL_KINDS

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


#: Day-time interval fields, largest first (``INTERVAL DAY TO SECOND`` …).


#: The types of a kind that takes no size, precision or fields.
BIGINT = SqlType(TypeKind.BIGINT)
BOOLEAN = SqlType(TypeKind.BOOLEAN)
DATE = SqlType(TypeKind.DATE)
DOUBLE = SqlType(TypeKind.DOUBLE)
INTEGER = SqlType(TypeKind.INTEGER)
INTERVAL = SqlType(TypeKind.INTERVAL)
TIME = SqlType(TypeKind.TIME)
TIMESTAMP = SqlType(TypeKind.TIMESTAMP)
VARCHAR = SqlType(TypeKind.VARCHAR)


INTERVAL_FIELDS = ("DAY", "HOUR", "MINUTE", "SECOND")
#: Year-month interval fields, largest first (``INTERVAL YEAR TO MONTH`` …).
YEAR_MONTH_FIELDS = ("YEAR", "MONTH")


def is_year_month(sql_type: SqlType | None) -> bool:
    """A year-month INTERVAL type (``INTERVAL YEAR``, ``MONTH``, ``YEAR TO MONTH``)."""
    return (
        sql_type is not None
        and sql_type.kind is TypeKind.INTERVAL
        and sql_type.qualifier is not None
        and sql_type.qualifier.partition(" TO ")[0] in YEAR_MONTH_FIELDS
    )


def interval_qualifier(first: str, last: str) -> str:
    """``("DAY", "MINUTE")`` → ``"DAY TO MINUTE"``; ``("HOUR", "HOUR")`` → ``"HOUR"``."""
    return first if first == last else f"{first} TO {last}"
