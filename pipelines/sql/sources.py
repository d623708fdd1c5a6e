"""FROM: the stream a pump reads, its alias and scope, and the reference table it may join.

:func:`resolve_source` is the FROM of every one-stream pump: ``FROM stream [AS alias]
[[LEFT] JOIN table [AS t] ON … | CROSS JOIN table [AS t]]…`` (``USING`` and ``NATURAL``
were written as ``ON`` before). Reference-table joins are planned here, once for all
kinds of pump (those that cannot take one refuse it afterwards), each as a hash index of the
table's rows on the equi-join keys, applied one after the other. :func:`stream_join` tells
a stream-to-stream JOIN apart (a stream on the right, or an ``OVER`` window): its pump is
planned by
:mod:`pipelines.sql.operators.stream_join_plan`.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.catalog import StreamColumn, StreamInfo
from pipelines.sql.compiler import compile_expr
from pipelines.sql.nodes import identifier_name
from pipelines.sql.operators.project import JoinChain, ReferenceJoin
from pipelines.sql.planning import PumpQuery, split_join_condition
from pipelines.sql.scope import Scope
from pipelines.sql.types import Row

__all__ = ["Source", "alias_of", "from_table", "resolve_source", "single_join", "stream_join"]

#: Why a RIGHT or FULL join with a reference table is refused.
_KEPT_TABLE_ROWS = (
    "{} JOIN with a reference table: KDA joins a stream with a reference table row by row "
    "of the stream (SQL Reference, JOIN clause, sql-reference-join-clause.html: stream-to-"
    "table joins), so a table row no stream row matches has no ROWTIME to come out at; "
    "only JOIN, LEFT JOIN and CROSS JOIN with a reference table are computed"
)


@dataclass(frozen=True, slots=True)
class Source:
    """The input of a one-stream pump."""

    stream: StreamInfo
    alias: str
    #: The stream's columns, then (with joins) the reference tables'.
    scope: Scope
    join: JoinChain | None
    #: Each joined table's alias and columns (what ``*`` expands to after the stream's).
    joined: tuple[tuple[str, list[StreamColumn]], ...] = ()


def from_table(query: PumpQuery, select: exp.Select) -> exp.Table:
    """The table node of ``select``'s FROM: a named stream (not a table function or a
    subquery)."""
    from_ = select.args.get("from_")
    if from_ is None:
        raise query.error(SqlPlanError, "SELECT STREAM needs FROM", select)
    table = from_.this
    if isinstance(table, exp.Table) and isinstance(table.this, exp.Anonymous):
        raise query.error(SqlUnsupportedError, "table function", table)
    if not isinstance(table, exp.Table):
        raise query.error(SqlUnsupportedError, f"FROM {table.sql()} (a subquery)", table)
    return table


def single_join(query: PumpQuery, select: exp.Select) -> exp.Join | None:
    """``select``'s JOIN, if it has one; more than one is refused."""
    joins = select.args.get("joins") or []
    if len(joins) > 1:
        raise query.error(SqlUnsupportedError, "more than one JOIN in a pump", joins[1])
    return joins[0] if joins else None


def stream_join(select: exp.Select, streams: Container[str]) -> exp.Join | None:
    """The first JOIN of ``select`` when it joins two streams (a stream's name on the right,
    or a window on either side)."""
    joins = select.args.get("joins") or []
    if not joins:
        return None
    joined = joins[0].this
    from_ = select.args.get("from_")
    left = from_.this if from_ is not None else None
    if isinstance(joined, exp.Table) and (
        joined.args.get("over") is not None
        or identifier_name(joined.this) in streams
        or (isinstance(left, exp.Table) and left.args.get("over") is not None)
    ):
        return joins[0]
    return None


def alias_of(table: exp.Table, name: str) -> str:
    """The alias of a FROM or JOIN table, or its name."""
    return identifier_name(table.args["alias"].this) if table.args.get("alias") else name


