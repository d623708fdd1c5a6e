"""Stream-to-stream join: ``FROM L JOIN R OVER (RANGE INTERVAL … PRECEDING) ON …``.

As in KDA, only the current row of the side without a window takes part: each left row at
ROWTIME ``t`` joins the right rows with ``t - range <= ROWTIME <= t``. Both sides are
in-application streams of the same input partition, so their ROWTIMEs share one clock.

A left row is matched only once no right row with its ROWTIME can still arrive — when the
partition's ROWTIME has moved past it, or the partition is idle — so results do not depend on
how rows were batched. The right side's rows are kept for the range (changelog chunks per
commit epoch, as in sliding windows); left rows waiting for their ROWTIME to pass are state
too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from ground.errors import RowError
from pipelines.sql.operators.base import Context, StatefulOperator, TwoInputOperator
from pipelines.sql.types import Fn, Row

__all__ = ["StreamJoinOperator"]



class StreamJoinOperator(TwoInputOperator, StatefulOperator):
    def __init__(
        self,
        *,
        pump: str,
        range_ms: int,
        left_keys: Sequence[Fn],
        right_keys: Sequence[Fn],
        residual: Fn | None,
        outer: bool,
        right_width: int,
        select: Sequence[Fn],
        where: Fn | None,
    ) -> None:
        super().__init__(pump)
        self._range = range_ms
        self._left_keys = tuple(left_keys)
        self._right_keys = tuple(right_keys)
        self._residual = residual
        self._outer = outer
        self._right_width = right_width
        self._select = tuple(select)
        self._where = where
        # right rows: (rowtime, epoch, key, row), oldest first
        self._buffer: deque[tuple[int, int, tuple[Any, ...], Row]] = deque()
        self._chunks: dict[int, int] = {}
        self._pending: list[Row] = []
        self._max_rowtime = -(2**62)
        self._epoch = 0

    def process_pair(self, left: list[Row], right: list[Row], ctx: Context) -> list[Row]:
        out: list[Row] = []
        for row in right:
            try:
                key = tuple(f(row) for f in self._right_keys)
            except RowError as exc:
                ctx.fail(self.pump, exc.name, exc.message, row)
                continue
            rowtime = int(row[0])
            self._buffer.append((rowtime, self._epoch, key, row))
            self._chunks[self._epoch] = self._chunks.get(self._epoch, 0) + 1
            self.store.mark(("b", self._epoch))
            self._max_rowtime = max(self._max_rowtime, rowtime)
        if left:
            self._pending.extend(left)
            self._max_rowtime = max(self._max_rowtime, max(int(r[0]) for r in left))
            self.store.mark(("p",))
        self._max_rowtime = max(self._max_rowtime, ctx.rowtime)
        self._release(lambda t: t < self._max_rowtime, ctx, out)
        return out

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        out: list[Row] = []
        if idle:
            self._release(lambda t: True, ctx, out)
        return out

    def rowtime_floor(self, floor: int) -> int:
        # a result has the ROWTIME of its left row; left rows wait for their ROWTIME to pass
        return min([floor, *(int(r[0]) for r in self._pending)])

    def _release(self, ready: Callable[[int], bool], ctx: Context, out: list[Row]) -> None:
        keep: list[Row] = []
        for row in self._pending:
            if ready(int(row[0])):
                self._match(row, ctx, out)
            else:
                keep.append(row)
        if len(keep) != len(self._pending):
            self._pending = keep
            self.store.mark(("p",))
        horizon = min([int(r[0]) for r in keep] or [self._max_rowtime]) - self._range
        while self._buffer and self._buffer[0][0] < horizon:
            _, epoch, _, _ = self._buffer.popleft()
            left = self._chunks[epoch] - 1
            if left:
                self._chunks[epoch] = left
            else:
                del self._chunks[epoch]
                self.store.delete(("b", epoch))

    def _match(self, row: Row, ctx: Context, out: list[Row]) -> None:
        try:
            key = tuple(f(row) for f in self._left_keys)
            t = int(row[0])
            matched = False
            if None not in key:
                for rowtime, _, right_key, right_row in self._buffer:
                    if rowtime > t:
                        break
                    if rowtime < t - self._range or right_key != key:
                        continue
                    combined = row + right_row
                    if self._residual is not None and self._residual(combined) is not True:
                        continue
                    matched = True
                    self._emit(row, combined, out)
            if not matched and self._outer:
                self._emit(row, row + (None,) * self._right_width, out)
        except RowError as exc:
            ctx.fail(self.pump, exc.name, exc.message, row)

    def _emit(self, row: Row, combined: Row, out: list[Row]) -> None:
        if self._where is not None and self._where(combined) is not True:
            return
        out.append((row[0], *[f(combined) for f in self._select]))

    # -- state --------------------------------------------------------------------------------
    def snapshot(self, key: Any) -> Any:
        if key[0] == "p":
            return [self._max_rowtime, [list(r) for r in self._pending]]
        epoch = key[1]
        chunk = []
        for _rowtime, e, _, row in reversed(self._buffer):
            if e != epoch:
                break
            chunk.append(list(row))
        chunk.reverse()
        return chunk

    def end_epoch(self) -> None:
        self._epoch += 1

    def restore(self, key: Any, value: Any) -> None:
        if key[0] == "p":
            self._max_rowtime, pending = value
            self._pending = [tuple(r) for r in pending]
            return
        epoch = int(key[1])
        for values in value:
            row = tuple(values)
            self._buffer.append((int(row[0]), epoch, tuple(f(row) for f in self._right_keys), row))
        self._chunks[epoch] = self._chunks.get(epoch, 0) + len(value)
        self._epoch = max(self._epoch, epoch + 1)

    def finish_restore(self) -> None:
        self._buffer = deque(sorted(self._buffer, key=lambda entry: (entry[1], entry[0])))
