"""The ``CURSOR(SELECT STREAM … FROM s [WHERE …])`` argument of KDA's machine-learning table
functions, and the query over their result (shared by ``RANDOM_CUT_FOREST[_WITH_EXPLANATION]``
and ``HOTSPOTS``).

A source row (ROWTIME first) passes the cursor's ``WHERE``, becomes the cursor's columns, and
its numeric columns become the model's point. The function appends its own columns
(``ANOMALY_SCORE``…) to the cursor's; the pump's outer ``WHERE`` and ``SELECT`` read that
result row ``(ROWTIME, *cursor columns, *function columns)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ground.errors import RowError
from pipelines.sql.functions import INVALID_ARGUMENT
from pipelines.sql.operators.base import Context
from pipelines.sql.types import Fn, Row

__all__ = ["Cursor", "ResultQuery"]


@dataclass(frozen=True, slots=True)
class Cursor:
    """The cursor's filter and columns; ``numeric`` indexes the columns the model reads."""

    function: str
    where: Fn | None
    columns: tuple[Fn, ...]
    names: tuple[str, ...]
    numeric: tuple[int, ...]
    #: ``row -> the columns' values`` in one call, when every column is a column of the
    #: stream read as it is (``CURSOR(SELECT STREAM * …)``)
    getter: Callable[[Row], tuple[Any, ...]] | None = None

    def values(self, row: Row) -> tuple[Any, ...] | None:
        """The cursor's columns for ``row``, or ``None`` when its ``WHERE`` drops the row."""
        if self.where is not None and self.where(row) is not True:
            return None
        if self.getter is not None:
            return self.getter(row)
        return tuple([f(row) for f in self.columns])

    def point(self, values: Sequence[Any]) -> list[float]:
        """The numeric columns as floats; a NULL or non-finite value fails the row."""
        point = []
        for index in self.numeric:
            value = values[index]
            if value is None:
                raise RowError(
                    INVALID_ARGUMENT, f"{self.function}: column {self.names[index]} is NULL"
                )
            number = float(value)
            if not math.isfinite(number):
                raise RowError(
                    INVALID_ARGUMENT,
                    f"{self.function}: column {self.names[index]} is {number!r}",
                )
            point.append(number)
        return point


@dataclass(frozen=True, slots=True)
class ResultQuery:
    """The pump's ``WHERE`` and ``SELECT`` over the function's result rows."""

    pump: str
    where: Fn | None
    select: tuple[Fn, ...]

    def emit_many(self, results: Sequence[Row], out: list[Row], ctx: Context) -> None:
        """:meth:`emit` of each result row, in order."""
        where, select = self.where, self.select
        append = out.append
        for result in results:
            try:
                if where is not None and where(result) is not True:
                    continue
                append((result[0], *[f(result) for f in select]))
            except RowError as exc:
                ctx.fail(self.pump, exc.name, exc.message, result)

    def emit(self, result: Row, out: list[Row], ctx: Context) -> None:
        try:
            if self.where is not None and self.where(result) is not True:
                return
            out.append((result[0], *[f(result) for f in self.select]))
        except RowError as exc:
            ctx.fail(self.pump, exc.name, exc.message, result)
