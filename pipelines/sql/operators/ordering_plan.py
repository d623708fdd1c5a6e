"""Planning of the pumps of :mod:`.ordering`: the last pump of a query with ORDER BY,
SELECT DISTINCT or ``expr AS ROWTIME``, and KDA's ``group_rank``.

:class:`pipelines.sql.compose.Composer` calls these: the rows come from a hidden stream
``(ROWTIME, *columns, *extra)`` the query's own pump wrote, with ``width`` columns of the
target and then the extra values (sort keys, the monotonic item of DISTINCT, the new
ROWTIME). A streaming ORDER BY or DISTINCT needs a time-based monotonic expression (KDA):
:func:`rowtime_based` says which are, :func:`rowtime_probe` evaluates one at the partition's
ROWTIME, so a group is closed as soon as ROWTIME has moved past it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.catalog import StreamColumn, StreamInfo
from pipelines.sql.compiler import compile_expr
from pipelines.sql.dialect import Statement, is_step
from pipelines.sql.expr import INTEGER, TIMESTAMP
from pipelines.sql.nodes import identifier_name
from pipelines.sql.operators.ordering import (
    DistinctOperator,
    GroupRankOperator,
    RowtimeOperator,
    SortKey,
    SortOperator,
    TimeSortOperator,
)
from pipelines.sql.planning import Grouping, PlannedPump, plan_error
from pipelines.sql.scope import Scope
from pipelines.sql.types import Timestamp, TypeKind

__all__ = [
    "distinct_pump",
    "group_rank_pump",
    "rowtime_based",
    "rowtime_probe",
    "rowtime_pump",
    "sort_pump",
    "tsort_pump",
]


def rowtime_based(node: exp.Expression) -> bool:
    """A monotonic function of ROWTIME: ROWTIME, or FLOOR/CEIL(… TO unit) or STEP(… BY …) of
    one."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Column):
        return identifier_name(node.this) == "ROWTIME"
    if isinstance(node, exp.Floor | exp.Ceil) and node.args.get("to") is not None:
        return rowtime_based(node.this)
    if is_step(node):
        return rowtime_based(node.expressions[0])
    return False


def rowtime_probe(node: exp.Expression) -> Callable[[int], Any] | None:
    """``node`` — a function of ROWTIME only — as a function of a ROWTIME in ms; None when
    it is not one."""
    scope = Scope()
    qualifiers = {
        identifier_name(c.args["table"]) for c in node.find_all(exp.Column) if c.args.get("table")
    }
    for qualifier in {"", *qualifiers}:
        scope.add("ROWTIME", 0, TIMESTAMP, qualifier)
    try:
        fn = compile_expr(node, scope).fn
    except (SqlPlanError, SqlUnsupportedError):
        return None
    return lambda rowtime: fn((Timestamp(rowtime),))


def sort_pump(
    statement: Statement,
    pump: str,
    source: StreamInfo,
    target: str,
    width: int,
    keys: Sequence[exp.Ordered],
    *,
    retimed: bool = False,
) -> PlannedPump:
    """ORDER BY ``keys``, computed after the ``width`` columns of ``source``'s rows.
    ``retimed``: the rows have a ROWTIME of their own (``expr AS ROWTIME``), not the
    partition's, so the partition's ROWTIME does not tell when a group is whole: it closes
    when a row of the next group comes or the partition goes idle."""
    positions: list[SortKey] = [
        (1 + width + j, bool(key.args.get("desc")), bool(key.args.get("nulls_first")))
        for j, key in enumerate(keys)
    ]
    probe = None if retimed else rowtime_probe(keys[0].this)
    leading, rest = positions[0][0], positions[1:]
    details = [
        f"ORDER BY {', '.join(k.sql() for k in keys)}: rows gathered while "
        f"{keys[0].this.sql()} keeps its value, then sorted (ROWTIME: the group's last)",
        "state: the rows of the open group (changelog, chunked per commit)",
    ]
    return PlannedPump(
        pump,
        source.name,
        target,
        "order by",
        details,
        lambda: SortOperator(pump=pump, leading=leading, keys=rest, width=width, probe=probe),
        statement.line,
        key_columns=(),  # one stream, sorted whole: one partition
        lineage=_identity(source, width),
    )


def tsort_pump(
    statement: Statement,
    pump: str,
    source: StreamInfo,
    target: str,
    width: int,
    node: exp.Expression,
    within_ms: int,
    keys: Sequence[exp.Ordered],
) -> PlannedPump:
    """KDA's T-sort: ``node AS ROWTIME … ORDER BY node WITHIN within_ms[, keys]``; the value
    of ``node`` is the column after the ``width`` ones, then the keys'."""
    sql_type = source.columns[width].sql_type
    if sql_type.kind is not TypeKind.TIMESTAMP:
        raise plan_error(
            SqlPlanError, f"a T-sort's expression {node.sql()} is a {sql_type}, not a TIMESTAMP "
            "(KDA)", node, statement,
        )  # fmt: skip
    positions: list[SortKey] = [
        (2 + width + j, bool(key.args.get("desc")), bool(key.args.get("nulls_first")))
        for j, key in enumerate(keys)
    ]
    details = [
        f"T-sort: ROWTIME := {node.sql()}; a row waits until one {within_ms} ms later by it "
        "has come, then out sorted"
        + (f" (then by {', '.join(k.sql() for k in keys)})" if keys else "")
        + "; one before a row already out is an Out_Of_Order_Row error",
        "state: the rows in the window (changelog, chunked per commit)",
    ]
    return PlannedPump(
        pump,
        source.name,
        target,
        "t-sort",
        details,
        lambda: TimeSortOperator(pump=pump, width=width, within_ms=within_ms, keys=positions),
        statement.line,
        key_columns=(),  # a ROWTIME order of the whole stream: one partition
        lineage=_identity(source, width),
    )


