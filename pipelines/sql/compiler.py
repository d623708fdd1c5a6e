"""Compile sqlglot expression trees into Python closures over row tuples.

A :class:`Scope` says where each visible column sits in the row tuple and what type it has.
:func:`compile_expr` turns an expression into an :class:`Expr` — a closure ``row -> value``
plus the result type when it is known. NULL handling and three-valued logic are SQL's; a value
that cannot be computed (divide by zero, a bad cast) raises
:class:`~ground.errors.RowError`, which the engine routes to the error stream.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql import functions as fn
from pipelines.sql.dialect import is_step
from pipelines.sql.types import (
    Interval,
    SqlType,
    Timestamp,
    TypeKind,
    parse_timestamp,
    parse_type,
)

__all__ = [
    "AGGREGATE_NODES",
    "Expr",
    "Scope",
    "ScopeColumn",
    "compile_expr",
    "datatype_to_sql",
    "identifier_name",
    "interval_ms",
    "node_position",
]

Row = tuple[Any, ...]
Fn = Callable[[Row], Any]

BOOLEAN = SqlType(TypeKind.BOOLEAN)
BIGINT = SqlType(TypeKind.BIGINT)
INTEGER = SqlType(TypeKind.INTEGER)
DOUBLE = SqlType(TypeKind.DOUBLE)
VARCHAR = SqlType(TypeKind.VARCHAR)
TIMESTAMP = SqlType(TypeKind.TIMESTAMP)
INTERVAL = SqlType(TypeKind.INTERVAL)

#: sqlglot node classes that are aggregates in KDA (plus COUNT DISTINCT through Count).
AGGREGATE_NODES: dict[type, str] = {
    exp.Count: "COUNT",
    exp.Sum: "SUM",
    exp.Avg: "AVG",
    exp.Min: "MIN",
    exp.Max: "MAX",
    exp.FirstValue: "FIRST_VALUE",
    exp.LastValue: "LAST_VALUE",
    exp.StddevPop: "STDDEV_POP",
    exp.StddevSamp: "STDDEV_SAMP",
    exp.Stddev: "STDDEV_SAMP",
    exp.VariancePop: "VAR_POP",
    exp.Variance: "VAR_SAMP",
}


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


def node_position(node: exp.Expression | None) -> tuple[int, int]:
    """Best-effort (line, column) of a node: the first identifier under it that knows one."""
    if node is None:
        return 0, 0
    for candidate in node.walk():
        meta = getattr(candidate, "meta", None) or {}
        if "line" in meta:
            # sqlglot records the column of a token's last character; report its first.
            width = int(meta.get("end", 0)) - int(meta.get("start", 0))
            return int(meta["line"]), max(1, int(meta.get("col", 0)) - width)
    return 0, 0


@dataclass(frozen=True, slots=True)
class ScopeColumn:
    name: str
    index: int
    sql_type: SqlType | None
    qualifier: str = ""


@dataclass(slots=True)
class Scope:
    """The columns an expression can see: name → position in the row tuple."""

    columns: list[ScopeColumn] = field(default_factory=list)
    #: Placeholder names (group keys, aggregate results) resolved before normal columns.
    specials: dict[str, ScopeColumn] = field(default_factory=dict)

    def add(self, name: str, index: int, sql_type: SqlType | None, qualifier: str = "") -> None:
        self.columns.append(ScopeColumn(name, index, sql_type, qualifier))

    def resolve(self, node: exp.Column) -> ScopeColumn:
        name = identifier_name(node.this)
        if name in self.specials:
            return self.specials[name]
        qualifier = identifier_name(node.args.get("table")) if node.args.get("table") else ""
        candidates = [c for c in self.columns if c.name == name]
        if not candidates:
            candidates = [c for c in self.columns if c.name.upper() == name.upper()]
        if qualifier:
            qualified = [
                c
                for c in candidates
                if c.qualifier == qualifier or c.qualifier.upper() == qualifier.upper()
            ]
            candidates = qualified
        line, column = node_position(node)
        if not candidates:
            shown = f"{qualifier}.{name}" if qualifier else name
            known = ", ".join(sorted({c.name for c in self.columns}))
            raise SqlPlanError(
                f"unknown column {shown!r}; visible columns: {known}", line=line, column=column
            )
        if len({(c.qualifier, c.index) for c in candidates}) > 1:
            raise SqlPlanError(
                f"column {name!r} is ambiguous; qualify it with a stream alias",
                line=line,
                column=column,
            )
        return candidates[0]


@dataclass(frozen=True, slots=True)
class Expr:
    fn: Fn
    sql_type: SqlType | None
    #: The constant value when the expression does not depend on the row.
    constant: Any = None
    is_constant: bool = False
    #: The row position when the expression is a plain column reference (fast paths).
    column: int | None = None


def _const(value: Any, sql_type: SqlType | None) -> Expr:
    return Expr(lambda _row: value, sql_type, value, True)


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
_NUMBER = r"(\d+(?:\.\d+)?)"
_SPAN = re.compile(
    rf"^\s*(-)?\s*{_NUMBER}(?:[ :]{_NUMBER})?(?::{_NUMBER})?(?::{_NUMBER})?\s*$"
)
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
    if first in ("YEAR", "MONTH") or last in ("YEAR", "MONTH"):
        raise SqlUnsupportedError(
            "year-month intervals (only day-time intervals)", line=line, column=column
        )
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


def datatype_to_sql(node: exp.DataType) -> SqlType:
    """A sqlglot ``DataType`` as a KDA :class:`SqlType` (``REAL`` parses as FLOAT in sqlglot)."""
    text = node.sql().upper()
    text = text.replace("FLOAT", "REAL").replace("TEXT", "VARCHAR")
    try:
        return parse_type(text)
    except ValueError as exc:
        line, column = node_position(node)
        raise SqlPlanError(str(exc), line=line, column=column) from None


def _coerce_literal_to(value: Any, sql_type: SqlType | None) -> Any:
    """Compare a TIMESTAMP column with a string literal: convert the literal once."""
    if sql_type is not None and sql_type.kind is TypeKind.TIMESTAMP and isinstance(value, str):
        return parse_timestamp(value)
    return value


def _compare(op: Callable[[Any, Any], bool], left: Expr, right: Expr) -> Expr:
    if right.is_constant:
        constant = _coerce_literal_to(right.constant, left.sql_type)
        lf = left.fn
        if constant is None:
            return _const(None, BOOLEAN)

        def compare_const(row: Row) -> Any:
            a = lf(row)
            return None if a is None else op(a, constant)

        return Expr(compare_const, BOOLEAN)
    if left.is_constant:
        constant = _coerce_literal_to(left.constant, right.sql_type)
        rf = right.fn
        if constant is None:
            return _const(None, BOOLEAN)

        def const_compare(row: Row) -> Any:
            b = rf(row)
            return None if b is None else op(constant, b)

        return Expr(const_compare, BOOLEAN)
    lf, rf = left.fn, right.fn

    def compare(row: Row) -> Any:
        a = lf(row)
        if a is None:
            return None
        b = rf(row)
        return None if b is None else op(a, b)

    return Expr(compare, BOOLEAN)


def _numeric_result(a: SqlType | None, b: SqlType | None) -> SqlType | None:
    if a is None or b is None:
        return a or b
    if a.kind is TypeKind.TIMESTAMP or b.kind is TypeKind.TIMESTAMP:
        return (
            TIMESTAMP if (a.kind is TypeKind.INTERVAL or b.kind is TypeKind.INTERVAL) else INTERVAL
        )
    if a.kind is TypeKind.INTERVAL and b.kind is TypeKind.INTERVAL:
        return INTERVAL
    if a.kind in (TypeKind.DOUBLE, TypeKind.REAL) or b.kind in (TypeKind.DOUBLE, TypeKind.REAL):
        return DOUBLE
    if a.kind is TypeKind.DECIMAL or b.kind is TypeKind.DECIMAL:
        return SqlType(TypeKind.DECIMAL)
    if a.is_integer and b.is_integer:
        return BIGINT
    return a


def _call(func: Callable[..., Any], args: Sequence[Expr], sql_type: SqlType | None) -> Expr:
    fns = [a.fn for a in args]
    if all(a.is_constant for a in args):
        # Fold constants at compile time (a RowError here is a plan error: it always fails).
        try:
            value = func(*[a.constant for a in args])
        except Exception:  # noqa: BLE001 - evaluated per row instead, to report per row
            pass
        else:
            return _const(value, sql_type)
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


_BINARY: dict[type, Callable[..., Any]] = {
    exp.Add: fn.add,
    exp.Sub: fn.sub,
    exp.Mul: fn.mul,
    exp.Div: fn.div,
    exp.Mod: fn.mod,
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
}
_UNARY_STRING: dict[type, Callable[..., Any]] = {
    exp.Upper: fn.upper,
    exp.Lower: fn.lower,
    exp.Initcap: fn.initcap,
    exp.Length: fn.char_length,
}
_MATH: dict[type, Callable[..., Any]] = {
    exp.Abs: fn.abs,
    exp.Sqrt: fn.sqrt,
    exp.Ln: fn.ln,
    exp.Exp: fn.exp,
}


def compile_expr(node: exp.Expression, scope: Scope) -> Expr:
    """Compile ``node`` against ``scope``. Raises SqlPlanError/SqlUnsupportedError with the
    node's position when it cannot be compiled."""
    compiler = _COMPILERS.get(type(node))
    if compiler is not None:
        return compiler(node, scope)
    for klass, op in _BINARY.items():
        if isinstance(node, klass):
            left = compile_expr(node.this, scope)
            right = compile_expr(node.expression, scope)
            return _call(op, [left, right], _numeric_result(left.sql_type, right.sql_type))
    for klass, cmp in _COMPARE.items():
        if isinstance(node, klass):
            return _compare(
                cmp, compile_expr(node.this, scope), compile_expr(node.expression, scope)
            )
    for text_node, text_func in _UNARY_STRING.items():
        if isinstance(node, text_node):
            arg = compile_expr(node.this, scope)
            returns = BIGINT if text_node is exp.Length else (arg.sql_type or VARCHAR)
            return _call(text_func, [arg], returns)
    for math_node, math_func in _MATH.items():
        if isinstance(node, math_node):
            arg = compile_expr(node.this, scope)
            return _call(math_func, [arg], arg.sql_type if math_node is exp.Abs else DOUBLE)
    if isinstance(node, tuple(AGGREGATE_NODES)):
        line, column = node_position(node)
        raise SqlPlanError(
            f"aggregate {node.sql()} is only allowed in a GROUP BY query, a stagger window "
            "or with OVER",
            line=line,
            column=column,
        )
    line, column = node_position(node)
    raise SqlUnsupportedError(f"{type(node).__name__} ({node.sql()})", line=line, column=column)


