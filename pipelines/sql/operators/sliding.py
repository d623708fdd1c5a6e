"""Sliding windows: ``AGG(x) OVER W`` with ``W AS (PARTITION BY … RANGE INTERVAL … PRECEDING)``
or ``ROWS n PRECEDING``, and the window functions ``LAG``, ``NTH_VALUE``, ``EXP_AVG`` over
``W``. One output row per input row.

Per window definition and partition key the operator keeps the rows of the window (ROWTIME
plus the aggregate arguments) and incremental accumulators: a row is added, rows that fell out
of the range are removed. RANGE includes rows with ``ROWTIME >= current ROWTIME - range``.

State goes to the changelog in chunks: the rows a key gained during one commit epoch are one
changelog entry; an entry is deleted once all of its rows left the window. Restoring
concatenates a key's chunks in epoch order and trims them to the window again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ground.errors import RowError
from pipelines.sql.aggregates import AggregateSpec
from pipelines.sql.operators.base import Context, StatefulOperator
from pipelines.sql.types import Fn, Row
from pipelines.sql.window_functions import WindowFunction

__all__ = ["SlidingOperator", "SlidingWindow", "WindowAgg"]


@dataclass(frozen=True, slots=True)
class WindowAgg:
    """An aggregate over a window (``spec``), or a function of the window's rows
    (``function``: ``LAG``, ``NTH_VALUE``, ``EXP_AVG``, see
    :mod:`pipelines.sql.window_functions`); ``arg`` computes its argument from a row
    (``None``: ``COUNT(*)``)."""

    spec: AggregateSpec | None
    arg: Fn | None
    function: WindowFunction | None = None


@dataclass(frozen=True, slots=True)
class SlidingWindow:
    partition_by: tuple[Fn, ...]
    range_ms: int | None
    rows: int | None
    aggs: tuple[WindowAgg, ...]


class _Partition:
    __slots__ = ("rows", "accs", "chunks")

    def __init__(self, accs: list[Any]) -> None:
        # (rowtime, epoch, values) per row, oldest first
        self.rows: deque[tuple[int, int, tuple[Any, ...]]] = deque()
        self.accs = accs
        self.chunks: dict[int, int] = {}


class SlidingOperator(StatefulOperator):
    def __init__(
        self,
        *,
        pump: str,
        windows: Sequence[SlidingWindow],
        select: Sequence[Fn],
        where: Fn | None,
    ) -> None:
        super().__init__(pump)
        self._windows = tuple(windows)
        self._select = tuple(select)
        self._where = where
        self._parts: list[dict[tuple[Any, ...], _Partition]] = [{} for _ in self._windows]
        self._epoch = 0

    def _new_accs(self, window: SlidingWindow) -> list[Any]:
        return [a.spec.create() if a.spec is not None else None for a in window.aggs]

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        out: list[Row] = []
        epoch = self._epoch
        for row in rows:
            try:
                if self._where is not None and self._where(row) is not True:
                    continue
                results: list[Any] = []
                staged = []
                for w_index, window in enumerate(self._windows):
                    key = tuple(f(row) for f in window.partition_by)
                    values = tuple(True if a.arg is None else a.arg(row) for a in window.aggs)
                    staged.append((w_index, window, key, values))
                for w_index, window, key, values in staged:
                    part = self._parts[w_index].get(key)
                    if part is None:
                        part = self._parts[w_index][key] = _Partition(self._new_accs(window))
                    rowtime = int(row[0])
                    part.rows.append((rowtime, epoch, values))
                    part.chunks[epoch] = part.chunks.get(epoch, 0) + 1
                    _feed(part.accs, window.aggs, values, add=True)
                    self._evict(w_index, window, key, part, rowtime)
                    self.store.mark((w_index, key, epoch))
                    for a_index, agg in enumerate(window.aggs):
                        if agg.function is not None:
                            results.append(agg.function.evaluate(part.rows, a_index, row))
                        else:
                            results.append(part.accs[a_index].result())
                extended = (*row, *results)
                out.append((row[0], *[f(extended) for f in self._select]))
            except RowError as exc:
                ctx.fail(self.pump, exc.name, exc.message, row)
        return out

    def _evict(
        self, w_index: int, window: SlidingWindow, key: tuple[Any, ...], part: _Partition, now: int
    ) -> None:
        rows = part.rows
        while rows and (
            (window.range_ms is not None and rows[0][0] < now - window.range_ms)
            or (window.rows is not None and len(rows) > window.rows + 1)
        ):
            _, epoch, values = rows.popleft()
            _feed(part.accs, window.aggs, values, add=False)
            left = part.chunks[epoch] - 1
            if left:
                part.chunks[epoch] = left
            else:
                del part.chunks[epoch]
                self.store.delete((w_index, key, epoch))

    # -- state --------------------------------------------------------------------------------
    def snapshot(self, key: Any) -> Any:
        w_index, part_key, epoch = key
        part = self._parts[w_index][part_key]
        chunk = []
        for rowtime, e, values in reversed(part.rows):  # this epoch's rows are the tail
            if e != epoch:
                break
            chunk.append([rowtime, list(values)])
        chunk.reverse()
        return chunk

    def end_epoch(self) -> None:
        """The runtime took this epoch's changes: later rows go to a new chunk."""
        self._epoch += 1

    def restore(self, key: Any, value: Any) -> None:
        w_index, part_key, epoch = key
        window = self._windows[w_index]
        part = self._parts[w_index].get(tuple(part_key))
        if part is None:
            part = self._parts[w_index][tuple(part_key)] = _Partition(self._new_accs(window))
        for rowtime, values in value:
            part.rows.append((rowtime, epoch, tuple(values)))
        part.chunks[epoch] = part.chunks.get(epoch, 0) + len(value)
        self._epoch = max(self._epoch, epoch + 1)

    def finish_restore(self) -> None:
        """After all chunks are in: order rows, rebuild accumulators, trim to the window."""
        for w_index, window in enumerate(self._windows):
            for key, part in self._parts[w_index].items():
                ordered = sorted(part.rows, key=lambda r: (r[1], r[0]))
                part.rows = deque(ordered)
                part.accs = self._new_accs(window)
                for _, _, values in ordered:
                    _feed(part.accs, window.aggs, values, add=True)
                if ordered:
                    self._evict(w_index, window, key, part, max(r[0] for r in ordered))


def _feed(
    accs: list[Any], aggs: Sequence[WindowAgg], values: tuple[Any, ...], *, add: bool
) -> None:
    """Add (or remove) one row's values to the window's accumulators; NULLs only to those
    that see them (FIRST_VALUE, LAST_VALUE)."""
    for acc, value, agg in zip(accs, values, aggs, strict=True):
        if acc is None:
            continue
        if value is None and not (agg.spec is not None and agg.spec.sees_nulls):
            continue
        if add:
            acc.add(value)
        else:
            acc.remove(value)
