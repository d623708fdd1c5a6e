"""Stream-to-stream join: ``FROM L [OVER (…)] JOIN R [OVER (…)] ON …`` (KDA's JOIN clause).

A window on a side says which of its rows the current row of the other side meets: ``RANGE``
a time before or after it, ``ROWS`` a count of rows (see :mod:`.join_windows`); windows on
both sides join what either admits. As in KDA:

- the ROWTIME of a result is the later of the two ROWTIMEs;
- a LEFT (or FULL) JOIN's left row without a match comes out, with NULLs on the right, once
  no right row can match it any more, with the ROWTIME of the later bound of the window it
  could have met one in (``l + x`` for ``RANGE x FOLLOWING`` on the right, the ROWTIME of
  the n-th right row from ``l`` on for ``ROWS n FOLLOWING``, ``l`` for a PRECEDING one); a
  RIGHT (or FULL) JOIN's right row without a match likewise, with NULLs on the left;
- a CROSS JOIN is a join without keys: every pair the windows admit;
- results come out in ROWTIME order.

When the partition goes idle every buffered row is joined and emitted (an outer join's
unmatched rows early: one whose ROWS window is still short of rows at the partition's
ROWTIME), and the partition's ROWTIME moves past them
(:meth:`~pipelines.sql.engine.PartitionEngine.advance`): a row that arrives afterwards
takes a later ROWTIME. A row that still comes in with a ROWTIME not after those (state
restored from an older layout) is late: it goes to the error stream as ``Late_Row``.

Both sides are in-application streams of the same input partition, so their ROWTIMEs share
one clock. A result at time ``t`` is emitted once the partition's ROWTIME has passed ``t``
(or the partition is idle): no row of either side with a ROWTIME up to ``t`` can still
arrive, so results do not depend on how rows were batched. Results of the same ROWTIME come
in the order of their left rows, then of their right rows.

State: the rows of each side that can still meet a row of the other or that a ROWS window
counts (changelog chunks per commit epoch, as in sliding windows), whether each has met
one, and the time up to which results were emitted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from ground.errors import RowError
from pipelines.sql.operators.base import (
    LATE_ROW,
    NEVER,
    Context,
    StatefulOperator,
    TwoInputOperator,
)
from pipelines.sql.operators.join_windows import (
    JoinWindow,
    droppable,
    kept_deadline,
    window_pairs,
)
from pipelines.sql.types import Fn, Row, Timestamp

__all__ = ["StreamJoinOperator"]

_END = 2**62

#: (result ROWTIME, left seq, right seq, left row or None, right row or None)
_Result = tuple[int, int, int, Row | None, Row | None]


class _Side:
    """The buffered rows of one side: ``[rowtime, seq, epoch, key, row, matched]``, in
    ROWTIME order (then arrival), and how many rows each commit epoch added."""

    __slots__ = ("rows", "chunks", "seq", "tag")

    def __init__(self, tag: str) -> None:
        self.rows: deque[list[Any]] = deque()
        self.chunks: dict[int, int] = {}
        self.seq = 0
        self.tag = tag

    def append(self, entry: list[Any]) -> None:
        rows = self.rows
        if not rows or rows[-1][0] <= entry[0]:
            rows.append(entry)
            return
        # a row before the side's last one (not before what was emitted): in its place
        at = len(rows)
        while at and rows[at - 1][0] > entry[0]:
            at -= 1
        rows.insert(at, entry)


class StreamJoinOperator(TwoInputOperator, StatefulOperator):
    def __init__(
        self,
        *,
        pump: str,
        left_window: JoinWindow | None,
        right_window: JoinWindow | None,
        left_keys: Sequence[Fn],
        right_keys: Sequence[Fn],
        residual: Fn | None,
        left_outer: bool,
        right_outer: bool,
        left_width: int,
        right_width: int,
        select: Sequence[Fn],
        where: Fn | None,
    ) -> None:
        super().__init__(pump)
        if left_window is None and right_window is None:
            raise ValueError("a stream join has a window on one side at least")
        self._left_window = left_window
        self._right_window = right_window
        self._left_keys = tuple(left_keys)
        self._right_keys = tuple(right_keys)
        self._residual = residual
        self._left_outer = left_outer
        self._right_outer = right_outer
        self._left_width = left_width
        self._right_width = right_width
        self._select = tuple(select)
        self._where = where
        self._left = _Side("l")
        self._right = _Side("r")
        #: every result with a ROWTIME before this was emitted
        self._done = NEVER
        self._max_rowtime = NEVER
        self._epoch = 0

    # -- input --------------------------------------------------------------------------------
    def process_pair(self, left: list[Row], right: list[Row], ctx: Context) -> list[Row]:
        self._add(self._left, self._left_keys, left, ctx)
        self._add(self._right, self._right_keys, right, ctx)
        self._max_rowtime = max(self._max_rowtime, ctx.rowtime)
        out: list[Row] = []
        self._release(self._max_rowtime, ctx, out)
        return out

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        out: list[Row] = []
        if idle and (self._left.rows or self._right.rows):
            self._release(_END, ctx, out)
            # everything buffered is out: the partition's ROWTIME moves past it, so a row
            # that comes later is not late
            self._done = self._max_rowtime + 1
            ctx.close_through(self._done)
        return out

    def settle(self, floor: int, ctx: Context) -> list[Row]:
        """No row below ``floor`` will come (a stage behind a repartition): every result
        before it can go."""
        out: list[Row] = []
        self._max_rowtime = max(self._max_rowtime, floor)
        self._release(floor, ctx, out)
        return out

    def rowtime_floor(self, floor: int) -> int:
        # results come out in ROWTIME order: none below what was released
        return min(floor, self._done)

    def _add(self, side: _Side, key_fns: Sequence[Fn], rows: list[Row], ctx: Context) -> None:
        for row in rows:
            rowtime = int(row[0])
            if rowtime < self._done:
                ctx.fail(
                    self.pump,
                    LATE_ROW,
                    f"results up to ROWTIME {Timestamp(self._done - 1).text()} were emitted",
                    row,
                )
                continue
            try:
                key = tuple(f(row) for f in key_fns)
            except RowError as exc:
                ctx.fail(self.pump, exc.name, exc.message, row)
                continue
            side.append([rowtime, side.seq, self._epoch, key, row, False])
            side.seq += 1
            side.chunks[self._epoch] = side.chunks.get(self._epoch, 0) + 1
            self.store.mark((side.tag, self._epoch))
            self._max_rowtime = max(self._max_rowtime, rowtime)

    # -- results ------------------------------------------------------------------------------
    def _release(self, horizon: int, ctx: Context, out: list[Row]) -> None:
        """Emit every result with a ROWTIME in ``[done, horizon)``, in ROWTIME order."""
        done = self._done
        if horizon <= done:
            return
        left_rows, right_rows = list(self._left.rows), list(self._right.rows)
        left_times = [entry[0] for entry in left_rows]
        right_times = [entry[0] for entry in right_rows]
        #: the pairs either window admits, once each: (result ROWTIME, left, right)
        pairs: dict[tuple[int, int], int] = {}
        if self._right_window is not None:
            for t, li, ri in window_pairs(
                self._right_window, right_times, left_times, done, horizon
            ):
                pairs[(li, ri)] = t
        if self._left_window is not None:
            for t, ri, li in window_pairs(
                self._left_window, left_times, right_times, done, horizon
            ):
                pairs[(li, ri)] = t
        results: list[_Result] = []
        for (li, ri), t in pairs.items():
            entry, other = left_rows[li], right_rows[ri]
            if entry[3] == other[3] and None not in entry[3]:
                self._pair(t, entry, other, ctx, results)
        end = horizon >= _END
        if self._left_outer:
            self._unmatched(
                left_rows, left_times, right_times, self._left_window, self._right_window,
                done, horizon, results, left=True,
            )  # fmt: skip
        if self._right_outer:
            self._unmatched(
                right_rows, right_times, left_times, self._right_window, self._left_window,
                done, horizon, results, left=False,
            )  # fmt: skip
        results.sort(key=lambda e: (e[0], e[1], e[2]))
        for t, _, _, left_row, right_row in results:
            self._output(t, left_row, right_row, ctx, out)
        self._done = horizon
        self.store.mark(("m",))
        # drop the rows no later result can use (all of them when the partition is idle)
        self._drop(
            self._left,
            len(left_rows) if end else droppable(
                left_times, right_times, self._left_window, self._right_window, horizon
            ),
        )  # fmt: skip
        self._drop(
            self._right,
            len(right_rows) if end else droppable(
                right_times, left_times, self._right_window, self._left_window, horizon
            ),
        )  # fmt: skip

    def _unmatched(
        self,
        rows: list[list[Any]],
        times: list[int],
        other_times: list[int],
        own: JoinWindow | None,
        other: JoinWindow | None,
        done: int,
        horizon: int,
        results: list[_Result],
        *,
        left: bool,
    ) -> None:
        """The kept rows without a match whose window closed in ``[done, horizon)``; when
        the partition is idle, the rest too (at the partition's ROWTIME, when their ROWS
        window is still short of rows)."""
        for i, entry in enumerate(rows):
            if entry[5]:
                continue
            t = kept_deadline(i, times, other_times, own, other)
            if t is None:
                if horizon < _END:
                    continue
                t = max(entry[0], self._max_rowtime)
            if done <= t < horizon:
                if left:
                    results.append((t, entry[1], _END, entry[4], None))
                else:
                    results.append((t, _END, entry[1], None, entry[4]))

    def _pair(
        self,
        t: int,
        entry: list[Any],
        right: list[Any],
        ctx: Context,
        results: list[_Result],
    ) -> None:
        """A pair whose keys match: a result when the rest of ON holds (then its rows have
        met one of the other side); an ON that fails is a row error."""
        left_row, right_row = entry[4], right[4]
        if self._residual is not None:
            try:
                if self._residual((Timestamp(t), *left_row, *right_row)) is not True:
                    return
            except RowError as exc:
                ctx.fail(self.pump, exc.name, exc.message, left_row)
                return
        results.append((t, entry[1], right[1], left_row, right_row))
        if not entry[5]:
            entry[5] = True
            self.store.mark(("l", entry[2]))
        if not right[5]:
            right[5] = True
            self.store.mark(("r", right[2]))

    def _output(
        self, t: int, left_row: Row | None, right_row: Row | None, ctx: Context, out: list[Row]
    ) -> None:
        rowtime = Timestamp(t)
        left = left_row if left_row is not None else (None,) * self._left_width
        right = right_row if right_row is not None else (None,) * self._right_width
        combined = (rowtime, *left, *right)
        try:
            if self._where is not None and self._where(combined) is not True:
                return
            out.append((rowtime, *[f(combined) for f in self._select]))
        except RowError as exc:
            ctx.fail(self.pump, exc.name, exc.message, left if left_row is not None else right)

    def _drop(self, side: _Side, count: int) -> None:
        rows = side.rows
        for _ in range(count):
            epoch = rows.popleft()[2]
            left = side.chunks[epoch] - 1
            if left:
                side.chunks[epoch] = left
            else:
                del side.chunks[epoch]
                self.store.delete((side.tag, epoch))

    # -- state --------------------------------------------------------------------------------
    def _side(self, tag: str) -> _Side:
        return self._left if tag == "l" else self._right

    def snapshot(self, key: Any) -> Any:
        if key[0] == "m":
            return [self._done, self._max_rowtime, self._left.seq, self._right.seq]
        side = self._side(key[0])
        epoch = key[1]
        return [[entry[1], list(entry[4]), entry[5]] for entry in side.rows if entry[2] == epoch]

    def end_epoch(self) -> None:
        self._epoch += 1

    def restore(self, key: Any, value: Any) -> None:
        if key[0] == "m":
            self._done, self._max_rowtime, self._left.seq, self._right.seq = value
            return
        side = self._side(key[0])
        key_fns = self._left_keys if side is self._left else self._right_keys
        epoch = int(key[1])
        for seq, values, matched in value:
            row = tuple(values)
            side.rows.append(
                [int(row[0]), int(seq), epoch, tuple(f(row) for f in key_fns), row, matched]
            )
        side.chunks[epoch] = side.chunks.get(epoch, 0) + len(value)
        self._epoch = max(self._epoch, epoch + 1)

    def finish_restore(self) -> None:
        for side in (self._left, self._right):
            side.rows = deque(sorted(side.rows, key=lambda entry: (entry[0], entry[1])))
