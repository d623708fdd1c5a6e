"""Subquery predicates once the planner has bound them: ``x IN (SELECT …)`` and
``EXISTS (SELECT …)`` over a reference table.

The planner (:mod:`pipelines.sql.subquery_predicates`) replaces each predicate in a pump's
query by a :class:`BoundSubquery` node before any planner sees the query: its one child is
the value tested (``x``, or the row ``(a, b)``; none for EXISTS), so the planners that walk a
query (GROUP BY keys, lineage, aggregates) see what belongs to the outer query and nothing of
the subquery, which the node keeps as a :class:`SubqueryPlan` — opaque here. Compiling the
node asks the plan, with the scope of the outer row (a correlated subquery reads it).
"""

from __future__ import annotations

from typing import Protocol

from sqlglot import exp

from pipelines.sql.compiler.dispatch import NodeCompiler
from pipelines.sql.expr import Expr
from pipelines.sql.scope import Scope

__all__ = ["NODES", "BoundSubquery", "SubqueryPlan"]

#: The key of a :class:`BoundSubquery`'s plan in its ``args`` (not an argument of the SQL
#: text: copies of the node share it).
PLAN = "plan"


class SubqueryPlan(Protocol):
    def compile(self, node: BoundSubquery, scope: Scope) -> Expr:
        """The predicate for rows seen through ``scope``."""
        ...


class BoundSubquery(exp.Expression, exp.Func):
    """A subquery predicate bound to its plan. ``this``: the value tested (IN), or ``None``
    (EXISTS); ``expression``: the predicate's text, so that two of them print differently."""

    arg_types = {"this": False, "expression": True}
    _sql_names = ["SUBQUERY_PREDICATE"]

    @classmethod
    def bind(cls, this: exp.Expression | None, text: str, plan: SubqueryPlan) -> BoundSubquery:
        node = cls(this=this, expression=exp.Literal.string(text))
        node.args[PLAN] = plan
        return node

    @property
    def plan(self) -> SubqueryPlan:
        plan: SubqueryPlan = self.args[PLAN]
        return plan


def _bound(node: exp.Expression, scope: Scope) -> Expr:
    assert isinstance(node, BoundSubquery)
    return node.plan.compile(node, scope)


#: The node kinds this module compiles.
NODES: dict[type, NodeCompiler] = {BoundSubquery: _bound}
