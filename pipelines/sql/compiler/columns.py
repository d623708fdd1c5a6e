"""Column references: stream and subquery columns, fields of ROW values (``r.FIELD``,
``q.r.FIELD``, ``expr.FIELD``) and the clock functions sqlglot reads as column names.
"""

from __future__ import annotations

import operator

from sqlglot import exp

from pipelines.sql.compiler.dispatch import NodeCompiler, compile_expr
from pipelines.sql.expr import Expr
from pipelines.sql.nodes import identifier_name
from pipelines.sql.query_clock import clock_function
from pipelines.sql.row_values import row_field
from pipelines.sql.scope import Scope

__all__ = ["CLOCK_COLUMNS", "NODES"]


#: Current-time functions sqlglot reads as column names.
CLOCK_COLUMNS = frozenset({"CURRENT_ROW_TIMESTAMP", "LOCALTIMESTAMP", "LOCALTIME"})


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


#: The node kinds this module compiles.
NODES: dict[type, NodeCompiler] = {
    exp.Column: _column,
    exp.Dot: _dot,
}
