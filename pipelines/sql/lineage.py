"""Which input column each target column of a pump is, unchanged.

``CREATE PUMP p AS INSERT INTO s SELECT STREAM ticker_symbol AS sym, …`` makes column ``SYM``
of ``s`` the input's ``TICKER_SYMBOL``: rows with equal ``SYM`` had equal ``TICKER_SYMBOL``.
The stage planner (:mod:`pipelines.sql.stages`) follows the input topic's partition key
through such renames and projections, so a window that groups by ``SYM`` needs no
repartition. Only a SELECT item that is a plain column reference carries a column; anything
computed from it (``UPPER(x)``, a CAST that may truncate) does not.
"""

from __future__ import annotations

from sqlglot import exp

from ground.errors import SqlError
from pipelines.sql.catalog import StreamInfo
from pipelines.sql.nodes import identifier_name
from pipelines.sql.planning import PlannedPump, PumpQuery
from pipelines.sql.scope import Scope
from pipelines.sql.sources import alias_of

__all__ = ["column_lineage"]


def column_lineage(query: PumpQuery, pump: PlannedPump) -> dict[str, dict[str, str]]:
    """``{input stream: {input column: target column}}`` for the target columns of ``pump``
    that are an input column as it is (the first target column wins when there are two)."""
    from_ = query.select.args.get("from_")
    table = from_.this if from_ is not None else None
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        return {}  # a table function (TOP_K_ITEMS_TUMBLING …): its columns are new
    left = query.streams.get(pump.source)
    if left is None:
        return {}
    scope = left.scope(alias_of(table, left.name))
    sides: list[tuple[StreamInfo, int]] = [(left, 0)]
    if pump.right_source is not None:
        right = query.streams.get(pump.right_source)
        joins = query.select.args.get("joins") or []
        if right is None or not joins or not isinstance(joins[0].this, exp.Table):
            return {}
        right.add_to(scope, alias_of(joins[0].this, right.name), base=left.width)
        sides.append((right, left.width))
    try:
        items = query.items(left)
    except SqlError:
        return {}
    out: dict[str, dict[str, str]] = {}
    for column, node in zip(query.target.columns, items, strict=True):  # the stream's order
        if not isinstance(node, exp.Column) or identifier_name(node.this) == "ROWTIME":
            continue
        found = _input_column(scope, node, sides)
        if found is not None:
            stream, name = found
            out.setdefault(stream, {}).setdefault(name, column.name)
    return out


def _input_column(
    scope: Scope, node: exp.Column, sides: list[tuple[StreamInfo, int]]
) -> tuple[str, str] | None:
    try:
        index = scope.resolve(node).index
    except SqlError:
        return None
    for stream, base in sides:
        position = index - base - stream.offset
        if base <= index < base + stream.width and 0 <= position < len(stream.columns):
            return stream.name, stream.columns[position].name
    return None
