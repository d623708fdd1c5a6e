"""Numeric and time-unit expressions with their own syntax: unary minus, FLOOR/CEIL (of a
number or TO a time unit), EXTRACT, ROUND, POWER, LOG.
"""

from __future__ import annotations

from sqlglot import exp

from ground.errors import SqlPlanError
from pipelines.sql import functions as fn
from pipelines.sql.compiler.dispatch import NodeCompiler, compile_expr
from pipelines.sql.expr import BIGINT, DOUBLE, Expr, call
from pipelines.sql.nodes import node_position
from pipelines.sql.scope import Scope
from pipelines.sql.types import SqlType, TypeKind

__all__ = ["NODES"]


def _neg(node: exp.Expression, scope: Scope) -> Expr:
    arg = compile_expr(node.this, scope)
    return call(fn.neg, [arg], arg.sql_type)


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


#: The node kinds this module compiles.
NODES: dict[type, NodeCompiler] = {
    exp.Neg: _neg,
    exp.Floor: _floor,
    exp.Ceil: _ceil,
    exp.Extract: _extract,
    exp.Round: _round,
    exp.Pow: _pow,
    exp.Log: _log,
}