def resolve_source(query: PumpQuery, select: exp.Select | None = None) -> Source:
    """The FROM of ``select`` (this pump's query by default), with its reference joins."""
    select = select or query.select
    table = from_table(query, select)
    stream_name = identifier_name(table.this)
    stream = query.streams.get(stream_name)
    if stream is None:
        raise query.error(SqlPlanError, f"unknown stream {stream_name}", table)
    if table.args.get("over") is not None:
        raise query.error(SqlPlanError, "a window on a stream without a JOIN", table.args["over"])
    alias = alias_of(table, stream_name)
    scope = stream.scope(alias)
    joins: list[ReferenceJoin] = []
    joined: list[tuple[str, list[StreamColumn]]] = []
    width = stream.width
    for join_node in select.args.get("joins") or []:
        join, table_alias, columns = _reference_join(query, join_node, scope, width)
        joins.append(join)
        joined.append((table_alias, columns))
        width += len(columns)
    chain = JoinChain(tuple(joins)) if joins else None
    return Source(stream, alias, scope, chain, tuple(joined))


def _reference_join(
    query: PumpQuery, join: exp.Join, scope: Scope, base: int
) -> tuple[ReferenceJoin, str, list[StreamColumn]]:
    """Plan ``… JOIN table ON …`` over the row so far (``scope``, ``base`` wide): the join,
    the table's alias and columns; adds the table's columns to ``scope``."""
    table_node = join.this
    if not isinstance(table_node, exp.Table):
        raise query.error(SqlUnsupportedError, "JOIN with a subquery", table_node)
    name = identifier_name(table_node.this)
    if table_node.args.get("over") is not None or name in query.streams:
        raise query.error(SqlUnsupportedError, "stream-to-stream JOIN … OVER", table_node)
    table = query.tables.get(name)
    if table is None:
        raise query.error(SqlPlanError, f"unknown stream or reference table {name}", table_node)
    side = str(join.args.get("side") or "").upper()
    kind = str(join.args.get("kind") or "").upper()
    if side in ("RIGHT", "FULL"):
        raise query.error(SqlPlanError, _KEPT_TABLE_ROWS.format(side), join)
    if side not in ("", "LEFT") or kind not in ("", "INNER", "OUTER", "CROSS"):
        raise query.error(SqlUnsupportedError, f"{side or kind} JOIN with a reference table", join)
    # USING and NATURAL were written as ON before (pipelines.sql.join_using)
    if join.args.get("using"):
        raise query.error(SqlUnsupportedError, "JOIN … USING here (write ON)", join)
    if str(join.args.get("method") or "").upper() == "NATURAL":
        raise query.error(SqlUnsupportedError, "NATURAL JOIN here (write ON)", join)
    cross = kind == "CROSS"
    alias = alias_of(table_node, name)
    row_scope = Scope(list(scope.columns), dict(scope.specials))
    table_scope = Scope()
    for i, column in enumerate(table.columns):
        for qualifier in (alias, name) if alias != name else (alias,):
            scope.add(column.name, base + i, column.sql_type, qualifier)
            table_scope.add(column.name, i, column.sql_type, qualifier)
    condition = join.args.get("on")
    if cross and condition is not None:
        raise query.error(SqlPlanError, "a CROSS JOIN has no ON", condition)
    if condition is None and not cross:
        raise query.error(SqlPlanError, "JOIN with a reference table needs ON", join)
    row_keys, table_keys, residual = (
        split_join_condition(condition, row_scope, table_scope)
        if condition is not None
        else ([], [], None)
    )
    index: dict[tuple[Any, ...], list[Row]] = {}
    for row in table.rows:
        key = tuple(f(row) for f in table_keys)
        if None not in key:
            index.setdefault(key, []).append(row)
    residual_fn = compile_expr(residual, scope).fn if residual is not None else None
    reference = ReferenceJoin(
        tuple(row_keys), index, residual_fn, side == "LEFT", len(table.columns)
    )
    return reference, alias, list(table.columns)
