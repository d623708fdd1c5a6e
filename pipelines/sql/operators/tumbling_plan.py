"""Planner of tumbling windows: ``GROUP BY keys, STEP(t BY INTERVAL …)`` or ``FLOOR(t TO
unit)``, where ``t`` is ROWTIME or an event-time column (see :mod:`.tumbling`)."""

from __future__ import annotations

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.compiler import compile_expr
from pipelines.sql.dialect import is_step
from pipelines.sql.expr import Expr
from pipelines.sql.merging import mergeable
from pipelines.sql.nodes import identifier_name
from pipelines.sql.operators.grouping_plan import plan_grouped
from pipelines.sql.operators.late_gate import TumblingBehind, TumblingGate
from pipelines.sql.operators.tumbling import TumblingLayout, TumblingOperator
from pipelines.sql.operators.two_phase import TumblingFinal, TumblingPartial
from pipelines.sql.planning import Grouping, LateGate, PlannedPump, PumpQuery, TwoPhase
from pipelines.sql.scope import Scope
from pipelines.sql.sources import resolve_source
from pipelines.sql.types import Fn, Interval, MonthInterval

__all__ = ["CALENDAR_UNITS", "FLOOR_UNITS", "TumblingPlanner"]

#: ``FLOOR(t TO unit)``: the window size of each unit, in milliseconds.
FLOOR_UNITS = {
    "MILLISECOND": 1,
    "SECOND": 1000,
    "MINUTE": 60_000,
    "HOUR": 3_600_000,
    "DAY": 86_400_000,
}


#: ``FLOOR(t TO unit)`` of a calendar unit: the window's length in months.
CALENDAR_UNITS = {"MONTH": 1, "YEAR": 12}


class TumblingPlanner:
    def matches(self, query: PumpQuery) -> bool:
        return query.select.args.get("group") is not None

    def plan(self, query: PumpQuery) -> PlannedPump:
        select = query.select
        source = resolve_source(query)
        where = query.where(source.scope)
        if source.join is not None:
            raise query.error(SqlUnsupportedError, "GROUP BY over a reference-table join", select)
        scope = source.scope
        group_nodes = list(select.args["group"].expressions)
        windows: list[tuple[int, tuple[Fn, int, bool, int]]] = []
        for i, k in enumerate(group_nodes):
            found = _window_of(query, k, scope)
            if found is not None:
                windows.append((i, found))
        if not windows:
            raise query.error(
                SqlPlanError,
                "GROUP BY on a stream needs a window: STEP(ROWTIME BY INTERVAL …) or "
                "FLOOR(ROWTIME TO unit) (or an event-time column)",
                select.args["group"],
            )
        # A ROWTIME window wins over event-time keys (KDA's recommended ROWTIME + event time).
        rowtime_windows = [(i, w) for i, w in windows if not w[2]]
        window_index, (time_fn, size, event_time, months) = (rowtime_windows or windows)[0]
        keys = [compile_expr(k, scope) for k in group_nodes]
        layout = None if months else _layout(group_nodes[window_index], window_index, keys, scope)
        grouped = plan_grouped(query, source.stream, scope, group_nodes, keys, having=True)
        pump, app, target = query.name, query.application, query.target.name
        lateness = query.allowed_lateness_ms
        key_fns = [k.fn for k in keys]
        aggs = grouped.aggs
        length = f"{months} calendar month{'s' if months > 1 else ''}" if months else f"{size} ms"
        details = [
            f"tumbling window {length} on {'event time' if event_time else 'ROWTIME'}"
            + (f", allowed lateness {lateness} ms" if event_time else ""),
            f"group by {', '.join(n.sql() for n in group_nodes)}",
            f"aggregates {', '.join(a.name for a in aggs) or '-'}",
            "state: open windows per partition (changelog); one result per window and group, "
            "emitted when the window closes, keyed (application, stream, window start, group)",
        ]

        def build(kind: type[TumblingOperator] = TumblingOperator) -> TumblingOperator:
            return kind(
                pump=pump,
                application=app,
                stream=target,
                keys=key_fns,
                window_key=window_index,
                time_fn=time_fn,
                size=size,
                event_time=event_time,
                aggs=aggs,
                select=grouped.outputs,
                having=grouped.having,
                where=where,
                allowed_lateness_ms=lateness,
                # the fast path reads rows (the partial phase too): not partials (the final
                # phase), nor a gate (its own loop)
                layout=layout if kind not in (TumblingFinal, TumblingGate) else None,
                months=months,
            )

        two_phase = None
        # calendar windows are not split in two phases: their partials would need the
        # calendar too (TwoPhase steps fixed sizes); the rows are repartitioned instead
        if not months and all(mergeable(a.spec) for a in aggs):
            two_phase = TwoPhase(
                lambda: build(TumblingPartial), lambda: build(TumblingFinal), size, event_time
            )
        late_gate = None
        if event_time and two_phase is None:
            # if its rows cross a repartition: late as without it (judged in front of it)
            late_gate = LateGate(lambda: build(TumblingGate), lambda: build(TumblingBehind))
        columns = tuple(
            None if i == window_index or not isinstance(n, exp.Column) else identifier_name(n)
            for i, n in enumerate(group_nodes)
        )
        return query.pump(
            "tumbling",
            source.stream.name,
            details,
            build,
            grouping=(Grouping(columns, tuple(key_fns), window_index),),
            two_phase=two_phase,
            late_gate=late_gate,
        )


