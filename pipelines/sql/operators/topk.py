"""``TOP_K_ITEMS_TUMBLING`` and ``COUNT_DISTINCT_ITEMS_TUMBLING`` over ``CURSOR(SELECT STREAM …)``.

Tumbling windows of ``windowSeconds`` on ROWTIME. At a window's close the operator emits its
result rows — K rows ``(ITEM, ITEM_COUNT)`` in descending count, or one row
``(NUMBER_OF_DISTINCT_ITEMS)`` — with ROWTIME = window end and record keys
(application, stream, window start, rank).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ground.errors import RowError
from pipelines.sql.operators.base import Context, KeyedRow, StatefulOperator
from pipelines.sql.sketches import CountDistinctItems, TopKItems
from pipelines.sql.types import Fn, Row, Timestamp

__all__ = ["ItemsTumblingOperator"]


class ItemsTumblingOperator(StatefulOperator):
    def __init__(
        self,
        *,
        pump: str,
        application: str,
        stream: str,
        item: Fn,
        where: Fn | None,
        size: int,
        k: int,
        select: Sequence[Fn],
        having: Fn | None,
    ) -> None:
        super().__init__(pump)
        self._key_prefix = f"{application}/{stream}/"
        self._item = item
        self._where = where
        self._size = size
        self._k = k
        self._select = tuple(select)
        self._having = having
        self._windows: dict[int, Any] = {}

    def _new(self) -> Any:
        return TopKItems(self._k) if self._k else CountDistinctItems()

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        out: list[Row] = []
        size = self._size
        for row in rows:
            rowtime = int(row[0])
            self._close(rowtime, out, ctx)
            try:
                if self._where is not None and self._where(row) is not True:
                    continue
                value = self._item(row)
            except RowError as exc:
                ctx.fail(self.pump, exc.name, exc.message, row)
                continue
            start = rowtime - rowtime % size
            sketch = self._windows.get(start)
            if sketch is None:
                sketch = self._windows[start] = self._new()
            if value is not None:
                sketch.add(value)
            self.store.mark(start)
        return out

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        out: list[Row] = []
        if idle and self._windows:
            end = max(self._windows) + self._size
            self._close(end, out, ctx)
            ctx.close_through(end)
        return out

    def rowtime_floor(self, floor: int) -> int:
        return min(floor, min(self._windows) + self._size) if self._windows else floor

    def _close(self, rowtime: int, out: list[Row], ctx: Context) -> None:
        for start in sorted(s for s in self._windows if s + self._size <= rowtime):
            sketch = self._windows.pop(start)
            self.store.delete(start)
            end = Timestamp(start + self._size)
            results = sketch.result()
            result_rows = (
                [(end, item, count) for item, count in results] if self._k else [(end, results)]
            )
            for rank, result in enumerate(result_rows):
                try:
                    if self._having is not None and self._having(result) is not True:
                        continue
                    values = [f(result) for f in self._select]
                except RowError as exc:
                    ctx.fail(self.pump, exc.name, exc.message, result)
                    continue
                key = f"{self._key_prefix}{start}/{rank}".encode()
                out.append(KeyedRow((end, *values), key))

    def snapshot(self, key: Any) -> Any:
        return self._windows[key].state()

    def restore(self, key: Any, value: Any) -> None:
        klass = TopKItems if self._k else CountDistinctItems
        self._windows[int(key)] = klass.restore(value)
