"""Functions evaluated over the rows of a sliding window: ``LAG``, ``NTH_VALUE``, ``EXP_AVG``.

Unlike the aggregates of :mod:`pipelines.sql.aggregates`, these depend on the order of the rows
(and ``EXP_AVG`` on their times), so the sliding operator evaluates them over its window rows
directly: ``evaluate(rows, index, row)`` gets the window's rows oldest first, each
``(rowtime, epoch, values)`` with the current row last, the position of this function's
argument in ``values``, and the current row (for ``LAG``'s default expression).

Semantics, with the KDA reference page each follows:

* ``LAG(expr [, N [, default]]) [IGNORE NULLS | RESPECT NULLS]`` (sql-reference-lag.html): the
  value N rows (default 1) before the current row within the window; ``default`` (evaluated on
  the current row, NULL when absent) when there is no such row — never in place of a NULL
  value that is there. IGNORE NULLS does not count rows whose value is NULL.
* ``NTH_VALUE(x, n) [FROM FIRST | FROM LAST] [RESPECT NULLS | IGNORE NULLS]``
  (sql-reference-nth-value.html): the n-th value from the oldest (default) or the newest row
  of the window, skipping NULLs with IGNORE NULLS; NULL when the window has fewer rows.
* ``EXP_AVG(x, half_life)`` (sql-reference-exp-avg.html): the window is divided into
  intervals of ``half_life`` counted back from the current row's ROWTIME; a value in the k-th
  interval (k = 0 for the newest) weighs ``2^-k`` — the page's example: with a 10-second
  interval, prices of the last 10 seconds weigh twice those of the 10 seconds before and four
  times those of the oldest 10. NULLs are ignored; NULL when no value is left. DOUBLE.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ground.errors import RowError
from pipelines.sql.types import COERCION_ERROR

__all__ = ["ExpAvg", "Lag", "NthValue", "WindowFunction", "WindowRows"]

Row = tuple[Any, ...]
#: A window's rows, oldest first: (rowtime, epoch, argument values); the current row is last.
WindowRows = Sequence[tuple[int, int, tuple[Any, ...]]]


class WindowFunction(Protocol):
    def evaluate(self, rows: WindowRows, index: int, row: Row) -> Any: ...


@dataclass(frozen=True, slots=True)
class Lag:
    offset: int = 1
    ignore_nulls: bool = False
    default: Callable[[Row], Any] | None = None

    def evaluate(self, rows: WindowRows, index: int, row: Row) -> Any:
        if not self.ignore_nulls:
            position = len(rows) - 1 - self.offset
            if position >= 0:
                return rows[position][2][index]
        else:
            wanted = self.offset
            for position in range(len(rows) - 2, -1, -1):
                value = rows[position][2][index]
                if value is not None:
                    wanted -= 1
                    if wanted == 0:
                        return value
        return None if self.default is None else self.default(row)


@dataclass(frozen=True, slots=True)
class NthValue:
    n: int
    from_last: bool = False
    ignore_nulls: bool = False

    def evaluate(self, rows: WindowRows, index: int, row: Row) -> Any:
        count = 0
        positions = range(len(rows) - 1, -1, -1) if self.from_last else range(len(rows))
        for position in positions:
            value = rows[position][2][index]
            if value is None and self.ignore_nulls:
                continue
            count += 1
            if count == self.n:
                return value
        return None


@dataclass(frozen=True, slots=True)
class ExpAvg:
    half_life_ms: int

    def evaluate(self, rows: WindowRows, index: int, row: Row) -> Any:
        if not rows:
            return None
        now = rows[-1][0]
        half_life = self.half_life_ms
        weighted = 0.0
        total = 0.0
        for rowtime, _, values in rows:
            value = values[index]
            if value is None:
                continue
            if type(value) is bool or type(value) is str or type(value) is bytes:
                raise RowError(COERCION_ERROR, f"EXP_AVG needs a number, got {value!r}")
            weight = 0.5 ** ((now - rowtime) // half_life)
            weighted += weight * float(value)
            total += weight
        return None if total == 0.0 else weighted / total
