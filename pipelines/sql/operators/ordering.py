"""Operators that gather the rows of a monotonic group: streaming ORDER BY, SELECT DISTINCT and
Group Rank; and the one that gives rows a ROWTIME of their own (``expr AS ROWTIME``).

They read a hidden stream whose rows are ``(ROWTIME, *columns, *extra)`` — the columns of the
target, then what the pump computed for them (sort keys, a new ROWTIME) — and write
``(ROWTIME, *columns)``.

- :class:`SortOperator` (KDA's streaming ORDER BY): gathers rows while the leading ORDER BY
  expression — a monotonic function of ROWTIME — keeps its value, then emits them sorted by
  the other keys. The rows of a group come out with the ROWTIME of its last row, so the
  stream stays in ROWTIME order.
- :class:`DistinctOperator` (``SELECT STREAM DISTINCT``): a row whose columns equal a row
  already emitted with the same value of the monotonic column is dropped; the others come
  out at once.
- :class:`GroupRankOperator` (KDA's ``group_rank``): gathers the rows of one ROWTIME, ranks
  them (``RANK()``: ties share a rank, the next rank skips) and emits them in rank order, at
  most ``outputMax`` of them, each with its rank.
- :class:`RowtimeOperator`: the ROWTIME of each row is the value the pump computed; a row
  that would go back in time (or has none) goes to the error stream.
- :class:`TimeSortOperator` (KDA's T-sort, ``SELECT STREAM ts AS ROWTIME, … ORDER BY ts
  WITHIN interval``): rows wait until a row ``interval`` later by ``ts`` has arrived, then
  come out sorted by ``ts`` (and the other keys) with ``ts`` as their ROWTIME.

A group is complete when a row of another group arrives, when the partition's ROWTIME moves
past what the group can still get (``probe``: the leading expression at the partition's
ROWTIME; rows yet to come have a ROWTIME at least that), or when the partition is idle.
The gathered rows are state: changelog chunks per commit epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ground.errors import RowError
from pipelines.sql.operators.base import Context, StatefulOperator
from pipelines.sql.types import Row, Timestamp

__all__ = [
    "DistinctOperator",
    "GroupRankOperator",
    "OUT_OF_ORDER_ROW",
    "RowtimeOperator",
    "SortKey",
    "SortOperator",
    "TimeSortOperator",
    "sort_rows",
]

#: ``ERROR_NAME`` of a row whose own ROWTIME (``… AS ROWTIME``) goes back in time.
OUT_OF_ORDER_ROW = "Out_Of_Order_Row"

#: A sort key: (position in the row, descending, NULLs first).
SortKey = tuple[int, bool, bool]
_NO_GROUP = object()
#: "no bound": below every ROWTIME
_NO_TIME = -(2**62)
#: above every ROWTIME
_NO_BOUND = 2**62


def sort_rows(rows: list[Row], keys: Sequence[SortKey]) -> list[Row]:
    """``rows`` sorted by ``keys`` (stable: equal rows keep their order)."""
    ordered = list(rows)
    for position, desc, nulls_first in reversed(keys):
        null_rank = 1 if nulls_first == desc else 0

        def key(row: Row, p: int = position, n: int = null_rank) -> tuple[int, Any]:
            value = row[p]
            return (n, None) if value is None else (1 - n, value)

        ordered.sort(key=key, reverse=desc)
    return ordered


class _Gathering(StatefulOperator):
    """The rows of the current group (by ``group_of(row)``), oldest first, in changelog
    chunks: ``("g", epoch)`` → the rows that epoch added, ``("m",)`` → the group's value."""

    def __init__(self, pump: str, probe: Callable[[int], Any] | None) -> None:
        super().__init__(pump)
        self._probe = probe
        self._group: Any = _NO_GROUP
        self._rows: list[tuple[int, Row]] = []  # (epoch, row)
        self._epoch = 0

    def group_of(self, row: Row) -> Any:
        raise NotImplementedError

    def take(self, rows: list[Row], ctx: Context, out: list[Row]) -> None:
        """Emit the gathered group's result into ``out``."""
        raise NotImplementedError

    def add(self, row: Row, ctx: Context, out: list[Row]) -> None:
        """``row`` joins the current group (after closing the group before, if it changed)."""
        group = self.group_of(row)
        if self._group is not _NO_GROUP and group != self._group:
            self._close(ctx, out)
        if self._group is _NO_GROUP:
            self._group = group
            self.store.mark(("m",))
        self._rows.append((self._epoch, row))
        self.store.mark(("g", self._epoch))

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        out: list[Row] = []
        for row in rows:
            self.add(row, ctx, out)
        self._close_before(ctx.rowtime, ctx, out)
        return out

    def _close_before(self, rowtime: int, ctx: Context, out: list[Row]) -> None:
        """Close the group if rows from ``rowtime`` on cannot belong to it."""
        if self._probe is not None and self._group is not _NO_GROUP:
            try:
                if self._probe(rowtime) != self._group:
                    self._close(ctx, out)
            except RowError:
                pass  # the probe cannot tell: wait for a row of the next group

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        out: list[Row] = []
        if idle and self._group is not _NO_GROUP:
            self._close(ctx, out)
        return out

    def settle(self, floor: int, ctx: Context) -> list[Row]:
        out: list[Row] = []
        self._close_before(floor, ctx, out)
        return out

    def rowtime_floor(self, floor: int) -> int:
        # a group comes out no earlier than its first row
        return min(floor, int(self._rows[0][1][0])) if self._rows else floor

    def _close(self, ctx: Context, out: list[Row]) -> None:
        rows = [row for _, row in self._rows]
        for epoch in {epoch for epoch, _ in self._rows}:
            self.store.delete(("g", epoch))
        self._rows = []
        self._group = _NO_GROUP
        self.store.delete(("m",))
        self.take(rows, ctx, out)

    # -- state --------------------------------------------------------------------------------
    def snapshot(self, key: Any) -> Any:
        if key[0] == "m":
            return [self._group]
        return [list(row) for epoch, row in self._rows if epoch == key[1]]

    def restore(self, key: Any, value: Any) -> None:
        if key[0] == "m":
            self._group = value[0]
            return
        epoch = int(key[1])
        self._rows.extend((epoch, tuple(row)) for row in value)
        self._epoch = max(self._epoch, epoch + 1)

    def finish_restore(self) -> None:
        self._rows.sort(key=lambda entry: entry[0])  # stable: a chunk keeps its order

    def end_epoch(self) -> None:
        self._epoch += 1


