"""Planner of stream-to-stream joins: ``FROM L [OVER (…)] [AS l] [INNER | LEFT | RIGHT |
FULL] JOIN R [OVER (…)] [AS r] ON …`` and ``… CROSS JOIN R [OVER (…)]`` (see
:mod:`.stream_join`): KDA's five join types.

Each side's window is ``RANGE INTERVAL … PRECEDING``, ``… FOLLOWING``, ``CURRENT ROW`` or
``BETWEEN … PRECEDING AND CURRENT ROW`` / ``BETWEEN CURRENT ROW AND … FOLLOWING``, or the
same with ``ROWS n`` (a count of rows; see :mod:`.join_windows`): KDA's windows that end (or
start) with the current row. At least one side has one. A ROWS window counts the rows of
the whole stream, so a join with one runs its rows in one partition. The row the
pump makes is ``(ROWTIME of the result, *left row, *right row)``: an unqualified ROWTIME is
the result's, ``l.ROWTIME`` and ``r.ROWTIME`` those of the joined rows.
"""

from __future__ import annotations

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.catalog import StreamInfo
from pipelines.sql.compiler import compile_expr
from pipelines.sql.expr import TIMESTAMP, Expr
from pipelines.sql.nodes import identifier_name, interval_ms
from pipelines.sql.operators.join_windows import JoinWindow
from pipelines.sql.operators.stream_join import StreamJoinOperator
from pipelines.sql.planning import Grouping, PlannedPump, PumpQuery, split_join_keys
from pipelines.sql.query_shapes import NOT_KDA
from pipelines.sql.scope import Scope
from pipelines.sql.sources import alias_of, from_table, single_join, stream_join

__all__ = ["StreamJoinPlanner", "join_window"]

