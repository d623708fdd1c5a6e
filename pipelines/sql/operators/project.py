"""Stateless pumps: projection, WHERE, CASE/CAST/functions, and joins with reference tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ground.errors import RowError
from pipelines.sql.operators.base import Context, Operator
from pipelines.sql.types import Fn, Row

__all__ = ["JoinChain", "ProjectOperator", "ReferenceJoin"]


@dataclass(frozen=True, slots=True)
class ReferenceJoin:
    """Stream ⋈ reference table: hash lookup on the equi-join keys, then a residual ON test.

    ``index`` maps a key tuple to the table rows with that key; combined rows are the stream
    row followed by the table row. ``outer`` keeps unmatched stream rows (LEFT JOIN) with NULLs.
    """

    stream_keys: tuple[Fn, ...]
    index: dict[tuple[Any, ...], list[Row]]
    residual: Fn | None
    outer: bool
    table_width: int

    def match(self, row: Row) -> list[Row]:
        key = tuple(f(row) for f in self.stream_keys)
        candidates = () if None in key else self.index.get(key, ())
        out = []
        for table_row in candidates:
            combined = row + table_row
            if self.residual is None or self.residual(combined) is True:
                out.append(combined)
        if not out and self.outer:
            out.append(row + (None,) * self.table_width)
        return out


@dataclass(frozen=True, slots=True)
class JoinChain:
    """``FROM s JOIN t1 ON … JOIN t2 ON …``: each join on the row the ones before made."""

    joins: tuple[ReferenceJoin, ...]

    def match(self, row: Row) -> list[Row]:
        rows = [row]
        for join in self.joins:
            rows = [combined for r in rows for combined in join.match(r)]
        return rows


class ProjectOperator(Operator):
    """``SELECT STREAM <exprs> FROM s [JOIN table …] [WHERE …]``: one row in, 0..n rows out."""

    def __init__(
        self,
        pump: str,
        outputs: Sequence[Fn],
        where: Fn | None = None,
        join: JoinChain | None = None,
    ) -> None:
        self.pump = pump
        self._outputs = tuple(outputs)
        self._where = where
        self._join = join

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        outputs = self._outputs
        where = self._where
        join = self._join
        out: list[Row] = []
        append = out.append
        for row in rows:
            try:
                if join is None:
                    if where is not None and where(row) is not True:
                        continue
                    append((row[0], *[f(row) for f in outputs]))
                else:
                    for combined in join.match(row):
                        if where is not None and where(combined) is not True:
                            continue
                        append((row[0], *[f(combined) for f in outputs]))
            except RowError as exc:
                ctx.fail(self.pump, exc.name, exc.message, row)
        return out
