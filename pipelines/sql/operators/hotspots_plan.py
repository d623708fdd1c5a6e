"""Planner of ``HOTSPOTS`` in FROM (see :mod:`.hotspots`)::

    FROM TABLE(HOTSPOTS(CURSOR(SELECT STREAM … FROM s), windowSize, scanRadius,
                        minimumNumberOfPointsInAHotspot))

The result columns are the cursor's plus ``HOTSPOTS_RESULT VARCHAR`` (JSON). The three
parameters are required.
"""

from __future__ import annotations

from ground.errors import SqlPlanError
from pipelines.sql.catalog import StreamColumn
from pipelines.sql.expr import VARCHAR
from pipelines.sql.ml.hotspots import HotspotParams
from pipelines.sql.operators.cursor_plan import function_name, plan_cursor_call
from pipelines.sql.operators.hotspots import HotspotsOperator
from pipelines.sql.planning import PlannedPump, PumpQuery

__all__ = ["HOTSPOTS", "HOTSPOTS_RESULT", "HotspotsPlanner"]

HOTSPOTS = "HOTSPOTS"
HOTSPOTS_RESULT = StreamColumn("HOTSPOTS_RESULT", VARCHAR)


class HotspotsPlanner:
    def matches(self, query: PumpQuery) -> bool:
        return function_name(query.select) == HOTSPOTS

    def plan(self, query: PumpQuery) -> PlannedPump:
        call = plan_cursor_call(query)
        if len(call.arguments) != 3:
            raise query.error(
                SqlPlanError,
                "HOTSPOTS(CURSOR(…), windowSize, scanRadius, minimumNumberOfPointsInAHotspot)",
                call.call,
            )
        try:
            params = HotspotParams(
                dimensions=len(call.cursor.numeric),
                window_size=call.integer(query, 0, "windowSize"),
                scan_radius=call.number(query, 1, "scanRadius"),
                min_points=call.integer(query, 2, "minimumNumberOfPointsInAHotspot"),
            )
        except ValueError as exc:
            raise query.error(SqlPlanError, f"HOTSPOTS: {exc}", call.call) from exc
        result = call.result_query(query, (HOTSPOTS_RESULT,))
        cursor, pump = call.cursor, query.name
        numeric = ", ".join(cursor.names[i] for i in cursor.numeric)
        details = [
            f"HOTSPOTS: DBSCAN over the last {params.window_size} records, scan radius "
            f"{params.scan_radius}, at least {params.min_points} points, over {numeric}",
            "state: the window per partition (changelog, chunked per commit)",
        ]
        return query.pump(
            "hotspots",
            call.source.stream.name,
            details,
            lambda: HotspotsOperator(pump=pump, params=params, cursor=cursor, query=result),
            key_columns=(),
        )
