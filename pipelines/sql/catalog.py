"""What an application's pumps read and write: in-application streams and reference tables."""

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


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """An in-application stream. Rows are ``(ROWTIME, [APPROXIMATE_ARRIVAL_TIME,] *columns)``."""

    name: str
    columns: tuple[StreamColumn, ...]
    source: bool = False
    line: int = 0

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
                scope.add(column.name, base + self.offset + i, column.sql_type, q)

    @property
    def width(self) -> int:
        return self.offset + len(self.columns)


@dataclass(frozen=True, slots=True)
class TableInfo:
    """A reference table: its columns and (at run time) its rows."""

    name: str
    columns: tuple[StreamColumn, ...]
    rows: tuple[Row, ...] = ()