def _column(node: exp.Expression, scope: Scope) -> Expr:
    assert isinstance(node, exp.Column)
    name = identifier_name(node.this)
    if name == "CURRENT_ROW_TIMESTAMP" and name not in scope.specials:
        # The row's ROWTIME: the time it entered the application (deterministic on replay).
        node = exp.Column(this=exp.Identifier(this="ROWTIME"), table=node.args.get("table"))
    column = scope.resolve(node)
    return Expr(operator.itemgetter(column.index), column.sql_type, column=column.index)


def _literal(node: exp.Expression, scope: Scope) -> Expr:
    assert isinstance(node, exp.Literal)
    if node.is_string:
        return _const(node.this, VARCHAR)
    text = node.this
    if re.fullmatch(r"[+-]?\d+", text):
        return _const(int(text), BIGINT if abs(int(text)) >= 2**31 else INTEGER)
    if "e" in text.lower():
        return _const(float(text), DOUBLE)
    return _const(Decimal(text), SqlType(TypeKind.DECIMAL))


def _paren(node: exp.Expression, scope: Scope) -> Expr:
    return compile_expr(node.this, scope)


def _neg(node: exp.Expression, scope: Scope) -> Expr:
    arg = compile_expr(node.this, scope)
    return _call(fn.neg, [arg], arg.sql_type)


