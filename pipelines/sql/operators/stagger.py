"""Stagger windows: ``WINDOWED BY STAGGER (PARTITION BY keys RANGE INTERVAL n)``.

A window opens when the first row of a key arrives (at that row's ROWTIME ``t0``) and closes
``n`` later: when a row with ``ROWTIME >= t0 + n`` arrives in the partition, or the partition
goes idle. The result row's ROWTIME is ``t0 + n``; its record key is (application, stream,
``t0``, key). Because ROWTIME is monotonic, windows close in the order they opened. HAVING
filters the results of a window, as in a GROUP BY.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ground.errors import RowError
from pipelines.sql import state_codec as codec
from pipelines.sql.operators.base import Context, KeyedRow, StatefulOperator
from pipelines.sql.operators.tumbling import AggCall, group_result
from pipelines.sql.types import Fn, Row, Timestamp

__all__ = ["StaggerOperator"]


class StaggerOperator(StatefulOperator):
    def __init__(
        self,
        *,
        pump: str,
        application: str,
        stream: str,
        keys: Sequence[Fn],
        range_ms: int,
        aggs: Sequence[AggCall],
        select: Sequence[Fn],
        where: Fn | None,
        having: Fn | None = None,
    ) -> None:
        super().__init__(pump)
        self._key_prefix = f"{application}/{stream}/"
        self._keys = tuple(keys)
        self._range = range_ms
        self._aggs = tuple(aggs)
        self._select = tuple(select)
        self._where = where
        self._having = having
        #: key → [t0, accumulators]; insertion order is close order
        self._open: dict[tuple[Any, ...], list[Any]] = {}

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        out: list[Row] = []
        for row in rows:
            rowtime = int(row[0])
            self._close(rowtime, out, ctx)
            try:
                if self._where is not None and self._where(row) is not True:
                    continue
                key = tuple(f(row) for f in self._keys)
                values = [None if a.arg is None else a.arg(row) for a in self._aggs]
            except RowError as exc:
                ctx.fail(self.pump, exc.name, exc.message, row)
                continue
            entry = self._open.get(key)
            if entry is None:
                entry = self._open[key] = [rowtime, [a.spec.create() for a in self._aggs]]
            for acc, value, agg in zip(entry[1], values, self._aggs, strict=True):
                if agg.arg is None:
                    acc.add(True)
                elif value is not None or agg.spec.sees_nulls:
                    acc.add(value)
            self.store.mark(key)
        return out

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        out: list[Row] = []
        if idle and self._open:
            last = max(entry[0] for entry in self._open.values())
            self._close(last + self._range, out, ctx)
            ctx.close_through(last + self._range)
        return out

    def rowtime_floor(self, floor: int) -> int:
        if not self._open:
            return floor
        first = next(iter(self._open.values()))[0]  # insertion order is close order
        return min(floor, int(first) + self._range)

    def _close(self, rowtime: int, out: list[Row], ctx: Context) -> None:
        while self._open:
            key, (t0, accs) = next(iter(self._open.items()))
            if t0 + self._range > rowtime:
                return
            del self._open[key]
            self.store.delete(key)
            end = Timestamp(t0 + self._range)
            agg_row = (end, *key, *[acc.result() for acc in accs])
            values = group_result(agg_row, self._having, self._select, ctx, self.pump)
            if values is None:
                continue
            record_key = (
                self._key_prefix + str(t0) + "/" + orjson.dumps(codec.tag(list(key))).decode()
            ).encode()
            out.append(KeyedRow((end, *values), record_key))

    def snapshot(self, key: Any) -> Any:
        t0, accs = self._open[key]
        return [t0, [acc.state() for acc in accs]]

    def restore(self, key: Any, value: Any) -> None:
        t0, states = value
        accs = [a.spec.restore(s) for a, s in zip(self._aggs, states, strict=True)]
        self._open[tuple(key)] = [t0, accs]

    def finish_restore(self) -> None:
        self._open = dict(sorted(self._open.items(), key=lambda item: item[1][0]))
