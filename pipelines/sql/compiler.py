"""Compile sqlglot expression trees into Python closures over row tuples.

A :class:`~pipelines.sql.scope.Scope` says where each visible column sits in the row tuple and
what type it has. :func:`compile_expr` turns an expression into an :class:`Expr` — a closure
``row -> value`` plus the result type when it is known. NULL handling and three-valued logic
are SQL's; a value that cannot be computed (divide by zero, a bad cast) raises
:class:`~ground.errors.RowError`, which the engine routes to the error stream.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql import functions as fn
from pipelines.sql.dialect import is_step
from pipelines.sql.expr import (
    BIGINT,
    BOOLEAN,
    DOUBLE,
    INTEGER,
    VARCHAR,
    Expr,
    call,
    coerce_literal,
    compare,
    constant,
    numeric_result,
)
from pipelines.sql.nodes import (
    datatype_to_sql,
    identifier_name,
    interval_ms,
    interval_type,
    node_position,
)
from pipelines.sql.query_clock import clock_function
from pipelines.sql.row_values import log_parser_call, row_field
from pipelines.sql.scope import Scope
from pipelines.sql.types import Fn, Row, SqlType, TypeKind

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "AGGREGATE_NODES",
    "CLOCK_COLUMNS",
    "Expr",
    "WINDOW_ONLY_FUNCTIONS",
    "aggregate_name",
    "compile_expr",
    "unknown_call",
    "unknown_call_message",
]

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
    exp.Any: "ANY",
}
#: Aggregates sqlglot reads as plain calls (``Anonymous``), by name.
AGGREGATE_FUNCTIONS = frozenset({"EVERY"})
#: Functions that exist only over a sliding window (``EXP_AVG(x, interval) OVER w``).
WINDOW_ONLY_FUNCTIONS = frozenset({"EXP_AVG"})
#: Current-time functions sqlglot reads as column names.
CLOCK_COLUMNS = frozenset({"CURRENT_ROW_TIMESTAMP", "LOCALTIMESTAMP", "LOCALTIME"})


#: The names of every call sqlglot reads as ``Anonymous`` that a query may make outside FROM.
KNOWN_CALLS = frozenset(
    {"STEP", "SUBSTRING_SIMILAR", *AGGREGATE_FUNCTIONS, *WINDOW_ONLY_FUNCTIONS, *fn.SCALARS,
     *fn.LOG_PARSERS}
)
#: The clauses of a SELECT whose calls :func:`unknown_call` looks at (FROM has table
#: functions, which their planners know).
_CALL_CLAUSES = ("expressions", "where", "group", "having", "order", "windows", "stagger")


#: KDA's table functions: called in FROM TABLE(…) only.
TABLE_FUNCTIONS = frozenset(
    {"TOP_K_ITEMS_TUMBLING", "COUNT_DISTINCT_ITEMS_TUMBLING", "RANDOM_CUT_FOREST",
     "RANDOM_CUT_FOREST_WITH_EXPLANATION", "HOTSPOTS", "GROUP_RANK"}
)


def unknown_call_message(name: str) -> str:
    """What is said of a call of ``name`` where a function of a row is expected."""
    if name in TABLE_FUNCTIONS:
        return f"{name} is a table function: FROM TABLE({name}(CURSOR(SELECT STREAM …), …))"
    return f"unknown function {name}"


def unknown_call(select: exp.Select) -> exp.Anonymous | None:
    """The first call in ``select`` (outside FROM, and in its JOINs' ON) of a function KDA's
    SQL Reference does not have; ``None`` when there is none."""
    nodes: list[exp.Expression] = []
    for clause in _CALL_CLAUSES:
        value = select.args.get(clause)
        nodes.extend(value if isinstance(value, list) else [value] if value is not None else [])
    nodes.extend(j.args["on"] for j in select.args.get("joins") or [] if j.args.get("on"))
    for node in nodes:
        if not isinstance(node, exp.Expression):
            continue
        for found in node.find_all(exp.Anonymous):
            if str(found.this).upper() not in KNOWN_CALLS:
                return found
    return None


def aggregate_name(node: exp.Expression) -> str | None:
    """The aggregate a node calls (``COUNT``, ``EVERY`` …), ``None`` when it is not one."""
    name = AGGREGATE_NODES.get(type(node))
    if name is not None:
        return name
    if isinstance(node, exp.Anonymous) and str(node.this).upper() in AGGREGATE_FUNCTIONS:
        return str(node.this).upper()
    return None

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
            return call(op, [left, right], numeric_result(left.sql_type, right.sql_type))
    for klass, cmp in _COMPARE.items():
        if isinstance(node, klass):
            return compare(
                cmp, compile_expr(node.this, scope), compile_expr(node.expression, scope)
            )
    for text_node, text_func in _UNARY_STRING.items():
        if isinstance(node, text_node):
            arg = compile_expr(node.this, scope)
            returns = BIGINT if text_node is exp.Length else (arg.sql_type or VARCHAR)
            return call(text_func, [arg], returns)
    for math_node, math_func in _MATH.items():
        if isinstance(node, math_node):
            arg = compile_expr(node.this, scope)
            return call(math_func, [arg], arg.sql_type if math_node is exp.Abs else DOUBLE)
    if aggregate_name(node) is not None:
        line, column = node_position(node)
        raise SqlPlanError(
            f"aggregate {node.sql()} is only allowed in a GROUP BY query, a stagger window "
            "or with OVER",
            line=line,
            column=column,
        )
    line, column = node_position(node)
    if isinstance(node, exp.Func) and not isinstance(node, exp.Exists):
        # a function of another dialect sqlglot knows (CONCAT, GREATEST …)
        raise SqlPlanError(f"unknown function {node.sql_names()[0]}", line=line, column=column)
    raise SqlUnsupportedError(f"{type(node).__name__} ({node.sql()})", line=line, column=column)


def _column(node: exp.Expression, scope: Scope) -> Expr:
    assert isinstance(node, exp.Column)
    name = identifier_name(node.this)
    table = node.args.get("table")
    if table is None and name in CLOCK_COLUMNS and not _visible(scope, name):
        return clock_function(name)
    db = node.args.get("db")
    if db is not None:
        # q.r.FIELD: field FIELD of the ROW column r of stream or subquery q
        row_column = exp.Column(this=table, table=db)
        return row_field(node, _resolved(row_column, scope), name)
    if table is not None and not _is_qualifier(scope, identifier_name(table)):
        # r.FIELD with r a ROW column (a log parser's result), not a stream alias
        candidate = exp.Column(this=table)
        if _visible(scope, identifier_name(table)):
            return row_field(node, _resolved(candidate, scope), name)
    return _resolved(node, scope)


def _resolved(node: exp.Column, scope: Scope) -> Expr:
    column = scope.resolve(node)
    return Expr(operator.itemgetter(column.index), column.sql_type, column=column.index)


def _visible(scope: Scope, name: str) -> bool:
    return name in scope.specials or any(
        c.name == name or c.name.upper() == name.upper() for c in scope.columns
    )


def _is_qualifier(scope: Scope, name: str) -> bool:
    return any(c.qualifier == name or c.qualifier.upper() == name.upper() for c in scope.columns)


def _dot(node: exp.Expression, scope: Scope) -> Expr:
    """``expr.FIELD``: a field of a ROW-typed expression, ``REGEX_LOG_PARSE(…).COLUMN1``."""
    assert isinstance(node, exp.Dot)
    return row_field(node, compile_expr(node.this, scope), identifier_name(node.expression))


def _literal(node: exp.Expression, scope: Scope) -> Expr:
    assert isinstance(node, exp.Literal)
    if node.is_string:
        return constant(node.this, VARCHAR)
    text = node.this
    if re.fullmatch(r"[+-]?\d+", text):
        return constant(int(text), BIGINT if abs(int(text)) >= 2**31 else INTEGER)
    try:
        if "e" in text.lower():
            return constant(float(text), DOUBLE)
        return constant(Decimal(text), SqlType(TypeKind.DECIMAL))
    except (ValueError, ArithmeticError):
        line, column = node_position(node)
        raise SqlPlanError(f"{text} is not a number", line=line, column=column) from None


def _paren(node: exp.Expression, scope: Scope) -> Expr:
    return compile_expr(node.this, scope)


def _neg(node: exp.Expression, scope: Scope) -> Expr:
    arg = compile_expr(node.this, scope)
    return call(fn.neg, [arg], arg.sql_type)


def _null(node: exp.Expression, scope: Scope) -> Expr:
    return constant(None, None)


def _boolean(node: exp.Expression, scope: Scope) -> Expr:
    return constant(bool(node.this), BOOLEAN)


def _interval(node: exp.Expression, scope: Scope) -> Expr:
    assert isinstance(node, exp.Interval)
    return constant(interval_ms(node), interval_type(node))


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
    ge = compare(operator.ge, value, low).fn
    le = compare(operator.le, value, high).fn

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
        constants = {coerce_literal(o.constant, value.sql_type) for o in options}
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
    return call(fn.like, args, BOOLEAN)


def _distinct_from(node: exp.Expression, scope: Scope) -> Expr:
    """``a IS [NOT] DISTINCT FROM b``: equality where NULL equals NULL; never NULL."""
    left = compile_expr(node.this, scope)
    right = compile_expr(node.expression, scope)
    lf = left.fn
    rf = coerce_literal(right.constant, left.sql_type) if right.is_constant else None
    rfn = right.fn
    same = isinstance(node, exp.NullSafeEQ)

    def distinct_from(row: Row) -> bool:
        a = lf(row)
        b = rf if right.is_constant else rfn(row)
        equal = a is None and b is None or (a is not None and b is not None and a == b)
        return equal is same

    return Expr(distinct_from, BOOLEAN)


def _similar_to(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope), compile_expr(node.expression, scope)]
    escape = node.args.get("escape")
    if escape is not None:
        args.append(compile_expr(escape, scope))
    return call(fn.similar_to, args, BOOLEAN)


def _escape(node: exp.Expression, scope: Scope) -> Expr:
    """``… LIKE p ESCAPE e`` and ``… SIMILAR TO p ESCAPE e``."""
    inner = node.this
    if not isinstance(inner, exp.Like | exp.SimilarTo):
        line, column = node_position(node)
        raise SqlUnsupportedError(f"ESCAPE after {inner.sql()}", line=line, column=column)
    args = [
        compile_expr(inner.this, scope),
        compile_expr(inner.expression, scope),
        compile_expr(node.expression, scope),
    ]
    return call(fn.like if isinstance(inner, exp.Like) else fn.similar_to, args, BOOLEAN)


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
            condition = compare(operator.eq, subject_expr, compile_expr(branch.this, scope)).fn
        else:
            condition = compile_expr(branch.this, scope).fn
        branches.append((condition, result.fn))
    default_node = node.args.get("default")
    default = (
        compile_expr(default_node, scope) if default_node is not None else constant(None, None)
    )
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
    source = arg.sql_type
    if source is not None and source.kind is TypeKind.ROW:
        line, column = node_position(node)
        raise SqlPlanError(f"cannot CAST a {source}; read its fields", line=line, column=column)
    return call(lambda value: fn.cast(value, target, source), [arg], target)


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
    return call(fn.nullif, args, args[0].sql_type)


def _dpipe(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope), compile_expr(node.expression, scope)]
    return call(fn.concat, args, VARCHAR)


def _unit(node: exp.Expression | None) -> str:
    return str(node.name if node is not None else "").upper()


def _floor(node: exp.Expression, scope: Scope) -> Expr:
    arg = compile_expr(node.this, scope)
    to = node.args.get("to")
    if to is not None:
        unit = _unit(to)
        return call(lambda value: fn.floor_to(value, unit), [arg], arg.sql_type)
    return call(fn.floor_number, [arg], arg.sql_type)


def _ceil(node: exp.Expression, scope: Scope) -> Expr:
    arg = compile_expr(node.this, scope)
    to = node.args.get("to")
    if to is not None:
        unit = _unit(to)
        return call(lambda value: fn.ceil_to(value, unit), [arg], arg.sql_type)
    return call(fn.ceil, [arg], arg.sql_type)


def _extract(node: exp.Expression, scope: Scope) -> Expr:
    unit = _unit(node.this)
    arg = compile_expr(node.expression, scope)
    # KDA: "For SECOND it returns DECIMAL(5,3) and includes milliseconds"; EPOCH likewise
    field = unit.rstrip("S")
    returns = BIGINT
    if field == "SECOND":
        returns = SqlType(TypeKind.DECIMAL, precision=5, scale=3)
    elif field == "EPOCH":
        returns = SqlType(TypeKind.DECIMAL)
    return call(lambda value: fn.extract(unit, value), [arg], returns)


def _substring(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope), compile_expr(node.args["start"], scope)]
    start_type = args[1].sql_type
    if start_type is not None and start_type.is_string:
        # SUBSTRING(s FROM 'regex'): the first match (sql-reference-substring.html)
        if node.args.get("length") is not None:
            line, column = node_position(node)
            raise SqlUnsupportedError(
                "SUBSTRING(… FROM <regex> FOR …) (use SUBSTRING(… SIMILAR … ESCAPE …))",
                line=line,
                column=column,
            )
        return call(fn.substring_regex, args, VARCHAR)
    if node.args.get("length") is not None:
        args.append(compile_expr(node.args["length"], scope))
    return call(fn.substring, args, VARCHAR)


def _position(node: exp.Expression, scope: Scope) -> Expr:
    needle = compile_expr(node.args["substr"], scope)
    haystack = compile_expr(node.this, scope)
    return call(fn.position, [needle, haystack], INTEGER)


def _trim(node: exp.Expression, scope: Scope) -> Expr:
    where = str(node.args.get("position") or "BOTH").upper()
    chars_node = node.args.get("expression")
    value = compile_expr(node.this, scope)
    chars = compile_expr(chars_node, scope) if chars_node is not None else constant(" ", VARCHAR)
    return call(lambda s, c: fn.trim(s, where, c), [value, chars], VARCHAR)


def _overlay(node: exp.Expression, scope: Scope) -> Expr:
    args = [
        compile_expr(node.this, scope),
        compile_expr(node.expression, scope),
        compile_expr(node.args["from_"], scope),
    ]
    if node.args.get("for_") is not None:
        args.append(compile_expr(node.args["for_"], scope))
    return call(fn.overlay, args, VARCHAR)


def _round(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope)]
    if node.args.get("decimals") is not None:
        args.append(compile_expr(node.args["decimals"], scope))
    return call(fn.round, args, args[0].sql_type)


def _pow(node: exp.Expression, scope: Scope) -> Expr:
    args = [compile_expr(node.this, scope), compile_expr(node.expression, scope)]
    return call(fn.power, args, DOUBLE)


def _log(node: exp.Expression, scope: Scope) -> Expr:
    base = node.this
    if isinstance(base, exp.Literal) and base.this == "10" and node.expression is not None:
        return call(fn.log10, [compile_expr(node.expression, scope)], DOUBLE)
    line, column = node_position(node)
    raise SqlPlanError(
        "KDA for SQL does not support LOG with a base other than 10 (its numeric functions: "
        "LN and LOG10)",
        line=line,
        column=column,
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
        return call(lambda v: fn.step(v, step_by), [value_expr], value_expr.sql_type)
    if name == "SUBSTRING_SIMILAR":
        args = [compile_expr(e, scope) for e in node.expressions]
        return call(fn.substring_similar, args, VARCHAR)
    parser = fn.LOG_PARSERS.get(name)
    if parser is not None:
        return _log_parser(node, scope, parser)
    if name in AGGREGATE_FUNCTIONS:
        raise SqlPlanError(
            f"aggregate {node.sql()} is only allowed in a GROUP BY query, a stagger window "
            "or with OVER",
            line=line,
            column=column,
        )
    if name in WINDOW_ONLY_FUNCTIONS:
        raise SqlPlanError(
            f"{name} is only allowed OVER a sliding window: {name}(…) OVER (RANGE INTERVAL …)",
            line=line,
            column=column,
        )
    scalar = fn.SCALARS.get(name)
    if scalar is None:
        raise SqlPlanError(unknown_call_message(name), line=line, column=column)
    args = [compile_expr(e, scope) for e in node.expressions]
    if len(args) < scalar.min_args or (scalar.max_args is not None and len(args) > scalar.max_args):
        raise SqlPlanError(
            f"{name} takes {scalar.min_args}"
            + (f"–{scalar.max_args}" if scalar.max_args != scalar.min_args else "")
            + f" arguments, got {len(args)}",
            line=line,
            column=column,
        )
    return call(scalar.fn, args, scalar.returns([a.sql_type for a in args]))


def _log_parser(node: exp.Expression, scope: Scope, parser: fn.LogParser) -> Expr:
    return log_parser_call(node, parser, [compile_expr(e, scope) for e in node.expressions])


def _current_time(node: exp.Expression, scope: Scope) -> Expr:
    names: dict[type, str] = {
        exp.CurrentTimestamp: "CURRENT_TIMESTAMP",
        exp.CurrentDate: "CURRENT_DATE",
        exp.CurrentTime: "CURRENT_TIME",
    }
    return clock_function(names[type(node)])


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
    exp.SimilarTo: _similar_to,
    exp.NullSafeEQ: _distinct_from,
    exp.NullSafeNEQ: _distinct_from,
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
    exp.CurrentTimestamp: _current_time,
    exp.CurrentDate: _current_time,
    exp.CurrentTime: _current_time,
    exp.Dot: _dot,
    exp.Window: _window_node,
}