class SortOperator(_Gathering):
    """Streaming ORDER BY: ``leading`` is the row position of the leading (monotonic) key,
    ``keys`` the others; rows come out as ``(ROWTIME, *row[1 : 1 + width])``."""

    def __init__(
        self,
        *,
        pump: str,
        leading: int,
        keys: Sequence[SortKey],
        width: int,
        probe: Callable[[int], Any] | None,
    ) -> None:
        super().__init__(pump, probe)
        self._leading = leading
        self._keys = tuple(keys)
        self._width = width

    def group_of(self, row: Row) -> Any:
        return row[self._leading]

    def take(self, rows: list[Row], ctx: Context, out: list[Row]) -> None:
        rowtime = max(row[0] for row in rows)
        end = 1 + self._width
        for row in sort_rows(rows, self._keys):
            out.append((rowtime, *row[1:end]))


class GroupRankOperator(_Gathering):
    """``group_rank``: the rows of one ROWTIME ranked by the value at ``rank_by`` (``desc``:
    the largest first), emitted by rank (``output_desc``: the last rank first), at most
    ``output_max`` (0: all), as ``(ROWTIME, *row[1 : 1 + width], rank)``."""

    def __init__(
        self,
        *,
        pump: str,
        rank_by: int,
        desc: bool,
        output_desc: bool,
        output_max: int,
        width: int,
    ) -> None:
        super().__init__(pump, probe=None)
        self._rank_by = rank_by
        self._desc = desc
        self._output_desc = output_desc
        self._max = output_max
        self._width = width

    def group_of(self, row: Row) -> Any:
        return row[0]

    def _close_before(self, rowtime: int, ctx: Context, out: list[Row]) -> None:
        # rows yet to come have a ROWTIME at least ``rowtime``: a group before is whole
        if self._group is not _NO_GROUP and self._group < rowtime:
            self._close(ctx, out)

    def take(self, rows: list[Row], ctx: Context, out: list[Row]) -> None:
        # NULLs rank last, whichever the order
        ranked = sort_rows(rows, [(self._rank_by, self._desc, False)])
        ranks: list[int] = []
        for i, row in enumerate(ranked):
            same = i and row[self._rank_by] == ranked[i - 1][self._rank_by]
            ranks.append(ranks[-1] if same else i + 1)
        pairs = list(zip(ranked, ranks, strict=True))
        if self._output_desc:
            pairs = sorted(pairs, key=lambda pair: pair[1], reverse=True)
        if self._max:
            pairs = pairs[: self._max]
        end = 1 + self._width
        for row, rank in pairs:
            out.append((row[0], *row[1:end], rank))