def distinct_pump(
    statement: Statement,
    pump: str,
    source: StreamInfo,
    target: str,
    width: int,
    leading: exp.Expression | None,
) -> PlannedPump:
    """SELECT DISTINCT over the first ``width`` columns; the monotonic item is the last
    column of ``source`` — or, ``leading`` None, the rows' ROWTIME: an item ``expr AS
    ROWTIME`` the rows took as theirs, one of the items DISTINCT compares."""
    if leading is None:
        position, probe, what = 0, None, "ROWTIME (the value AS ROWTIME)"
    else:
        position = len(source.columns)  # (ROWTIME, *columns): the last column
        probe, what = rowtime_probe(leading), leading.sql()
    details = [
        f"DISTINCT: a row is dropped when an equal one came with the same {what}",
        "state: the distinct rows of the current value (changelog, chunked per commit)",
    ]
    return PlannedPump(
        pump,
        source.name,
        target,
        "distinct",
        details,
        lambda: DistinctOperator(pump=pump, leading=position, width=width, probe=probe),
        statement.line,
        grouping=(_by_columns(source, width),),  # equal rows meet in one partition
        lineage=_identity(source, width),
    )


def rowtime_pump(
    statement: Statement,
    pump: str,
    source: StreamInfo,
    target: str,
    width: int,
    node: exp.Expression,
) -> PlannedPump:
    """``node AS ROWTIME``: its value, the column after the ``width`` ones, is the ROWTIME."""
    sql_type = source.columns[width].sql_type
    if sql_type.kind is not TypeKind.TIMESTAMP:
        raise plan_error(
            SqlPlanError,
            f"{node.sql()} AS ROWTIME is a {sql_type}, not a TIMESTAMP",
            node,
            statement,
        )
    details = [
        f"ROWTIME := {node.sql()}; a row that would go back in time is an Out_Of_Order_Row error",
        "state: the last ROWTIME written (changelog)",
    ]
    return PlannedPump(
        pump,
        source.name,
        target,
        "rowtime",
        details,
        lambda: RowtimeOperator(pump=pump, width=width),
        statement.line,
        key_columns=(),  # a ROWTIME order of the whole stream: one partition
        lineage=_identity(source, width),
    )


def group_rank_pump(
    statement: Statement,
    pump: str,
    source: StreamInfo,
    call: exp.Expression,
    arguments: Sequence[Any],
) -> tuple[StreamInfo, PlannedPump]:
    """``group_rank(c, rankByColumnName, rankOutColumnName, sortOrder, outputOrder, maxIdle,
    outputMax)`` over ``source`` (the cursor's rows): the stream of ``c.*`` and the rank, and
    the pump that fills it."""

    def error(message: str) -> Exception:
        return plan_error(SqlPlanError, message, call, statement)

    if len(arguments) != 6:
        raise error(
            "group_rank(CURSOR(…), rankByColumnName, rankOutColumnName, sortOrder, "
            "outputOrder, maxIdle, outputMax) takes 7 arguments"
        )
    rank_by, rank_out, sort_order, output_order, max_idle, output_max = arguments
    names = [c.name for c in source.columns]
    if not isinstance(rank_by, str) or not isinstance(rank_out, str):
        raise error("group_rank's column names are strings")
    matches = [i for i, n in enumerate(names) if n == rank_by] or [
        i for i, n in enumerate(names) if n.upper() == rank_by.upper()
    ]
    if len(matches) != 1:
        raise error(f"group_rank: the cursor has no column {rank_by!r}; it has {names}")
    orders = {"ASC": False, "DESC": True}
    for value, what in ((sort_order, "sortOrder"), (output_order, "outputOrder")):
        if str(value).upper() not in orders:
            raise error(f"group_rank's {what} is 'asc' or 'desc', got {value!r}")
    for value, what in ((max_idle, "maxIdle"), (output_max, "outputMax")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise error(f"group_rank's {what} is an integer, 0 or more, got {value!r}")
    if rank_out in names:
        raise error(f"group_rank: the cursor has a column {rank_out!r} already")
    ranked = StreamInfo(
        pump,
        (*source.columns, StreamColumn(rank_out, INTEGER)),
        line=statement.line,
        hidden=True,
    )
    width = len(source.columns)
    position = 1 + matches[0]
    desc = orders[str(sort_order).upper()]
    output_desc = orders[str(output_order).upper()]
    details = [
        f"group_rank: the rows of each ROWTIME ranked by {names[matches[0]]} "
        f"{str(sort_order).lower()}, out by rank {str(output_order).lower()}"
        + (f", at most {output_max}" if output_max else ""),
        "state: the rows of the open ROWTIME (changelog)",
    ]
    planned = PlannedPump(
        pump,
        source.name,
        ranked.name,
        "group rank",
        details,
        lambda: GroupRankOperator(
            pump=pump,
            rank_by=position,
            desc=desc,
            output_desc=output_desc,
            output_max=int(output_max),
            width=width,
        ),
        statement.line,
        key_columns=(),  # every row of a ROWTIME ranked together: one partition
        lineage=_identity(source, width),
    )
    return ranked, planned


def _identity(source: StreamInfo, width: int) -> dict[str, dict[str, str]]:
    """The lineage of a pump that writes the first ``width`` columns of ``source`` as they
    are."""
    return {source.name: {c.name: c.name for c in source.columns[:width] if not c.system}}


def _by_columns(source: StreamInfo, width: int) -> Grouping:
    """The grouping of ``source``'s rows by their first ``width`` columns."""
    columns = tuple(c.name for c in source.columns[:width])
    return Grouping(columns, tuple(itemgetter(1 + i) for i in range(width)))
