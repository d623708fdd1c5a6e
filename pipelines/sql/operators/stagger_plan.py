"""Planner of stagger windows: ``WINDOWED BY STAGGER (PARTITION BY keys RANGE INTERVAL …)``
(see :mod:`.stagger`)."""

from __future__ import annotations

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.compiler import compile_expr
from pipelines.sql.nodes import YEAR_MONTH_LENGTH, identifier_name
from pipelines.sql.operators.grouping_plan import plan_grouped
from pipelines.sql.operators.stagger import StaggerOperator
from pipelines.sql.planning import Grouping, PlannedPump, PumpQuery
from pipelines.sql.sources import resolve_source
from pipelines.sql.types import MonthInterval, is_year_month

__all__ = ["StaggerPlanner"]


class StaggerPlanner:
    def matches(self, query: PumpQuery) -> bool:
        return query.select.args.get("stagger") is not None

    def plan(self, query: PumpQuery) -> PlannedPump:
        select = query.select
        source = resolve_source(query)
        where = query.where(source.scope)
        if source.join is not None:
            raise query.error(
                SqlUnsupportedError, "stagger windows over a reference-table join", select
            )
        scope = source.scope
        keys_tuple, length_node = select.args["stagger"].expressions
        key_nodes = list(keys_tuple.expressions)
        if select.args.get("group") is not None:
            raise query.error(
                SqlPlanError, "WINDOWED BY STAGGER replaces GROUP BY; use one", select
            )
        length = compile_expr(length_node, scope)
        if is_year_month(length.sql_type) or type(length.constant) is MonthInterval:
            raise query.error(
                SqlPlanError, YEAR_MONTH_LENGTH.format(length_node.sql()), length_node
            )
        if not length.is_constant or not length.constant or int(length.constant) <= 0:
            raise query.error(
                SqlPlanError, "STAGGER needs RANGE INTERVAL with a positive length", length_node
            )
        keys = [compile_expr(k, scope) for k in key_nodes]
        grouped = plan_grouped(query, source.stream, scope, key_nodes, keys, having=True)
        pump, app, target = query.name, query.application, query.target.name
        range_ms = int(length.constant)
        key_fns = [k.fn for k in keys]
        aggs = grouped.aggs
        details = [
            f"stagger window {range_ms} ms on ROWTIME, opened by the first row of each key",
            f"partition by {', '.join(n.sql() for n in key_nodes)}",
            f"aggregates {', '.join(a.name for a in aggs) or '-'}"
            + (" with HAVING" if grouped.having else ""),
            "state: open windows per key (changelog)",
        ]
        return query.pump(
            "stagger",
            source.stream.name,
            details,
            lambda: StaggerOperator(
                pump=pump,
                application=app,
                stream=target,
                keys=key_fns,
                range_ms=range_ms,
                aggs=aggs,
                select=grouped.outputs,
                where=where,
                having=grouped.having,
            ),
            grouping=(
                Grouping(
                    tuple(
                        identifier_name(n) if isinstance(n, exp.Column) else None for n in key_nodes
                    ),
                    tuple(key_fns),
                ),
            ),
        )