#: A join window that spans the current row, and where KDA's reference says it has none.
SPANNING = "a JOIN window that spans the current row (BETWEEN … PRECEDING AND … FOLLOWING)"
SPANNING_PAGE = (
    'SQL Reference, Allowed and Disallowed Window Specifications: "Offset windows are '
    'windows that do not end with CURRENT ROW. These are not supported" (the window '
    '"spans CURRENT ROW rather than starting or ending there")'
)
OFFSET_PAGE = (
    'SQL Reference, Allowed and Disallowed Window Specifications: "Offset windows are '
    'windows that do not end with CURRENT ROW. These are not supported", nor negative ones'
)
#: ROWS CURRENT ROW on a join, and the page that defines a ROWS join window by a count.
ROWS_CURRENT = "ROWS CURRENT ROW (a count of no rows) as a JOIN window"
ROWS_PAGE = (
    'SQL Reference, JOIN clause: a row-based window is "a given count of rows before or '
    'after the row with the current timestamp", and CURRENT ROW is the synonym of 0 '
    "PRECEDING (Allowed and Disallowed Window Specifications), a count of no rows; write "
    "RANGE CURRENT ROW for the rows of the current row's ROWTIME, ROWS 1 PRECEDING for the "
    "latest row"
)


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
        right_node = join.this
        right_name = identifier_name(right_node.this)
        right = query.streams.get(right_name)
        if right is None:
            raise query.error(SqlPlanError, f"unknown stream {right_name}", right_node)
        side = str(join.args.get("side") or "").upper()
        kind = str(join.args.get("kind") or "").upper()
        cross = kind == "CROSS"
        # KDA's JOIN clause has ON, USING and NATURAL as join conditions
        if str(join.args.get("method") or "").upper() == "NATURAL":
            raise query.error(SqlUnsupportedError, "NATURAL JOIN (write ON)", join)
        if join.args.get("using"):
            raise query.error(SqlUnsupportedError, "JOIN … USING (write ON)", join)
        if side not in ("", "LEFT", "RIGHT", "FULL") or kind not in ("", "INNER", "OUTER", "CROSS"):
            raise query.error(SqlUnsupportedError, f"{side or kind} stream-to-stream JOIN", join)
        left_over = _named_window(query, from_node.args.get("over"))
        right_over = _named_window(query, right_node.args.get("over"))
        if left_over is None and right_over is None:
            raise query.error(
                SqlPlanError,
                "a stream-to-stream JOIN needs a window on one side: OVER (RANGE INTERVAL … "
                "or ROWS n, PRECEDING or FOLLOWING)",
                right_node,
            )
        right_window = join_window(query, right_over) if right_over is not None else None
        left_window = join_window(query, left_over) if left_over is not None else None
        left_alias = _join_alias(from_node, left_name)
        right_alias = _join_alias(right_node, right_name)
        scope = Scope()
        scope.add("ROWTIME", 0, TIMESTAMP)  # the result's time
        left.add_to(scope, left_alias, base=1)
        right.add_to(scope, right_alias, base=1 + left.width)
        query.layout[:] = [(scope, ((left, 1), (right, 1 + left.width)))]
        condition = join.args.get("on")
        if cross and condition is not None:
            raise query.error(SqlPlanError, "a CROSS JOIN has no ON", condition)
        if condition is None and not cross:
            raise query.error(SqlPlanError, "a stream-to-stream JOIN needs ON", join)
        left_exprs, right_exprs, residual = (
            split_join_keys(condition, left.scope(left_alias), right.scope(right_alias))
            if condition is not None
            else ([], [], None)
        )
        left_keys = [k.fn for k in left_exprs]
        right_keys = [k.fn for k in right_exprs]
        residual_fn = compile_expr(residual, scope).fn if residual is not None else None
        where = query.where(scope)
        items = query.items(left, left_alias, [(right_alias, [c for _, c in right.star_columns])])
        outputs = query.outputs(items, scope)
        pump = query.name
        left_width, right_width = left.width, right.width
        by_rows = any(w is not None and w.rows for w in (left_window, right_window))
        joined = f"{side + ' ' if side else 'CROSS ' if cross else ''}JOIN {right_name}"
        if by_rows:
            windows = "; ".join(
                f"{name}: {w.text()}"
                for name, w in ((left_name, left_window), (right_name, right_window))
                if w is not None
            )
            meets = (
                f"a row of one side meets the rows of the other side's window ({windows}) "
                f"on {len(left_keys)} key columns"
            )
        else:
            lower, upper = _interval(left_window, right_window)
            meets = (
                f"a {left_name} row at t meets the {right_name} rows from t{lower:+d} ms to "
                f"t{upper:+d} ms on {len(left_keys)} key columns"
            )
        details = [
            f"{joined}: {meets}; a result (ROWTIME: the later row's) is emitted once the "
            "partition's ROWTIME has passed it",
            "state: the rows of both sides in reach (changelog, chunked per commit)",
        ]
        if by_rows:
            details.append("a ROWS window counts every row of its stream: one partition")
        return query.pump(
            "stream join",
            left.name,
            details,
            lambda: StreamJoinOperator(
                pump=pump,
                left_window=left_window,
                right_window=right_window,
                left_keys=left_keys,
                right_keys=right_keys,
                residual=residual_fn,
                left_outer=side in ("LEFT", "FULL"),
                right_outer=side in ("RIGHT", "FULL"),
                left_width=left_width,
                right_width=right_width,
                select=outputs,
                where=where,
            ),
            right_source=right.name,
            # a ROWS window counts every row of its stream: the rows meet in one partition
            grouping=(
                (Grouping((), ()), Grouping((), ()))
                if by_rows
                else (
                    Grouping(_columns(left, left_exprs), tuple(left_keys)),
                    Grouping(_columns(right, right_exprs), tuple(right_keys)),
                )
            ),
        )


def _named_window(query: PumpQuery, over: exp.Expression | None) -> exp.Expression | None:
    """``OVER w`` on a side of a JOIN: the definition of ``w`` in the WINDOW clause."""
    if over is None or over.args.get("spec") is not None or not over.args.get("alias"):
        return over
    name = identifier_name(over.args["alias"])
    for definition in query.select.args.get("windows") or []:
        if identifier_name(definition.this) == name:
            return definition
    raise query.error(SqlPlanError, f"unknown window {name}", over)


def _join_alias(table: exp.Table, name: str) -> str:
    """A side's alias; ``JOIN s OVER w`` without one is known by the window's name (KDA's
    stream join example: ``JOIN TradeStream OVER t ON o.orderId = t.orderId``)."""
    over = table.args.get("over")
    if (
        not table.args.get("alias")
        and over is not None
        and over.args.get("spec") is None
        and over.args.get("alias")
    ):
        return identifier_name(over.args["alias"])
    return alias_of(table, name)