def _null(node: exp.Expression, scope: Scope) -> Expr:
    return _const(None, None)


def _boolean(node: exp.Expression, scope: Scope) -> Expr:
    return _const(bool(node.this), BOOLEAN)


def _interval(node: exp.Expression, scope: Scope) -> Expr:
    assert isinstance(node, exp.Interval)
    return _const(interval_ms(node), INTERVAL)


def _and(node: exp.Expression, scope: Scope) -> Expr:
    lf = compile_expr(node.this, scope).fn
    rf = compile_expr(node.expression, scope).fn

    def and_(row: Row) -> Any:
        a = lf(row)
        if a is False:
            return False
        b = rf(row)
        if b is False:
            return False
        if a is None or b is None:
            return None
        return True

    return Expr(and_, BOOLEAN)


def _or(node: exp.Expression, scope: Scope) -> Expr:
    lf = compile_expr(node.this, scope).fn
    rf = compile_expr(node.expression, scope).fn

    def or_(row: Row) -> Any:
        a = lf(row)
        if a is True:
            return True
        b = rf(row)
        if b is True:
            return True
        if a is None or b is None:
            return None
        return False

    return Expr(or_, BOOLEAN)


def _not(node: exp.Expression, scope: Scope) -> Expr:
    inner = node.this
    if isinstance(inner, exp.Is):
        arg = compile_expr(inner.this, scope).fn
        if isinstance(inner.expression, exp.Null):
            return Expr(lambda row: arg(row) is not None, BOOLEAN)
    f = compile_expr(inner, scope).fn

    def not_(row: Row) -> Any:
        value = f(row)
        return None if value is None else not value

    return Expr(not_, BOOLEAN)


