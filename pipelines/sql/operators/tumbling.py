"""Tumbling windows: ``GROUP BY keys, STEP(t BY INTERVAL …)`` or ``FLOOR(t TO unit)``.

``t`` is ROWTIME (monotonic: a window closes when ROWTIME reaches its end) or an event-time
column (a window closes when the partition's watermark — the largest event time seen minus
the allowed lateness — reaches its end; a row for a window that is already closed is late and
goes to the error stream). Lateness is decided row by row, so results do not depend on how
rows were batched. Each window result is emitted once, when its window closes, as a
:class:`~pipelines.sql.operators.base.KeyedRow` keyed by (application, stream, window start,
group key), so destinations can write it idempotently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from pipelines.sql import state as codec
from pipelines.sql.aggregates import AggregateSpec
from pipelines.sql.operators.base import LATE_ROW, Context, KeyedRow, Row, StateStore
from pipelines.sql.types import Timestamp
from shardline.errors import RowError

__all__ = ["AggCall", "TumblingOperator", "group_accumulators"]

Fn = Callable[[Row], Any]
_NEVER = -(2**62)


@dataclass(frozen=True, slots=True)
class AggCall:
    """One aggregate of a query: ``spec`` over ``arg`` (``None``: COUNT(*))."""

    name: str
    spec: AggregateSpec
    arg: Fn | None


def group_accumulators(aggs: Sequence[AggCall]) -> list[Any]:
    return [a.spec.create() for a in aggs]


class TumblingOperator:
    def __init__(
        self,
        *,
        pump: str,
        application: str,
        stream: str,
        keys: Sequence[Fn],
        window_key: int,
        time_fn: Fn,
        size: int,
        event_time: bool,
        aggs: Sequence[AggCall],
        select: Sequence[Fn],
        having: Fn | None,
        where: Fn | None,
        allowed_lateness_ms: int,
    ) -> None:
        self.pump = pump
        self.store = StateStore(pump)
        self._key_prefix = f"{application}/{stream}/"
        self._keys = tuple(keys)
        self._window_key = window_key
        self._time = time_fn
        self._size = size
        self._event_time = event_time
        self._aggs = tuple(aggs)
        self._args = tuple(a.arg for a in aggs)
        self._select = tuple(select)
        self._having = having
        self._where = where
        self._lateness = allowed_lateness_ms if event_time else 0
        #: window start → group key → accumulators
        self._windows: dict[Any, dict[tuple[Any, ...], list[Any]]] = {}
        self._max_time: Any = _NEVER
        self._watermark: Any = _NEVER
        self._next_close: Any = None

    # -- input --------------------------------------------------------------------------------
    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        out: list[Row] = []
        where = self._where
        keys_fns = self._keys
        args = self._args
        size = self._size
        windows = self._windows
        mark = self.store.mark
        window_key = self._window_key
        time_fn = self._time
        for row in rows:
            try:
                if where is not None and where(row) is not True:
                    continue
                t = time_fn(row)
                if t is None:
                    raise RowError("Null_Window_Time", "the window's time expression is NULL")
                key = tuple(f(row) for f in keys_fns)
                start = key[window_key]
                values = [None if f is None else f(row) for f in args]
            except RowError as exc:
                ctx.fail(self.pump, exc.name, exc.message, row)
                continue
            if start + size <= self._watermark:
                ctx.fail(
                    self.pump,
                    LATE_ROW,
                    f"window starting {_show(start)} closed at watermark {_show(self._watermark)}",
                    row,
                )
                continue
            groups = windows.get(start)
            if groups is None:
                groups = windows[start] = {}
                if self._next_close is None or start + size < self._next_close:
                    self._next_close = start + size
            accs = groups.get(key)
            if accs is None:
                accs = groups[key] = [a.spec.create() for a in self._aggs]
            for acc, value, fn in zip(accs, values, args, strict=True):
                if fn is None:
                    acc.add(True)
                elif value is not None:
                    acc.add(value)
            mark(("g", start, key))
            if self._event_time:
                if t > self._max_time:
                    self._max_time = t
                    self._advance_to(t - self._lateness, row[0], ctx, out)
            else:
                self._advance_to(t, row[0], ctx, out)
        return out

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        out: list[Row] = []
        if idle and self._windows:
            last_end = max(self._windows) + self._size
            self._advance_to(last_end, ctx.rowtime, ctx, out)
        return out

    # -- closing ------------------------------------------------------------------------------
    def _advance_to(self, watermark: Any, rowtime: int, ctx: Context, out: list[Row]) -> None:
        if watermark <= self._watermark:
            return
        self._watermark = watermark
        self.store.mark(("m",))
        if self._next_close is None or watermark < self._next_close:
            return
        size = self._size
        for start in sorted(s for s in self._windows if s + size <= watermark):
            self._emit(start, self._windows.pop(start), rowtime, ctx, out)
        self._next_close = min(self._windows) + size if self._windows else None

    def _emit(
        self,
        start: Any,
        groups: dict[tuple[Any, ...], list[Any]],
        rowtime: int,
        ctx: Context,
        out: list[Row],
    ) -> None:
        end = start + self._size
        out_rowtime = Timestamp(rowtime if self._event_time else end)
        for key, accs in groups.items():
            self.store.delete(("g", start, key))
            agg_row = (out_rowtime, *key, *[acc.result() for acc in accs])
            try:
                if self._having is not None and self._having(agg_row) is not True:
                    continue
                values = [f(agg_row) for f in self._select]
            except RowError as exc:
                ctx.fail(self.pump, exc.name, exc.message, agg_row)
                continue
            group = [v for i, v in enumerate(key) if i != self._window_key]
            record_key = (
                self._key_prefix + str(int(start)) + "/" + orjson.dumps(codec.tag(group)).decode()
            ).encode()
            out.append(KeyedRow((out_rowtime, *values), record_key))

    # -- state --------------------------------------------------------------------------------
    def snapshot(self, key: Any) -> Any:
        if key[0] == "m":
            return [self._max_time, self._watermark]
        _, start, group = key
        return [acc.state() for acc in self._windows[start][group]]

    def restore(self, key: Any, value: Any) -> None:
        if key[0] == "m":
            self._max_time, self._watermark = value
            return
        _, start, group = key
        accs = [a.spec.restore(s) for a, s in zip(self._aggs, value, strict=True)]
        self._windows.setdefault(start, {})[tuple(group)] = accs
        end = start + self._size
        if self._next_close is None or end < self._next_close:
            self._next_close = end


def _show(value: Any) -> str:
    if isinstance(value, Timestamp):
        return value.text()
    if value == _NEVER:
        return "-inf"
    return str(value)