def join_window(query: PumpQuery, over: exp.Expression) -> JoinWindow:
    """``OVER (…)`` on a side of a JOIN: ``RANGE`` an interval or ``ROWS`` a count,
    ``PRECEDING`` or ``FOLLOWING`` the current row of the other side (KDA's windows start or
    end with the current row)."""
    spec = over.args.get("spec")
    if over.args.get("partition_by"):
        raise query.error(SqlPlanError, "a JOIN window cannot be partitioned (KDA)", over)
    order = over.args.get("order")
    if order is not None and [
        identifier_name(o.this.this) if isinstance(o.this, exp.Column) else ""
        for o in order.expressions
    ] != ["ROWTIME"]:
        raise query.error(SqlPlanError, "a JOIN window can only be ordered by ROWTIME", order)
    kind = str(spec.args.get("kind")).upper() if spec is not None else ""
    if spec is None or kind not in ("RANGE", "ROWS"):
        raise query.error(SqlUnsupportedError, "JOIN windows other than RANGE or ROWS", over)
    rows = kind == "ROWS"
    start, start_side = spec.args.get("start"), str(spec.args.get("start_side") or "").upper()
    end, end_side = spec.args.get("end"), str(spec.args.get("end_side") or "").upper()
    first = _bound(query, spec, start, start_side, rows=rows)
    if end is None:
        preceding, following = first
    else:
        last = _bound(query, spec, end, end_side, rows=rows)
        # BETWEEN: KDA's windows start or end with the current row
        if first[0] and last[1]:
            raise query.error(SqlPlanError, NOT_KDA.format(f"{SPANNING} ({SPANNING_PAGE})"), spec)
        if first[1] or last[0]:
            construct = f"the JOIN window {spec.sql()}, which does not end with the current row"
            raise query.error(SqlPlanError, NOT_KDA.format(f"{construct} ({OFFSET_PAGE})"), spec)
        preceding, following = first[0], last[1]
    if rows and not (preceding or following):
        raise query.error(SqlPlanError, NOT_KDA.format(f"{ROWS_CURRENT} ({ROWS_PAGE})"), over)
    return JoinWindow(rows, preceding, following)


def _bound(
    query: PumpQuery, spec: exp.Expression, value: object, side: str, *, rows: bool
) -> tuple[int, int]:
    """One bound of a JOIN window as (PRECEDING, FOLLOWING): ms for RANGE, rows for ROWS."""
    if isinstance(value, str) and value.upper() == "CURRENT ROW":
        return 0, 0
    if side not in ("PRECEDING", "FOLLOWING"):
        raise query.error(SqlUnsupportedError, f"JOIN window {spec.sql()}", spec)
    if rows:
        if isinstance(value, exp.Neg) or (
            isinstance(value, exp.Literal) and value.is_number and "-" in value.this
        ):
            raise query.error(SqlPlanError, "a JOIN window cannot be negative", spec)
        if not (isinstance(value, exp.Literal) and value.is_int):
            raise query.error(SqlUnsupportedError, f"JOIN window {spec.sql()}", spec)
        amount = int(value.this)
    else:
        if not isinstance(value, exp.Interval):
            raise query.error(SqlUnsupportedError, f"JOIN window {spec.sql()}", spec)
        amount = int(interval_ms(value))
    if amount < 0:
        raise query.error(SqlPlanError, "a JOIN window cannot be negative", spec)
    return (amount, 0) if side == "PRECEDING" else (0, amount)


def _interval(left: JoinWindow | None, right: JoinWindow | None) -> tuple[int, int]:
    """RANGE windows as the interval of ``right ROWTIME - left ROWTIME`` they join."""
    lower, upper = 0, 0
    if right is not None:
        lower, upper = -right.preceding, right.following
    if left is not None:
        lower, upper = min(lower, -left.following), max(upper, left.preceding)
    return lower, upper


def _columns(stream: StreamInfo, keys: list[Expr]) -> tuple[str | None, ...]:
    """The plain column of ``stream`` each join key is (``None``: computed)."""
    out: list[str | None] = []
    for key in keys:
        index = None if key.column is None else key.column - stream.offset
        valid = index is not None and 0 <= index < len(stream.columns)
        out.append(stream.columns[index].name if valid and index is not None else None)
    return tuple(out)
