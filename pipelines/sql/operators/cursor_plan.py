"""Planning shared by KDA's machine-learning table functions (``RANDOM_CUT_FOREST``,
``RANDOM_CUT_FOREST_WITH_EXPLANATION``, ``HOTSPOTS``): the call in ``FROM TABLE(…)``, its
``CURSOR(SELECT STREAM … FROM stream [WHERE …])``, its constant arguments, and the pump's
query over the function's result (see :mod:`.cursor`).

The cursor's columns are its SELECT list (``*``: the stream's columns); an expression without
an alias is named ``EXPR$<position>``. The model reads the numeric ones (TINYINT, SMALLINT,
INTEGER, BIGINT, REAL, DOUBLE) and ignores the rest, as KDA does; a DECIMAL column is refused
("DECIMAL is not a supported type. Use DOUBLE instead.", SQL Reference).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlglot import exp

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.catalog import StreamColumn, StreamInfo
from pipelines.sql.compiler import compile_expr
from pipelines.sql.dialect import is_cursor
from pipelines.sql.expr import TIMESTAMP
from pipelines.sql.nodes import identifier_name
from pipelines.sql.operators.cursor import Cursor, ResultQuery
from pipelines.sql.planning import PumpQuery
from pipelines.sql.scope import Scope
from pipelines.sql.sources import Source, resolve_source
from pipelines.sql.types import Row, TypeKind

__all__ = [
    "CursorCall",
    "NUMERIC_KINDS",
    "cursor_call",
    "function_name",
    "plan_cursor_call",
    "streams_through_a_function",
]

#: The column types the models read (KDA: "DOUBLE, INTEGER, FLOAT, TINYINT, SMALLINT, REAL,
#: and BIGINT"; FLOAT is DOUBLE here).
NUMERIC_KINDS = frozenset(
    {
        TypeKind.TINYINT,
        TypeKind.SMALLINT,
        TypeKind.INTEGER,
        TypeKind.BIGINT,
        TypeKind.REAL,
        TypeKind.DOUBLE,
    }
)


def cursor_call(select: exp.Select) -> exp.Anonymous | None:
    """The function called in ``FROM TABLE(f(…))`` (or ``FROM f(…)``), if any."""
    from_ = select.args.get("from_")
    if from_ is None or not isinstance(from_.this, exp.Table):
        return None
    call = from_.this.this
    if not isinstance(call, exp.Anonymous):
        return None
    if str(call.this).upper() == "TABLE" and call.expressions:
        inner = call.expressions[0]
        return inner if isinstance(inner, exp.Anonymous) else None
    return call


def function_name(select: exp.Select) -> str:
    """The upper-cased name of the table function in FROM, or ``""``."""
    call = cursor_call(select)
    return str(call.this).upper() if call is not None else ""


@dataclass(frozen=True, slots=True)
class CursorCall:
    """A planned ``FUNCTION(CURSOR(…), constant, …)`` in FROM."""

    name: str
    call: exp.Anonymous
    source: Source
    cursor: Cursor
    columns: tuple[StreamColumn, ...]
    #: The constant arguments after the cursor, with their nodes (for error positions).
    arguments: tuple[tuple[Any, exp.Expression], ...]

    def result_query(self, query: PumpQuery, extra: Sequence[StreamColumn]) -> ResultQuery:
        """The pump's WHERE and SELECT over ``(ROWTIME, *cursor columns, *extra)``."""
        select = query.select
        for clause in ("group", "having", "windows", "joins", "stagger"):
            if select.args.get(clause):
                raise query.error(SqlUnsupportedError, f"{clause.upper()} over {self.name}", select)
        table = select.args["from_"].this
        alias = identifier_name(table.args["alias"].this) if table.args.get("alias") else ""
        columns = (*self.columns, *extra)
        scope = Scope()
        for qualifier in {"", alias}:
            scope.add("ROWTIME", 0, TIMESTAMP, qualifier)
            for i, column in enumerate(columns):
                scope.add(column.name, 1 + i, column.sql_type, qualifier)
        result = StreamInfo(f"__{self.name}", columns)
        outputs = query.outputs(query.items(result), scope)
        return ResultQuery(query.name, query.where(scope), tuple(outputs))

    def integer(self, query: PumpQuery, index: int, parameter: str) -> int:
        value, node = self.arguments[index]
        if type(value) is not int:
            raise query.error(SqlPlanError, f"{self.name}'s {parameter} must be an integer", node)
        return value

    def number(self, query: PumpQuery, index: int, parameter: str) -> float:
        value, node = self.arguments[index]
        if type(value) not in (int, float, Decimal):
            raise query.error(SqlPlanError, f"{self.name}'s {parameter} must be a number", node)
        return float(value)

    def boolean(self, query: PumpQuery, index: int, parameter: str) -> bool:
        value, node = self.arguments[index]
        if type(value) is not bool:
            raise query.error(
                SqlPlanError, f"{self.name}'s {parameter} must be TRUE or FALSE", node
            )
        return value


