"""Compile sqlglot expression trees into Python closures over row tuples.

A :class:`~pipelines.sql.scope.Scope` says where each visible column sits in the row tuple and
what type it has. :func:`compile_expr` turns an expression into an :class:`Expr` — a closure
``row -> value`` plus the result type when it is known. NULL handling and three-valued logic
are SQL's; a value that cannot be computed (divide by zero, a bad cast) raises
:class:`~ground.errors.RowError`, which the engine routes to the error stream.

:mod:`.dispatch` looks a node's kind up; one module per family of node kinds compiles them
(:mod:`.columns`, :mod:`.literals`, :mod:`.logic`, :mod:`.conditionals`, :mod:`.text`,
:mod:`.numeric`, :mod:`.calls`, :mod:`.subqueries`), and this ``__init__`` registers them all.
"""

from __future__ import annotations

from pipelines.sql.compiler import (
    calls,
    columns,
    conditionals,
    literals,
    logic,
    numeric,
    subqueries,
    text,
)
from pipelines.sql.compiler.aggregate_names import (
    AGGREGATE_FUNCTIONS,
    AGGREGATE_NODES,
    WINDOW_ONLY_FUNCTIONS,
    aggregate_name,
)
from pipelines.sql.compiler.columns import CLOCK_COLUMNS
from pipelines.sql.compiler.dispatch import compile_expr, register
from pipelines.sql.compiler.subqueries import BoundSubquery, SubqueryPlan
from pipelines.sql.compiler.unknown_calls import (
    KNOWN_CALLS,
    TABLE_FUNCTIONS,
    unknown_call,
    unknown_call_message,
)
from pipelines.sql.expr import Expr

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "AGGREGATE_NODES",
    "BoundSubquery",
    "CLOCK_COLUMNS",
    "Expr",
    "KNOWN_CALLS",
    "SubqueryPlan",
    "TABLE_FUNCTIONS",
    "WINDOW_ONLY_FUNCTIONS",
    "aggregate_name",
    "compile_expr",
    "unknown_call",
    "unknown_call_message",
]

register(
    columns.NODES,
    literals.NODES,
    logic.NODES,
    conditionals.NODES,
    text.NODES,
    numeric.NODES,
    calls.NODES,
    subqueries.NODES,
)
