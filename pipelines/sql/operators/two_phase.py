"""Windowed aggregations in two phases, around a repartition.

When the groups of a tumbling window span input partitions (``GROUP BY sector`` on a topic
keyed by ticker, a window without group key, ``TOP_K_ITEMS_TUMBLING`` over the whole stream),
each input partition aggregates its own rows (the *partial* operator, phase one) and the
stage behind the repartition merges what the partitions send (the *final* operator, phase
two). Only the partial aggregates cross the repartition — one per window, group and input
partition — so the work that grows with the records scales with the partitions.

* :class:`TumblingPartial` is a :class:`~.tumbling.TumblingOperator` in everything but what
  a closing window gives: ``(ROWTIME, window start, group key, accumulator snapshots)``
  instead of result rows. Its windows close, and its rows are late, exactly as without a
  repartition (the same watermark per input partition), so ``Late_Row`` errors are decided
  where they always were. Its :meth:`~TumblingPartial.frontier` says up to where it has
  closed (and sent) its windows. When no row reaches it for the idle timeout (its channel is
  quiet), it sends the partials of its open windows without closing them
  (:meth:`~TumblingPartial.flush`).
* :class:`TumblingFinal` merges the snapshots (:func:`pipelines.sql.merging.merge_into`) and
  closes a window once the *stage frontier* — the minimum of the upstream partitions'
  frontiers, ``Context.frontiers`` (:mod:`pipelines.sql.shuffle`) — reaches its end; its
  results (HAVING, the SELECT list, record keys) are a tumbling window's.
* :class:`ItemsPartial` and :class:`ItemsFinal` do the same for ``TOP_K_ITEMS_TUMBLING`` and
  ``COUNT_DISTINCT_ITEMS_TUMBLING`` with the sketches' ``merge``.

A partial can reach the final after its window closed only when its partition had been idle
(the others' frontier moved on without it) and came back behind them. On ROWTIME its rows
entered the stage's stream when they arrived: the partial is merged into the first window
still open, as its rows would have been in KDA (where ROWTIME is the time a row entered the
stream), so a ROWTIME window never loses rows to idleness. On an event-time column it is a
``Late_Row`` error there, carrying the group and the partial's aggregates.
"""

from __future__ import annotations

from typing import Any

from pipelines.sql.merging import merge_into
from pipelines.sql.operators.base import LATE_ROW, NEVER, Context, show_time
from pipelines.sql.operators.topk import ItemsTumblingOperator
from pipelines.sql.operators.tumbling import TumblingOperator
from pipelines.sql.sketches import CountDistinctItems, TopKItems
from pipelines.sql.types import Row, Timestamp

__all__ = ["ItemsFinal", "ItemsPartial", "TumblingFinal", "TumblingPartial"]


class TumblingPartial(TumblingOperator):
    """Phase one of a tumbling window (see the module): per input partition."""

    def _emit(
        self,
        start: Any,
        groups: dict[tuple[Any, ...], list[Any]],
        rowtime: int,
        ctx: Context,
        out: list[Row],
    ) -> None:
        stamp = Timestamp(rowtime)
        for key, accs in groups.items():
            self.store.delete(("g", start, key))
            out.append((stamp, start, key, [acc.state() for acc in accs]))

    def frontier(self) -> int:
        """Every window that ends at or before this time is closed and was emitted."""
        return int(self._watermark)

    def flush(self, ctx: Context) -> list[Row]:
        """The partials of the open windows, which stay open (their watermark, and so the
        late rows, as before): a row that comes later makes a new partial of its window,
        which the final merges with this one (or, if the window closed there meanwhile,
        reports as late)."""
        out: list[Row] = []
        for start in sorted(self._windows):
            self._emit(start, self._windows.pop(start), ctx.rowtime, ctx, out)
        self._next_close = None
        return out

    def settle(self, floor: int, ctx: Context) -> list[Row]:
        """A ROWTIME window is complete once its stream's ROWTIME passed its end — also when
        the rows that moved it on were filtered out before (or by) this pump."""
        out: list[Row] = []
        if not self._event_time and floor > self._watermark:
            self._advance_to(floor, floor, ctx, out)
        return out


