"""Planner of ``GROUP BY MONOTONIC(x), keys`` over an ``x`` that is not a window of time (see
:mod:`.monotonic`).

``MONOTONIC(x)`` is a GROUP BY key here (:func:`pipelines.sql.query_shapes.without_monotonic`
leaves it there when no STEP/FLOOR of a time is among the keys, and takes it off everywhere
else): the key compiles as ``x`` and SELECT items and HAVING match it as ``x``.

KDA's in-application stream is one stream in ROWTIME order, and a group closes when ``x``
moves on in that stream. So the pump reads all of its input in one partition — behind a
repartition with no key, which takes the rows of every upstream partition in ROWTIME order
(:mod:`pipelines.sql.shuffle`) — and closes the groups where KDA would, whatever the other
keys.
"""

from __future__ import annotations

from sqlglot import exp

from ground.errors import SqlUnsupportedError
from pipelines.sql.compiler import compile_expr
from pipelines.sql.operators.grouping_plan import plan_grouped
from pipelines.sql.operators.monotonic import MonotonicGroupOperator
from pipelines.sql.planning import Grouping, PlannedPump, PumpQuery
from pipelines.sql.sources import resolve_source

__all__ = ["MonotonicGroupPlanner", "is_monotonic"]


def is_monotonic(node: object) -> bool:
    """``MONOTONIC(…)`` (sql-reference-monotonic.html)."""
    return isinstance(node, exp.Anonymous) and str(node.this).upper() == "MONOTONIC"


class MonotonicGroupPlanner:
    def matches(self, query: PumpQuery) -> bool:
        group = query.select.args.get("group")
        return group is not None and any(is_monotonic(k) for k in group.expressions)

    def plan(self, query: PumpQuery) -> PlannedPump:
        select = query.select
        source = resolve_source(query)
        where = query.where(source.scope)
        if source.join is not None:
            raise query.error(SqlUnsupportedError, "GROUP BY over a reference-table join", select)
        scope = source.scope
        written = list(select.args["group"].expressions)
        index = next(i for i, k in enumerate(written) if is_monotonic(k))
        declared = written[index]
        # the key is x: SELECT x and HAVING … x … match it
        key_nodes = [k.expressions[0] if i == index else k for i, k in enumerate(written)]
        keys = [compile_expr(k, scope) for k in key_nodes]
        grouped = plan_grouped(query, source.stream, scope, key_nodes, keys, having=True)
        pump, app, target = query.name, query.application, query.target.name
        key_fns = [k.fn for k in keys]
        aggs = grouped.aggs
        details = [
            f"groups of {declared.sql()}: closed when the value moves on, emitted with the "
            "ROWTIME of the row that moves it; a value moving back is a Late_Row",
            f"group by {', '.join(n.sql() for n in written)}",
            f"aggregates {', '.join(a.name for a in aggs) or '-'}"
            + (" with HAVING" if grouped.having else ""),
            "state: the current value, its direction and its open groups (changelog); all "
            "rows in one partition, in ROWTIME order",
        ]
        return query.pump(
            "monotonic",
            source.stream.name,
            details,
            lambda: MonotonicGroupOperator(
                pump=pump,
                application=app,
                stream=target,
                keys=key_fns,
                monotonic_key=index,
                declared=declared.sql(),
                aggs=aggs,
                select=grouped.outputs,
                having=grouped.having,
                where=where,
            ),
            # no key: every row in one partition, in ROWTIME order (one stream, as KDA's)
            grouping=(Grouping((), ()),),
        )
