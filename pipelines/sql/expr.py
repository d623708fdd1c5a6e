"""A compiled expression (:class:`Expr`) and the combinators the compiler builds them with:
constants, function calls folded at compile time when every argument is constant, and
comparisons with SQL's NULL rule."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.sql.types import (
    INTERVAL_FIELDS,
    YEAR_MONTH_FIELDS,
    Fn,
    Row,
    SqlType,
    TypeKind,
    interval_qualifier,
    is_year_month,
    parse_timestamp,
)
from pipelines.sql.types.kinds import BIGINT, BOOLEAN, DOUBLE, INTEGER, INTERVAL, TIMESTAMP, VARCHAR

__all__ = [
    "BIGINT",
    "BOOLEAN",
    "DOUBLE",
    "Expr",
    "INTEGER",
    "INTERVAL",
    "TIMESTAMP",
    "VARCHAR",
    "call",
    "coerce_literal",
    "compare",
    "constant",
    "numeric_result",
]


@dataclass(frozen=True, slots=True)
class Expr:
    fn: Fn
    sql_type: SqlType | None
    #: The constant value when the expression does not depend on the row.
    constant: Any = None
    is_constant: bool = False
    #: The row position when the expression is a plain column reference (fast paths).
    column: int | None = None


def constant(value: Any, sql_type: SqlType | None) -> Expr:
    return Expr(lambda _row: value, sql_type, value, True)


def coerce_literal(value: Any, sql_type: SqlType | None) -> Any:
    """Compare a TIMESTAMP column with a string literal: convert the literal once."""
    if sql_type is not None and sql_type.kind is TypeKind.TIMESTAMP and isinstance(value, str):
        return parse_timestamp(value)
    return value


def compare(op: Callable[[Any, Any], bool], left: Expr, right: Expr) -> Expr:
    if right.is_constant:
        fixed = coerce_literal(right.constant, left.sql_type)
        lf = left.fn
        if fixed is None:
            return constant(None, BOOLEAN)

        def compare_constant(row: Row) -> Any:
            a = lf(row)
            return None if a is None else op(a, fixed)

        return Expr(compare_constant, BOOLEAN)
    if left.is_constant:
        fixed = coerce_literal(left.constant, right.sql_type)
        rf = right.fn
        if fixed is None:
            return constant(None, BOOLEAN)

        def constant_compare(row: Row) -> Any:
            b = rf(row)
            return None if b is None else op(fixed, b)

        return Expr(constant_compare, BOOLEAN)
    lf, rf = left.fn, right.fn

    def compare_rows(row: Row) -> Any:
        a = lf(row)
        if a is None:
            return None
        b = rf(row)
        return None if b is None else op(a, b)

    return Expr(compare_rows, BOOLEAN)


def numeric_result(a: SqlType | None, b: SqlType | None) -> SqlType | None:
    if a is None or b is None:
        return a or b
    if is_year_month(a) and b.kind in (TypeKind.TIMESTAMP, TypeKind.DATE):
        return b  # a calendar shift keeps the datetime's type
    if is_year_month(b) and a.kind in (TypeKind.TIMESTAMP, TypeKind.DATE):
        return a
    if a.kind is TypeKind.TIMESTAMP or b.kind is TypeKind.TIMESTAMP:
        return (
            TIMESTAMP if (a.kind is TypeKind.INTERVAL or b.kind is TypeKind.INTERVAL) else INTERVAL
        )
    if a.kind is TypeKind.INTERVAL and b.kind is TypeKind.INTERVAL:
        return _wider_interval(a, b)
    if a.kind is TypeKind.INTERVAL:
        return a  # interval * number, interval / number
    if b.kind is TypeKind.INTERVAL:
        return b
    if a.kind in (TypeKind.DOUBLE, TypeKind.REAL) or b.kind in (TypeKind.DOUBLE, TypeKind.REAL):
        return DOUBLE
    if a.kind is TypeKind.DECIMAL or b.kind is TypeKind.DECIMAL:
        return SqlType(TypeKind.DECIMAL)
    if a.is_integer and b.is_integer:
        return BIGINT
    return a


def _wider_interval(a: SqlType, b: SqlType) -> SqlType:
    """Interval ± interval: the fields of both (``DAY`` and ``DAY TO HOUR`` → ``DAY TO HOUR``,
    ``YEAR`` and ``YEAR TO MONTH`` → ``YEAR TO MONTH``, as
    sql-reference-date-timestamp-interval.html shows)."""
    if not a.qualifier or not b.qualifier:
        return INTERVAL
    fields = YEAR_MONTH_FIELDS if is_year_month(a) else INTERVAL_FIELDS
    if is_year_month(b) != (fields is YEAR_MONTH_FIELDS):
        return INTERVAL  # a mix the compiler refuses
    spans = [q.partition(" TO ") for q in (a.qualifier, b.qualifier)]
    firsts = [first for first, _, _ in spans]
    lasts = [last or first for first, _, last in spans]
    first = min(firsts, key=fields.index)
    last = max(lasts, key=fields.index)
    return SqlType(TypeKind.INTERVAL, qualifier=interval_qualifier(first, last))


def call(func: Callable[..., Any], args: Sequence[Expr], sql_type: SqlType | None) -> Expr:
    fns = [a.fn for a in args]
    if all(a.is_constant for a in args):
        # Fold constants at compile time (a RowError here is a plan error: it always fails).
        try:
            value = func(*[a.constant for a in args])
        except Exception:  # noqa: BLE001 - evaluated per row instead, to report per row
            pass
        else:
            return constant(value, sql_type)
    if len(fns) == 1:
        (f0,) = fns
        return Expr(lambda row: func(f0(row)), sql_type)
    if len(fns) == 2:
        f0, f1 = fns
        return Expr(lambda row: func(f0(row), f1(row)), sql_type)
    if len(fns) == 3:
        f0, f1, f2 = fns
        return Expr(lambda row: func(f0(row), f1(row), f2(row)), sql_type)
    return Expr(lambda row: func(*[f(row) for f in fns]), sql_type)
