"""Conditional expressions: CASE, COALESCE, NULLIF."""

from __future__ import annotations

import operator
from typing import Any

from sqlglot import exp

from pipelines.sql import functions as fn
from pipelines.sql.compiler.dispatch import NodeCompiler, compile_expr
from pipelines.sql.expr import Expr, call, compare, constant
from pipelines.sql.scope import Scope
from pipelines.sql.types import Fn, Row, SqlType

__all__ = ["NODES"]


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


#: The node kinds this module compiles.
NODES: dict[type, NodeCompiler] = {
    exp.Case: _case,
    exp.Coalesce: _coalesce,
    exp.Nullif: _nullif,
}