class DistinctOperator(StatefulOperator):
    """``SELECT STREAM DISTINCT``: the rows ``(ROWTIME, *columns)`` of one value of the
    monotonic column at ``leading`` are distinct by their columns."""

    def __init__(
        self,
        *,
        pump: str,
        leading: int,
        width: int,
        probe: Callable[[int], Any] | None,
    ) -> None:
        super().__init__(pump)
        self._leading = leading
        self._end = 1 + width
        self._probe = probe
        self._group: Any = _NO_GROUP
        self._seen: dict[tuple[Any, ...], int] = {}  # columns → epoch first seen
        self._epoch = 0

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        out: list[Row] = []
        end = self._end
        for row in rows:
            group = row[self._leading]
            if group != self._group:
                self._reset(group)
            columns = tuple(row[1:end])
            if columns in self._seen:
                continue
            self._seen[columns] = self._epoch
            self.store.mark(("g", self._epoch))
            out.append((row[0], *columns))
        if self._probe is not None and self._group is not _NO_GROUP:
            try:
                if self._probe(ctx.rowtime) != self._group:
                    self._reset(_NO_GROUP)
            except RowError:
                pass
        return out

    def _reset(self, group: Any) -> None:
        for epoch in set(self._seen.values()):
            self.store.delete(("g", epoch))
        self._seen = {}
        self._group = group
        self.store.mark(("m",))

    def snapshot(self, key: Any) -> Any:
        if key[0] == "m":
            return [None if self._group is _NO_GROUP else self._group, self._group is _NO_GROUP]
        return [list(c) for c, epoch in self._seen.items() if epoch == key[1]]

    def restore(self, key: Any, value: Any) -> None:
        if key[0] == "m":
            self._group = _NO_GROUP if value[1] else value[0]
            return
        epoch = int(key[1])
        for columns in value:
            self._seen[tuple(columns)] = epoch
        self._epoch = max(self._epoch, epoch + 1)

    def end_epoch(self) -> None:
        self._epoch += 1


class RowtimeOperator(StatefulOperator):
    """``expr AS ROWTIME``: rows ``(ROWTIME, *columns, new ROWTIME)`` come out as
    ``(new ROWTIME, *columns)``; one earlier than the last one out is ``Out_Of_Order_Row``."""

    def __init__(self, *, pump: str, width: int) -> None:
        super().__init__(pump)
        self._width = width
        self._last: int | None = None

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        out: list[Row] = []
        end = 1 + self._width
        for row in rows:
            rowtime = row[end]
            if type(rowtime) is not Timestamp:
                ctx.fail(
                    self.pump,
                    "Null_Rowtime" if rowtime is None else "Type_Coercion_Error",
                    f"the value AS ROWTIME is {rowtime!r}, not a TIMESTAMP",
                    row,
                )
                continue
            if self._last is not None and rowtime < self._last:
                ctx.fail(
                    self.pump,
                    OUT_OF_ORDER_ROW,
                    f"ROWTIME {rowtime.text()} is before {Timestamp(self._last).text()}, the "
                    "ROWTIME of a row already in the stream",
                    row,
                )
                continue
            if self._last != rowtime:
                self._last = int(rowtime)
                self.store.mark(("m",))
            out.append((rowtime, *row[1:end]))
        return out

    def rowtime_floor(self, floor: int) -> int:
        # the new ROWTIME is a value of the row, not bound by the input's: only the last one
        # out bounds the next (an earlier row is an error, not a row of the stream)
        return self._last if self._last is not None else _NO_TIME

    def snapshot(self, key: Any) -> Any:
        return self._last

    def restore(self, key: Any, value: Any) -> None:
        self._last = value


