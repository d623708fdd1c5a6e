"""Planner of stateless pumps: ``SELECT STREAM <exprs> FROM s [JOIN table …] [WHERE …]``.

The fallback kind: a query without a window. An aggregate without a window is refused here,
with the three ways to give it one.
"""

from __future__ import annotations

from sqlglot import exp

from ground.errors import SqlPlanError
from pipelines.sql.compiler import aggregate_name
from pipelines.sql.operators.project import ProjectOperator
from pipelines.sql.planning import PlannedPump, PumpQuery
from pipelines.sql.sources import resolve_source

__all__ = ["ProjectPlanner"]


class ProjectPlanner:
    def matches(self, query: PumpQuery) -> bool:
        return True

    def plan(self, query: PumpQuery) -> PlannedPump:
        source = resolve_source(query)
        where = query.where(source.scope)
        aggregates = [
            n
            for n in query.select.expressions
            for n in n.walk()
            if aggregate_name(n) is not None and not n.find_ancestor(exp.Window)
        ]
        if aggregates:
            raise query.error(
                SqlPlanError,
                "an aggregate on a stream needs a window: GROUP BY … STEP/FLOOR(ROWTIME …), "
                "OVER (…) or WINDOWED BY STAGGER",
                aggregates[0],
            )
        outputs = query.outputs(query.items(source.stream), source.scope)
        join = source.join
        details = [f"project {len(outputs)} columns" + (" with WHERE" if where else "")]
        if join is not None:
            details.append(
                f"{'LEFT ' if join.outer else ''}JOIN reference table "
                f"({len(join.stream_keys)} key columns, hash lookup)"
            )
        pump = query.name
        return query.pump(
            "stateless",
            source.stream.name,
            details,
            lambda: ProjectOperator(pump, outputs, where, join),
        )
