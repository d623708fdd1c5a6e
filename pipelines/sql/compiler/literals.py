"""Constants (numbers, strings, NULL, booleans, intervals) and parentheses."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlglot import exp

from ground.errors import SqlPlanError
from pipelines.sql.compiler.dispatch import NodeCompiler, compile_expr
from pipelines.sql.expr import BIGINT, BOOLEAN, DOUBLE, INTEGER, VARCHAR, Expr, constant
from pipelines.sql.nodes import interval_type, interval_value, node_position
from pipelines.sql.scope import Scope
from pipelines.sql.types import SqlType, TypeKind

__all__ = ["NODES"]


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


def _null(node: exp.Expression, scope: Scope) -> Expr:
    return constant(None, None)


def _boolean(node: exp.Expression, scope: Scope) -> Expr:
    return constant(bool(node.this), BOOLEAN)


def _interval(node: exp.Expression, scope: Scope) -> Expr:
    assert isinstance(node, exp.Interval)
    return constant(interval_value(node), interval_type(node))


#: The node kinds this module compiles.
NODES: dict[type, NodeCompiler] = {
    exp.Literal: _literal,
    exp.Paren: _paren,
    exp.Null: _null,
    exp.Boolean: _boolean,
    exp.Interval: _interval,
}