def _window_of(
    query: PumpQuery, key: exp.Expression, scope: Scope
) -> tuple[Fn, int, bool, int] | None:
    """(time expression, size in ms, event_time?, calendar months) when ``key`` is STEP/FLOOR
    over a time; a calendar window (FLOOR … TO MONTH or YEAR, STEP … BY a year-month interval)
    has its length in months and size 0."""
    months = 0
    if is_step(key):
        time_node, by = key.expressions
        by_expr = compile_expr(by, scope)
        if by_expr.is_constant and type(by_expr.constant) is MonthInterval:
            months = int(by_expr.constant)
            if months <= 0:
                raise query.error(SqlPlanError, "a window needs a positive size", key)
        size = int(by_expr.constant) if by_expr.is_constant and not months else 0
    elif isinstance(key, exp.Floor) and key.args.get("to") is not None:
        time_node = key.this
        unit = str(key.args["to"].name).upper()
        if unit in CALENDAR_UNITS:
            months = CALENDAR_UNITS[unit]
        elif unit not in FLOOR_UNITS:
            raise query.error(
                SqlPlanError,
                f"KDA for SQL does not support {unit} as a window's unit: its time units are "
                "YEAR, MONTH, DAY, HOUR, MINUTE and SECOND (SQL Reference, Data Types, "
                'sql-reference-data-types.html: "Supported units are YEAR, MONTH, DAY, HOUR, '
                'MINUTE, and SECOND"); FLOOR … TO WEEK or QUARTER is a scalar extension',
                key,
            )
        size = FLOOR_UNITS.get(unit, 0)
    else:
        return None
    if size <= 0 and not months:
        raise query.error(SqlPlanError, "a window needs a positive size", key)
    time = compile_expr(time_node, scope)
    rowtime = isinstance(time_node, exp.Column) and identifier_name(time_node.this) == "ROWTIME"
    return time.fn, size, not rowtime, months


def _layout(
    window: exp.Expression, window_index: int, keys: list[Expr], scope: Scope
) -> TumblingLayout | None:
    """The tumbling operator's fast path applies when the window is ``STEP(column BY
    INTERVAL …)`` or ``FLOOR(column TO unit)``: its start is then ``t - t % size`` for a
    TIMESTAMP ``t``, as those functions compute it."""
    if is_step(window):
        time_node, by = window.expressions
        by_expr = compile_expr(by, scope)
        if not by_expr.is_constant or type(by_expr.constant) is not Interval:
            return None  # STEP of a TIMESTAMP by an integer is an error per row
    elif isinstance(window, exp.Floor):
        time_node = window.this
    else:
        return None
    time_column = compile_expr(time_node, scope).column
    if time_column is None:
        return None
    return TumblingLayout(
        time_column, tuple(None if i == window_index else k.column for i, k in enumerate(keys))
    )
