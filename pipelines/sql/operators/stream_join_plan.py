"""Planner of stream-to-stream joins: ``FROM L JOIN R OVER (RANGE INTERVAL … PRECEDING) ON …``
(see :mod:`.stream_join`)."""

from __future__ import annotations

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.catalog import StreamInfo
from pipelines.sql.compiler import compile_expr
from pipelines.sql.expr import Expr
from pipelines.sql.nodes import identifier_name, interval_ms
from pipelines.sql.operators.stream_join import StreamJoinOperator
from pipelines.sql.planning import Grouping, PlannedPump, PumpQuery, split_join_keys
from pipelines.sql.sources import alias_of, from_table, single_join, stream_join

__all__ = ["StreamJoinPlanner"]


class StreamJoinPlanner:
    def matches(self, query: PumpQuery) -> bool:
        return stream_join(query.select, query.streams) is not None

    def plan(self, query: PumpQuery) -> PlannedPump:
        select = query.select
        from_node = from_table(query, select)
        left_name = identifier_name(from_node.this)
        left = query.streams.get(left_name)
        if left is None:
            raise query.error(SqlPlanError, f"unknown stream {left_name}", from_node)
        join = single_join(query, select)
        assert join is not None  # matches() found it
        if from_node.args.get("over") is not None:
            raise query.error(SqlUnsupportedError, "a window on the left side of a JOIN", from_node)
        right_node = join.this
        right_name = identifier_name(right_node.this)
        right = query.streams.get(right_name)
        if right is None:
            raise query.error(SqlPlanError, f"unknown stream {right_name}", right_node)
        over = right_node.args.get("over")
        if over is None:
            raise query.error(
                SqlPlanError,
                "a stream-to-stream JOIN needs OVER (RANGE INTERVAL … PRECEDING) on the right",
                right_node,
            )
        spec = over.args.get("spec")
        start = spec.args.get("start") if spec is not None else None
        if (
            spec is None
            or str(spec.args.get("kind")).upper() != "RANGE"
            or not isinstance(start, exp.Interval)
        ):
            raise query.error(SqlUnsupportedError, "JOIN windows other than RANGE INTERVAL", over)
        range_ms = int(interval_ms(start))
        side = str(join.args.get("side") or "").upper()
        kind = str(join.args.get("kind") or "").upper()
        if side not in ("", "LEFT") or kind not in ("", "INNER", "OUTER"):
            raise query.error(SqlUnsupportedError, f"{side or kind} stream-to-stream JOIN", join)
        left_alias = alias_of(from_node, left_name)
        right_alias = alias_of(right_node, right_name)
        scope = left.scope(left_alias)
        right.add_to(scope, right_alias, base=left.width)
        condition = join.args.get("on")
        if condition is None:
            raise query.error(SqlPlanError, "a stream-to-stream JOIN needs ON", join)
        left_exprs, right_exprs, residual = split_join_keys(
            condition, left.scope(left_alias), right.scope(right_alias)
        )
        left_keys = [k.fn for k in left_exprs]
        right_keys = [k.fn for k in right_exprs]
        residual_fn = compile_expr(residual, scope).fn if residual is not None else None
        where = query.where(scope)
        outputs = query.outputs(query.items(left), scope)
        pump = query.name
        right_width = right.width
        details = [
            f"{'LEFT ' if side == 'LEFT' else ''}JOIN {right_name} OVER RANGE {range_ms} ms "
            f"PRECEDING on {len(left_keys)} key columns; each {left_name} row is matched once "
            "its ROWTIME has passed",
            "state: right rows in range (changelog, chunked per commit), waiting left rows",
        ]
        return query.pump(
            "stream join",
            left.name,
            details,
            lambda: StreamJoinOperator(
                pump=pump,
                range_ms=range_ms,
                left_keys=left_keys,
                right_keys=right_keys,
                residual=residual_fn,
                outer=side == "LEFT",
                right_width=right_width,
                select=outputs,
                where=where,
            ),
            right_source=right.name,
            grouping=(
                Grouping(_columns(left, left_exprs), tuple(left_keys)),
                Grouping(_columns(right, right_exprs), tuple(right_keys)),
            ),
        )


def _columns(stream: StreamInfo, keys: list[Expr]) -> tuple[str | None, ...]:
    """The plain column of ``stream`` each join key is (``None``: computed)."""
    out: list[str | None] = []
    for key in keys:
        index = None if key.column is None else key.column - stream.offset
        valid = index is not None and 0 <= index < len(stream.columns)
        out.append(stream.columns[index].name if valid and index is not None else None)
    return tuple(out)