def _is(node: exp.Expression, scope: Scope) -> Expr:
    arg = compile_expr(node.this, scope).fn
    target = node.expression
    if isinstance(target, exp.Null):
        return Expr(lambda row: arg(row) is None, BOOLEAN)
    if isinstance(target, exp.Boolean):
        wanted = bool(target.this)
        return Expr(lambda row: arg(row) is wanted, BOOLEAN)
    line, column = node_position(node)
    raise SqlUnsupportedError(f"IS {target.sql()}", line=line, column=column)


def _between(node: exp.Expression, scope: Scope) -> Expr:
    value = compile_expr(node.this, scope)
    low = compile_expr(node.args["low"], scope)
    high = compile_expr(node.args["high"], scope)
    ge = _compare(operator.ge, value, low).fn
    le = _compare(operator.le, value, high).fn

    def between(row: Row) -> Any:
        a = ge(row)
        if a is False:
            return False
        b = le(row)
        if b is False:
            return False
        if a is None or b is None:
            return None
        return True

    return Expr(between, BOOLEAN)


def _in(node: exp.Expression, scope: Scope) -> Expr:
    value = compile_expr(node.this, scope)
    options = [compile_expr(e, scope) for e in node.expressions]
    if node.args.get("query") is not None:
        line, column = node_position(node)
        raise SqlUnsupportedError("IN (subquery)", line=line, column=column)
    if all(o.is_constant for o in options):
        constants = {_coerce_literal_to(o.constant, value.sql_type) for o in options}
        has_null = None in constants
        constants.discard(None)
        vf = value.fn

        def in_set(row: Row) -> Any:
            v = vf(row)
            if v is None:
                return None
            if v in constants:
                return True
            return None if has_null else False

        return Expr(in_set, BOOLEAN)
    vf = value.fn
    ofs = [o.fn for o in options]

    def in_list(row: Row) -> Any:
        v = vf(row)
        if v is None:
            return None
        unknown = False
        for f in ofs:
            o = f(row)
            if o is None:
                unknown = True
            elif o == v:
                return True
        return None if unknown else False

    return Expr(in_list, BOOLEAN)


def _like(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope), compile_expr(node.expression, scope)]
    escape = node.args.get("escape")
    if escape is not None:
        args.append(compile_expr(escape, scope))
    return _call(fn.like, args, BOOLEAN)