class TumblingFinal(TumblingOperator):
    """Phase two of a tumbling window (see the module): its input rows are the partials of
    :class:`TumblingPartial`."""

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        size = self._size
        specs = self._specs
        for row in rows:
            _rowtime, start, key, states = row
            if start + size <= self._watermark and not self._event_time:
                # its partition had been idle and came back behind the others: its rows
                # entered the stage's stream now, in the first window still open
                start = _open_start(self._watermark, size, start)
                key = (*key[: self._window_key], start, *key[self._window_key + 1 :])
            if start + size <= self._watermark:
                results = [s.restore(v).result() for s, v in zip(specs, states, strict=True)]
                ctx.fail(
                    self.pump,
                    LATE_ROW,
                    f"partial aggregate of window starting {show_time(start)} arrived after the "
                    f"window closed at {show_time(self._watermark)} (its partition had been idle)",
                    (row[0], *key, *results),
                )
                continue
            groups = self._windows.get(start)
            if groups is None:
                groups = self._windows[start] = {}
                if self._next_close is None or start + size < self._next_close:
                    self._next_close = start + size
            incoming = [spec.restore(state) for spec, state in zip(specs, states, strict=True)]
            accs = groups.get(key)
            if accs is None:
                groups[key] = incoming
            else:
                for acc, other in zip(accs, incoming, strict=True):
                    merge_into(acc, other)
            self.store.mark(("g", start, key))
        return []

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        out: list[Row] = []
        frontier = ctx.frontiers.get(self.pump)
        if frontier is not None and frontier > self._watermark:
            self._advance_to(frontier, ctx.rowtime, ctx, out)
        return out

    def rowtime_floor(self, floor: int) -> int:
        if self._event_time:
            return floor  # results take the stage's ROWTIME when they close
        # results take their window's end: one still open, or one not seen yet, which ends
        # after the frontier
        ends = [int(self._watermark)]
        if self._windows:
            ends.append(int(min(self._windows)) + self._size)
        return min(ends)


class ItemsPartial(ItemsTumblingOperator):
    """Phase one of ``TOP_K_ITEMS_TUMBLING`` / ``COUNT_DISTINCT_ITEMS_TUMBLING``: emits
    ``(window end, window start, (), sketch snapshot)`` when a window closes (a partial's
    form, with no group key)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._frontier = NEVER

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        out = super().process(rows, ctx)
        if rows:
            self._frontier = max(self._frontier, int(rows[-1][0]))
        return out

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        out: list[Row] = []
        if idle and self._windows:
            end = max(self._windows) + self._size
            self._close(end, out, ctx)
            self._frontier = max(self._frontier, end)
            ctx.close_through(end)
        return out

    def settle(self, floor: int, ctx: Context) -> list[Row]:
        out: list[Row] = []
        if floor > self._frontier:
            self._close(floor, out, ctx)
            self._frontier = floor
        return out

    def frontier(self) -> int:
        """Every window that ends at or before this time is closed and was emitted."""
        return self._frontier

    def _close(self, rowtime: int, out: list[Row], ctx: Context) -> None:
        for start in sorted(s for s in self._windows if s + self._size <= rowtime):
            sketch = self._windows.pop(start)
            self.store.delete(start)
            out.append((Timestamp(start + self._size), start, (), sketch.state()))


class ItemsFinal(ItemsTumblingOperator):
    """Phase two: merges the partitions' sketches of a window and gives its result rows
    once the stage frontier passed its end."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._frontier = NEVER

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        klass: Any = TopKItems if self._k else CountDistinctItems
        for row in rows:
            end, start, _key, state = row
            start = int(start)
            if start + self._size <= self._frontier:
                # its partition had been idle and came back behind the others (see
                # TumblingFinal): the first window still open
                start = int(_open_start(self._frontier, self._size, start))
            if start + self._size <= self._frontier:
                ctx.fail(
                    self.pump,
                    LATE_ROW,
                    f"partial sketch of window starting {start} arrived after the window "
                    "closed (its partition had been idle)",
                    (end, start),
                )
                continue
            incoming = klass.restore(state)
            sketch = self._windows.get(start)
            if sketch is None:
                self._windows[start] = incoming
            else:
                sketch.merge(incoming)
            self.store.mark(start)
        return []

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        out: list[Row] = []
        frontier = ctx.frontiers.get(self.pump)
        if frontier is not None and frontier > self._frontier:
            self._frontier = frontier
            self.store.mark("m")
            super()._close(frontier, out, ctx)
        return out

    def rowtime_floor(self, floor: int) -> int:
        ends = [self._frontier]
        if self._windows:
            ends.append(min(self._windows) + self._size)
        return min(ends)

    def snapshot(self, key: Any) -> Any:
        if key == "m":
            return self._frontier
        return super().snapshot(key)

    def restore(self, key: Any, value: Any) -> None:
        if key == "m":
            self._frontier = int(value)
            return
        super().restore(key, value)


def _open_start(watermark: Any, size: int, like: Any) -> Any:
    """The start of the first window that ends after ``watermark`` (of ``like``'s type)."""
    start = int(watermark) - int(watermark) % size
    return Timestamp(start) if isinstance(like, Timestamp) else start
