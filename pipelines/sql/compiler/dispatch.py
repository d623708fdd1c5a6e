"""Compile one sqlglot node: look its kind up in the table the node modules fill
(:func:`register`), or apply the operator tables below; refuse what is not supported.

The package ``__init__`` registers every node module before anything can compile, so the
table is complete whenever :func:`compile_expr` runs; the node modules call back into
:func:`compile_expr` for their operands.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql import functions as fn
from pipelines.sql.compiler.aggregate_names import aggregate_name
from pipelines.sql.expr import BIGINT, DOUBLE, VARCHAR, Expr, call, compare, numeric_result
from pipelines.sql.nodes import node_position
from pipelines.sql.scope import Scope
from pipelines.sql.types import TypeKind, is_year_month

__all__ = ["NodeCompiler", "compile_expr", "register"]

#: Compiles one node kind against a scope.
NodeCompiler = Callable[[exp.Expression, Scope], Expr]

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

_COMPILERS: dict[type, NodeCompiler] = {}


def register(*tables: Mapping[type, NodeCompiler]) -> None:
    """Add node kinds to the table :func:`compile_expr` looks up first."""
    for table in tables:
        _COMPILERS.update(table)


_NUMBER_KINDS = frozenset(
    {
        TypeKind.TINYINT, TypeKind.SMALLINT, TypeKind.INTEGER, TypeKind.BIGINT,
        TypeKind.DECIMAL, TypeKind.REAL, TypeKind.DOUBLE,
    }
)  # fmt: skip


def _check_year_month(node: exp.Expression, left: Expr, right: Expr, *, compares: bool) -> None:
    """A year-month interval meets only its own kind (±, comparisons), a TIMESTAMP or DATE
    (±) or a number (× and ÷): a month has no fixed length, so a day-time interval or a TIME
    never mixes with it, and a comparison with anything else would compare month counts."""
    a, b = left.sql_type, right.sql_type
    if not (is_year_month(a) or is_year_month(b)) or a is None or b is None:
        return
    if is_year_month(a) and is_year_month(b):
        if compares or isinstance(node, exp.Add | exp.Sub | exp.Div):
            return
    elif not compares:
        other = b if is_year_month(a) else a
        if isinstance(node, exp.Add | exp.Sub) and other.kind in (
            TypeKind.TIMESTAMP,
            TypeKind.DATE,
        ):
            if isinstance(node, exp.Add) or is_year_month(b):
                return
        if isinstance(node, exp.Mul) and other.kind in _NUMBER_KINDS:
            return
        if isinstance(node, exp.Div) and is_year_month(a) and b.kind in _NUMBER_KINDS:
            return
    line, column = node_position(node)
    raise SqlPlanError(
        f"{node.sql()}: cannot apply {type(node).__name__.upper()} to {a} and {b} (a year-month "
        "interval meets year-month intervals, TIMESTAMP or DATE, or a number for * and /)",
        line=line,
        column=column,
    )


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
            _check_year_month(node, left, right, compares=False)
            return call(op, [left, right], numeric_result(left.sql_type, right.sql_type))
    for klass, cmp in _COMPARE.items():
        if isinstance(node, klass):
            left = compile_expr(node.this, scope)
            right = compile_expr(node.expression, scope)
            _check_year_month(node, left, right, compares=True)
            return compare(cmp, left, right)
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
