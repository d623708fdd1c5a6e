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
    sides: tuple[tuple[StreamInfo, int], ...]
    if query.layout:  # a stream join: (ROWTIME, *left row, *right row)
        scope, sides = query.layout[0]
    elif pump.right_source is None:
        scope, sides = left.scope(alias_of(table, left.name)), ((left, 0),)
    else:
        return {}
    # the items as the planner had them: in the target's order (a pump that makes its
    # target's columns, for a subquery, names them after its items), then any values
    # computed for a pump after it
    items = query.resolved_items
    names = list(query.item_names) if query.infer_all else [c.name for c in query.target.columns]
    if len(items) < len(names):
        return {}
    out: dict[str, dict[str, str]] = {}
    for name, node in zip(names, items[: len(names)], strict=True):
        if not isinstance(node, exp.Column) or identifier_name(node.this) == "ROWTIME":
            continue
        found = _input_column(scope, node, sides)
        if found is not None:
            stream, found_name = found
            out.setdefault(stream, {}).setdefault(found_name, name)
    return out


def _input_column(
    scope: Scope, node: exp.Column, sides: tuple[tuple[StreamInfo, int], ...]
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
