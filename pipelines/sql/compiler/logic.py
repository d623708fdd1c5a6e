"""Three-valued logic and predicates: AND, OR, NOT, IS, BETWEEN, IN, IS [NOT] DISTINCT FROM."""

from __future__ import annotations

import operator
from typing import Any

from sqlglot import exp

from ground.errors import SqlUnsupportedError
from pipelines.sql.compiler.dispatch import NodeCompiler, compile_expr
from pipelines.sql.expr import BOOLEAN, Expr, coerce_literal, compare
from pipelines.sql.nodes import node_position
from pipelines.sql.scope import Scope
from pipelines.sql.types import Fn, Row

__all__ = ["NODES"]


def _connective(lf: Fn, rf: Fn, decisive: bool) -> Expr:
    """SQL AND (``decisive`` False) or OR (True) of two compiled booleans: the decisive value
    wins over NULL; ``rf`` is not evaluated when ``lf`` already decides."""
    other = not decisive

    def connective(row: Row) -> Any:
        a = lf(row)
        if a is decisive:
            return decisive
        b = rf(row)
        if b is decisive:
            return decisive
        if a is None or b is None:
            return None
        return other

    return Expr(connective, BOOLEAN)


def _and(node: exp.Expression, scope: Scope) -> Expr:
    left, right = compile_expr(node.this, scope), compile_expr(node.expression, scope)
    return _connective(left.fn, right.fn, False)


def _or(node: exp.Expression, scope: Scope) -> Expr:
    left, right = compile_expr(node.this, scope), compile_expr(node.expression, scope)
    return _connective(left.fn, right.fn, True)


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
    return _connective(ge, le, False)


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


#: The node kinds this module compiles.
NODES: dict[type, NodeCompiler] = {
    exp.And: _and,
    exp.Or: _or,
    exp.Not: _not,
    exp.Is: _is,
    exp.Between: _between,
    exp.In: _in,
    exp.NullSafeEQ: _distinct_from,
    exp.NullSafeNEQ: _distinct_from,
}