def _escape(node: exp.Expression, scope: Scope) -> Expr:
    like = node.this
    args = [
        compile_expr(like.this, scope),
        compile_expr(like.expression, scope),
        compile_expr(node.expression, scope),
    ]
    return _call(fn.like, args, BOOLEAN)


def _case(node: exp.Expression, scope: Scope) -> Expr:
    subject = node.this
    branches: list[tuple[Fn, Fn]] = []
    types: list[SqlType | None] = []
    if subject is not None:
        subject_expr = compile_expr(subject, scope)
    for branch in node.args.get("ifs") or []:
        result = compile_expr(branch.args["true"], scope)
        types.append(result.sql_type)
        if subject is not None:
            condition = _compare(operator.eq, subject_expr, compile_expr(branch.this, scope)).fn
        else:
            condition = compile_expr(branch.this, scope).fn
        branches.append((condition, result.fn))
    default_node = node.args.get("default")
    default = compile_expr(default_node, scope) if default_node is not None else _const(None, None)
    types.append(default.sql_type)
    default_fn = default.fn

    def case(row: Row) -> Any:
        for condition, result in branches:
            if condition(row) is True:
                return result(row)
        return default_fn(row)

    return Expr(case, next((t for t in types if t is not None), None))


def _cast(node: exp.Expression, scope: Scope) -> Expr:
    target = datatype_to_sql(node.args["to"])
    arg = compile_expr(node.this, scope)
    return _call(lambda value: fn.cast(value, target), [arg], target)


def _coalesce(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope)] + [compile_expr(e, scope) for e in node.expressions]
    fns = [a.fn for a in args]

    def coalesce(row: Row) -> Any:
        for f in fns:
            value = f(row)
            if value is not None:
                return value
        return None

    return Expr(coalesce, next((a.sql_type for a in args if a.sql_type is not None), None))


def _nullif(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope), compile_expr(node.expression, scope)]
    return _call(fn.nullif, args, args[0].sql_type)


def _dpipe(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope), compile_expr(node.expression, scope)]
    return _call(fn.concat, args, VARCHAR)


def _unit(node: exp.Expression | None) -> str:
    return str(node.name if node is not None else "").upper()


def _floor(node: exp.Expression, scope: Scope) -> Expr:
    arg = compile_expr(node.this, scope)
    to = node.args.get("to")
    if to is not None:
        unit = _unit(to)
        return _call(lambda value: fn.floor_to(value, unit), [arg], arg.sql_type)
    return _call(fn.floor_number, [arg], arg.sql_type)


def _ceil(node: exp.Expression, scope: Scope) -> Expr:
    arg = compile_expr(node.this, scope)
    to = node.args.get("to")
    if to is not None:
        unit = _unit(to)
        return _call(lambda value: fn.ceil_to(value, unit), [arg], arg.sql_type)
    return _call(fn.ceil, [arg], arg.sql_type)


def _extract(node: exp.Expression, scope: Scope) -> Expr:
    unit = _unit(node.this)
    arg = compile_expr(node.expression, scope)
    return _call(lambda value: fn.extract(unit, value), [arg], BIGINT)


def _substring(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope), compile_expr(node.args["start"], scope)]
    if node.args.get("length") is not None:
        args.append(compile_expr(node.args["length"], scope))
    return _call(fn.substring, args, VARCHAR)


def _position(node: exp.Expression, scope: Scope) -> Expr:
    needle = compile_expr(node.args["substr"], scope)
    haystack = compile_expr(node.this, scope)
    return _call(fn.position, [needle, haystack], INTEGER)


def _trim(node: exp.Expression, scope: Scope) -> Expr:
    where = str(node.args.get("position") or "BOTH").upper()
    chars_node = node.args.get("expression")
    value = compile_expr(node.this, scope)
    chars = compile_expr(chars_node, scope) if chars_node is not None else _const(" ", VARCHAR)
    return _call(lambda s, c: fn.trim(s, where, c), [value, chars], VARCHAR)


