"""Event-time tumbling windows whose rows cross a repartition: late rows decided as without it.

A tumbling window whose aggregates do not merge (``FIRST_VALUE``, ``LAST_VALUE``, a calendar
window) gets the rows across a repartition, not partial aggregates
(:mod:`pipelines.sql.stages`). Without the repartition, an event-time row is late when its
window ended at or before its input partition's watermark: the largest event time of the
rows before it *in that partition*, minus the allowed lateness. Behind the repartition the
rows of many partitions are merged, so the window there cannot tell. The work is split:

* :class:`TumblingGate`, in each input partition before the repartition, keeps that
  partition's watermark exactly as the window would (the same rows move it, an idle
  partition closes its open windows), sends a ``Late_Row`` error for each late row — with
  its input partition and offset — and passes the others on. Its :meth:`~TumblingGate.frontier`
  is its watermark: every row it passes later is for a window that ends after it. The
  markers of its partition carry it (:mod:`pipelines.sql.shuffle`).
* :class:`TumblingBehind` is the window behind the repartition. Its rows do not move its
  watermark: it closes a window once the *stage frontier* — the minimum of the upstream
  partitions' frontiers, each taking effect only after the rows its partition sent before
  it were handed over (``Context.frontiers``) — reaches the window's end. So every row a gate
  passed finds its window open; a row is late there only when its partition had been idle,
  left out of the stage's time, and came back behind the others (as a partial aggregate is
  in :mod:`.two_phase`).
"""

from __future__ import annotations

from typing import Any

from ground.errors import RowError
from pipelines.sql.operators.base import LATE_ROW, NEVER, Context, show_time
from pipelines.sql.operators.tumbling import TumblingOperator
from pipelines.sql.types import Row

__all__ = ["TumblingBehind", "TumblingGate"]


class TumblingGate(TumblingOperator):
    """The watermark and late rows of an event-time tumbling window, per input partition,
    in front of a repartition (see the module). Its output is its input without the rows
    the window would fail (late, a NULL time, an error in a key or an aggregate's argument)
    or skip (``WHERE``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: the end of the latest window a passed row is in (an idle close reaches it)
        self._open_end: Any = NEVER

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        out: list[Row] = []
        pump, where, time_fn = self.pump, self._where, self._time
        keys, args, window_key, end_of = self._keys, self._args, self._window_key, self._end
        lateness = self._lateness
        for row in rows:
            try:
                if where is not None and where(row) is not True:
                    continue
                t = time_fn(row)
                if t is None:
                    raise RowError("Null_Window_Time", "the window's time expression is NULL")
                start = [f(row) for f in keys][window_key]
                for f in args:
                    if f is not None:
                        f(row)
            except RowError as exc:
                ctx.fail(pump, exc.name, exc.message, row)
                continue
            end = end_of(start)
            if end <= self._watermark:
                ctx.fail(
                    pump,
                    LATE_ROW,
                    f"window starting {show_time(start)} closed at watermark "
                    f"{show_time(self._watermark)}",
                    row,
                )
                continue
            out.append(row)
            if end > self._open_end:
                self._open_end = end
                self.store.mark(("m",))
            if t > self._max_time:
                self._max_time = t
                self.store.mark(("m",))
                if t - lateness > self._watermark:
                    self._watermark = t - lateness
        return out

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        # an idle partition closes every open window (TumblingOperator.advance)
        if idle and self._open_end > self._watermark:
            self._watermark = self._open_end
            self.store.mark(("m",))
        return []

    def frontier(self) -> int:
        """Every row this gate passes from now on is for a window that ends after this."""
        return int(self._watermark)

    def snapshot(self, key: Any) -> Any:
        return [self._max_time, self._watermark, self._open_end]

    def restore(self, key: Any, value: Any) -> None:
        self._max_time, self._watermark, self._open_end = value


class TumblingBehind(TumblingOperator):
    """The event-time tumbling window behind a repartition whose rows passed a
    :class:`TumblingGate` (see the module): windows close on the stage frontier."""

    rows_close = False

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        out: list[Row] = []
        frontier = ctx.frontiers.get(self.pump)
        if frontier is not None and frontier > self._watermark:
            self._advance_to(frontier, ctx.rowtime, ctx, out)
        return out
