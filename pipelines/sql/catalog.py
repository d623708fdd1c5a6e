"""What an application's pumps read and write: in-application streams and reference tables.

Besides the streams of ``CREATE STREAM``, the planner makes *hidden* streams for the parts of
a query it plans as pumps of their own (a subquery in FROM, a UNION ALL, the rows an ORDER BY
sorts, the join under a window: see :mod:`pipelines.sql.compose`). A hidden stream's columns
may keep the qualifiers they had in the query (``o.orderid`` of a join), and some are
*system* columns: the ROWTIME of each side of a join, which ``*`` does not expand to.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.sql.expr import TIMESTAMP
from pipelines.sql.scope import Scope
from pipelines.sql.types import Row, SqlType

__all__ = ["StreamColumn", "StreamInfo", "TableInfo"]


@dataclass(frozen=True, slots=True)
class StreamColumn:
    name: str
    sql_type: SqlType
    #: ``NOT NULL`` in CREATE STREAM: a row with NULL here fails (to the error stream).
    not_null: bool = False
    #: The qualifiers the column is known by (a hidden stream's join columns: the alias and
    #: name of the relation they came from). Empty: the stream's own alias and name.
    qualifiers: tuple[str, ...] = ()
    #: A system column (a joined stream's ROWTIME): visible by name, not part of ``*``.
    system: bool = False


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """An in-application stream. Rows are ``(ROWTIME, [APPROXIMATE_ARRIVAL_TIME,] *columns)``."""

    name: str
    columns: tuple[StreamColumn, ...]
    source: bool = False
    line: int = 0
    #: Made by the planner for a part of a pump's query (see the module docs).
    hidden: bool = False

    @property
    def offset(self) -> int:
        return 2 if self.source else 1

    def scope(self, qualifier: str, base: int = 0) -> Scope:
        scope = Scope()
        self.add_to(scope, qualifier, base)
        return scope

    def add_to(self, scope: Scope, qualifier: str, base: int = 0) -> None:
        names = {qualifier, self.name}
        for q in names:
            scope.add("ROWTIME", base, TIMESTAMP, q)
            if self.source:
                scope.add("APPROXIMATE_ARRIVAL_TIME", base + 1, TIMESTAMP, q)
        for i, column in enumerate(self.columns):
            for q in column.qualifiers or names:
                scope.add(column.name, base + self.offset + i, column.sql_type, q)

    @property
    def star_columns(self) -> list[tuple[int, StreamColumn]]:
        """What ``*`` expands to: each column that is not a system column, with its position
        among the stream's columns."""
        return [(i, c) for i, c in enumerate(self.columns) if not c.system]

    @property
    def width(self) -> int:
        return self.offset + len(self.columns)


@dataclass(frozen=True, slots=True)
class TableInfo:
    """A reference table: its columns and (at run time) its rows."""

    name: str
    columns: tuple[StreamColumn, ...]
    rows: tuple[Row, ...] = ()