class TimeSortOperator(StatefulOperator):
    """KDA's T-sort (``ORDER BY ts WITHIN interval``): rows ``(ROWTIME, *columns, ts,
    *keys)`` are held until the largest ``ts`` seen is ``within_ms`` past theirs (a sliding
    window of the input by its timestamp), then come out as ``(ts, *columns)`` sorted by
    ``ts`` and then ``keys`` (positions in the row), in arrival order among equals. A row
    whose ``ts`` is before one already out cannot be put in order: it goes to the error
    stream as ``Out_Of_Order_Row``. A row whose ``ts`` is NULL is discarded (KDA). When the
    partition goes idle every held row comes out.

    State: the held rows in changelog chunks per commit epoch (``("g", epoch)``) and
    ``("m",)`` → [largest ts seen, last ts out]."""

    def __init__(self, *, pump: str, width: int, within_ms: int, keys: Sequence[SortKey]) -> None:
        super().__init__(pump)
        self._width = width
        self._within = within_ms
        self._keys = ((1 + width, False, False), *keys)
        self._rows: list[tuple[int, Row]] = []  # (epoch, row), arrival order
        self._high: int | None = None
        self._last: int | None = None
        #: the smallest ts held (above every ts when none is)
        self._low = _NO_BOUND
        self._epoch = 0

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        at = 1 + self._width
        out: list[Row] = []
        for row in rows:
            ts = row[at]
            if ts is None:
                continue  # KDA: "the corresponding row is discarded"
            if type(ts) is not Timestamp:
                ctx.fail(
                    self.pump,
                    "Type_Coercion_Error",
                    f"the T-sort's timestamp is {ts!r}, not a TIMESTAMP",
                    row,
                )
                continue
            if self._last is not None and ts < self._last:
                ctx.fail(
                    self.pump,
                    OUT_OF_ORDER_ROW,
                    f"ROWTIME {ts.text()} is before {Timestamp(self._last).text()}, the ROWTIME "
                    "of a row the T-sort already emitted (ORDER BY … WITHIN is too short)",
                    row,
                )
                continue
            self._rows.append((self._epoch, row))
            self.store.mark(("g", self._epoch))
            if ts < self._low:
                self._low = int(ts)
            if self._high is None or ts > self._high:
                self._high = int(ts)
                self.store.mark(("m",))
            # row by row, so what is late does not depend on how rows were batched
            if self._low <= self._high - self._within:
                out.extend(self._release(self._high - self._within))
        return out

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        return self._release(None) if idle and self._rows else []

    def _release(self, upto: int | None) -> list[Row]:
        """The held rows with a ts at most ``upto`` (all: ``None``), sorted."""
        at = 1 + self._width
        ready = [r for r in self._rows if upto is None or r[1][at] <= upto]
        if not ready:
            return []
        keep = [r for r in self._rows if upto is not None and r[1][at] > upto]
        for epoch in {e for e, _ in ready} - {e for e, _ in keep}:
            self.store.delete(("g", epoch))
        for epoch in {e for e, _ in ready} & {e for e, _ in keep}:
            self.store.mark(("g", epoch))
        self._rows = keep
        self._low = min((int(r[1][at]) for r in keep), default=_NO_BOUND)
        ordered = sort_rows([row for _, row in ready], self._keys)
        self._last = int(ordered[-1][at])
        self.store.mark(("m",))
        return [(row[at], *row[1:at]) for row in ordered]

    def rowtime_floor(self, floor: int) -> int:
        # the ROWTIME out is the row's ts: only the last one out bounds the next
        return self._last if self._last is not None else _NO_TIME

    def snapshot(self, key: Any) -> Any:
        if key[0] == "m":
            return [self._high, self._last]
        return [list(row) for epoch, row in self._rows if epoch == key[1]]

    def restore(self, key: Any, value: Any) -> None:
        if key[0] == "m":
            self._high, self._last = value
            return
        epoch = int(key[1])
        self._rows.extend((epoch, tuple(row)) for row in value)
        self._epoch = max(self._epoch, epoch + 1)

    def finish_restore(self) -> None:
        self._rows.sort(key=lambda entry: entry[0])  # stable: a chunk keeps its order
        at = 1 + self._width
        self._low = min((int(row[at]) for _, row in self._rows), default=_NO_BOUND)

    def end_epoch(self) -> None:
        self._epoch += 1
