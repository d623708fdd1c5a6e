"""CAST, function calls by name (scalars, log parsers, STEP), the current-time functions and
the refusal of OVER outside a SELECT list item.
"""

from __future__ import annotations

from sqlglot import exp

from ground.errors import SqlPlanError
from pipelines.sql import functions as fn
from pipelines.sql.compiler.aggregate_names import AGGREGATE_FUNCTIONS, WINDOW_ONLY_FUNCTIONS
from pipelines.sql.compiler.dispatch import NodeCompiler, compile_expr
from pipelines.sql.compiler.unknown_calls import unknown_call_message
from pipelines.sql.dialect import is_step
from pipelines.sql.expr import VARCHAR, Expr, call
from pipelines.sql.nodes import datatype_to_sql, node_position
from pipelines.sql.query_clock import clock_function
from pipelines.sql.row_values import log_parser_call
from pipelines.sql.scope import Scope
from pipelines.sql.types import TypeKind

__all__ = ["NODES"]


def _cast(node: exp.Expression, scope: Scope) -> Expr:
    target = datatype_to_sql(node.args["to"], year_month=True)
    arg = compile_expr(node.this, scope)
    source = arg.sql_type
    if source is not None and source.kind is TypeKind.ROW:
        line, column = node_position(node)
        raise SqlPlanError(f"cannot CAST a {source}; read its fields", line=line, column=column)
    return call(lambda value: fn.cast(value, target, source), [arg], target)


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


#: The node kinds this module compiles.
NODES: dict[type, NodeCompiler] = {
    exp.Cast: _cast,
    exp.TryCast: _cast,
    exp.Anonymous: _anonymous,
    exp.CurrentTimestamp: _current_time,
    exp.CurrentDate: _current_time,
    exp.CurrentTime: _current_time,
    exp.Window: _window_node,
}