def _overlay(node: exp.Expression, scope: Scope) -> Expr:
    args = [
        compile_expr(node.this, scope),
        compile_expr(node.expression, scope),
        compile_expr(node.args["from_"], scope),
    ]
    if node.args.get("for_") is not None:
        args.append(compile_expr(node.args["for_"], scope))
    return _call(fn.overlay, args, VARCHAR)


def _round(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope)]
    if node.args.get("decimals") is not None:
        args.append(compile_expr(node.args["decimals"], scope))
    return _call(fn.round, args, args[0].sql_type)


def _pow(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope), compile_expr(node.expression, scope)]
    return _call(fn.power, args, DOUBLE)


def _log(node: exp.Expression, scope: Scope) -> Expr:
    base = node.this
    if isinstance(base, exp.Literal) and base.this == "10" and node.expression is not None:
        return _call(fn.log10, [compile_expr(node.expression, scope)], DOUBLE)
    line, column = node_position(node)
    raise SqlUnsupportedError(
        "LOG with a base other than 10 (use LN or LOG10)", line=line, column=column
    )


def _anonymous(node: exp.Expression, scope: Scope) -> Expr:
    name = str(node.this).upper()
    line, column = node_position(node)
    if is_step(node):
        value, by = node.expressions
        value_expr = compile_expr(value, scope)
        by_expr = compile_expr(by, scope)
        if not by_expr.is_constant:
            raise SqlPlanError(
                "STEP … BY needs a constant interval or integer", line=line, column=column
            )
        step_by = by_expr.constant
        return _call(lambda v: fn.step(v, step_by), [value_expr], value_expr.sql_type)
    scalar = fn.SCALARS.get(name)
    if scalar is None:
        raise SqlUnsupportedError(f"function {name}", line=line, column=column)
    args = [compile_expr(e, scope) for e in node.expressions]
    if len(args) < scalar.min_args or (scalar.max_args is not None and len(args) > scalar.max_args):
        raise SqlPlanError(
            f"{name} takes {scalar.min_args}"
            + (f"–{scalar.max_args}" if scalar.max_args != scalar.min_args else "")
            + f" arguments, got {len(args)}",
            line=line,
            column=column,
        )
    return _call(scalar.fn, args, scalar.returns([a.sql_type for a in args]))


def _current_timestamp(node: exp.Expression, scope: Scope) -> Expr:
    return _column(exp.Column(this=exp.Identifier(this="ROWTIME")), scope)


def _window_node(node: exp.Expression, scope: Scope) -> Expr:
    line, column = node_position(node)
    raise SqlPlanError("OVER is only allowed in a SELECT list item", line=line, column=column)


_COMPILERS: dict[type, Callable[[exp.Expression, Scope], Expr]] = {
    exp.Column: _column,
    exp.Literal: _literal,
    exp.Paren: _paren,
    exp.Neg: _neg,
    exp.Null: _null,
    exp.Boolean: _boolean,
    exp.Interval: _interval,
    exp.And: _and,
    exp.Or: _or,
    exp.Not: _not,
    exp.Is: _is,
    exp.Between: _between,
    exp.In: _in,
    exp.Like: _like,
    exp.Escape: _escape,
    exp.Case: _case,
    exp.Cast: _cast,
    exp.TryCast: _cast,
    exp.Coalesce: _coalesce,
    exp.Nullif: _nullif,
    exp.DPipe: _dpipe,
    exp.Floor: _floor,
    exp.Ceil: _ceil,
    exp.Extract: _extract,
    exp.Substring: _substring,
    exp.StrPosition: _position,
    exp.Trim: _trim,
    exp.Overlay: _overlay,
    exp.Round: _round,
    exp.Pow: _pow,
    exp.Log: _log,
    exp.Anonymous: _anonymous,
    exp.CurrentTimestamp: _current_timestamp,
    exp.Window: _window_node,
}


def compile_many(nodes: Iterable[exp.Expression], scope: Scope) -> list[Expr]:
    return [compile_expr(n, scope) for n in nodes]


def as_timestamp(value: Any) -> Timestamp | None:
    return None if value is None else Timestamp(value)