def plan_cursor_call(query: PumpQuery) -> CursorCall:
    """The table function of ``query``'s FROM, its cursor and its constant arguments."""
    call = cursor_call(query.select)
    assert call is not None, "the planner matched a table function"
    name = str(call.this).upper()
    args = list(call.expressions)
    if not args or not is_cursor(args[0]):
        raise query.error(SqlPlanError, f"{name} takes CURSOR(SELECT STREAM …) first", call)
    cursor_select = args[0].expressions[0]
    if not isinstance(cursor_select, exp.Select) or not cursor_select.args.get("stream"):
        raise query.error(SqlPlanError, f"{name}'s CURSOR needs SELECT STREAM", args[0])
    for clause in ("group", "having", "windows", "order", "limit", "distinct", "stagger"):
        if cursor_select.args.get(clause):
            raise query.error(
                SqlUnsupportedError, f"{clause.upper()} inside {name}'s CURSOR", cursor_select
            )
    source = resolve_source(query, cursor_select)
    if source.join is not None:
        raise query.error(SqlUnsupportedError, f"a JOIN inside {name}'s CURSOR", args[0])
    scope = source.scope
    fns, columns = [], []
    positions: list[int | None] = []  # of the columns that read a stream column as it is
    for position, item in enumerate(cursor_select.expressions):
        if isinstance(item, exp.Star):
            for column in source.stream.columns:
                node = exp.Column(this=exp.Identifier(this=column.name, quoted=True))
                star = compile_expr(node, scope)
                fns.append(star.fn)
                positions.append(star.column)
                columns.append(column)
            continue
        inner = item.this if isinstance(item, exp.Alias) else item
        if isinstance(item, exp.Alias):
            column_name = identifier_name(item.args["alias"])
        elif isinstance(inner, exp.Column):
            column_name = identifier_name(inner.this)
        else:
            column_name = f"EXPR${position}"
        if column_name == "ROWTIME":
            continue  # the result rows carry the input row's ROWTIME anyway
        compiled = compile_expr(inner, scope)
        if compiled.sql_type is None:
            raise query.error(
                SqlPlanError,
                f"{name}: cannot tell the type of cursor column {column_name}; CAST it",
                inner,
            )
        fns.append(compiled.fn)
        positions.append(compiled.column)
        columns.append(StreamColumn(column_name, compiled.sql_type))
    numeric = []
    for i, column in enumerate(columns):
        if column.sql_type.kind is TypeKind.DECIMAL:
            raise query.error(
                SqlPlanError,
                f"{name}: column {column.name} is DECIMAL, which KDA does not accept; "
                "CAST it to DOUBLE",
                cursor_select,
            )
        if column.sql_type.kind in NUMERIC_KINDS:
            numeric.append(i)
    if not numeric:
        raise query.error(SqlPlanError, f"{name}'s CURSOR has no numeric column", cursor_select)
    arguments = []
    for node in args[1:]:
        compiled = compile_expr(node, scope)
        if not compiled.is_constant:
            raise query.error(
                SqlPlanError, f"{name}'s arguments after the cursor are constants", node
            )
        arguments.append((compiled.constant, node))
    cursor = Cursor(
        name,
        query.where(scope, cursor_select),
        tuple(fns),
        tuple(c.name for c in columns),
        tuple(numeric),
        _getter(positions),
    )
    return CursorCall(name, call, source, cursor, tuple(columns), tuple(arguments))


def _getter(positions: Sequence[int | None]) -> Callable[[Row], tuple[Any, ...]] | None:
    """The cursor's values in one ``itemgetter`` call, when each is a stream column."""
    indexes = [p for p in positions if p is not None]
    if len(indexes) != len(positions) or not indexes:
        return None
    if len(indexes) == 1:
        (index,) = indexes
        return lambda row: (row[index],)
    getter: Callable[[Row], tuple[Any, ...]] = operator.itemgetter(*indexes)
    return getter


def streams_through_a_function(select: exp.Select) -> bool:
    """``SELECT … FROM TABLE(f(CURSOR(SELECT STREAM …)))``: the query reads a stream through a
    table function even without the STREAM keyword (the guide's HOTSPOTS example is written
    so)."""
    call = cursor_call(select)
    if call is None or not call.expressions or not is_cursor(call.expressions[0]):
        return False
    inner = call.expressions[0].expressions[0]
    return isinstance(inner, exp.Select) and bool(inner.args.get("stream"))
