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
from typing import Any, ClassVar

import orjson

from ground.errors import RowError
from pipelines.sql import state_codec as codec
from pipelines.sql.aggregates import (
    ADD_ONLY,
    AGGREGATES,
    AddOnlyMax,
    AddOnlyMin,
    AggregateSpec,
    Avg,
    Count,
    Sum,
)
from pipelines.sql.operators.base import (
    LATE_ROW,
    NEVER,
    Context,
    KeyedRow,
    StatefulOperator,
    show_time,
)
from pipelines.sql.types import Fn, Row, SqlType, Timestamp, add_months

__all__ = ["AggCall", "TumblingLayout", "TumblingOperator", "group_accumulators", "group_result"]


@dataclass(frozen=True, slots=True)
class AggCall:
    """One aggregate of a query: ``spec`` over ``arg`` (``None``: COUNT(*))."""

    name: str
    spec: AggregateSpec
    arg: Fn | None
    #: The row position of ``arg`` when it is a plain column.
    column: int | None = None
    #: The type of the result, when known.
    sql_type: SqlType | None = None


@dataclass(frozen=True, slots=True)
class TumblingLayout:
    """Enables the fast path: the window start is ``t - t % size`` for the TIMESTAMP in
    column ``time`` (``STEP(col BY INTERVAL …)``, ``FLOOR(col TO unit)``); ``keys`` gives
    the column of each group key that is a plain column (``None``: computed, or the window)."""

    time: int
    keys: tuple[int | None, ...]


def group_accumulators(aggs: Sequence[AggCall]) -> list[Any]:
    return [a.spec.create() for a in aggs]


def group_result(
    agg_row: Row, having: Fn | None, select: Sequence[Fn], ctx: Context, pump: str
) -> list[Any] | None:
    """The SELECT values of a closed group's ``agg_row`` (its ROWTIME, keys, aggregates);
    ``None`` when HAVING drops it, or when a value fails (then a row of the error stream)."""
    try:
        if having is not None and having(agg_row) is not True:
            return None
        return [f(agg_row) for f in select]
    except RowError as exc:
        ctx.fail(pump, exc.name, exc.message, agg_row)
        return None


class TumblingOperator(StatefulOperator):
    #: Its rows move its watermark (False: the stage frontier does, behind a repartition:
    #: :class:`~pipelines.sql.operators.late_gate.TumblingBehind`).
    rows_close: ClassVar[bool] = True

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
        layout: TumblingLayout | None = None,
        fast: bool = True,
        months: int = 0,
    ) -> None:
        super().__init__(pump)
        self._key_prefix = f"{application}/{stream}/"
        self._keys = tuple(keys)
        self._window_key = window_key
        self._time = time_fn
        self._size = size
        #: calendar windows of ``months`` months (FLOOR … TO MONTH or YEAR, STEP … BY a
        #: year-month interval): a window ends ``months`` calendar months after its start
        self._months = months
        self._end: Callable[[Any], Any] = (
            (lambda start: start + size) if not months else _calendar_end(months)
        )
        self._event_time = event_time
        self._aggs = tuple(aggs)
        # A tumbling window only grows: MIN/MAX keep one value instead of a removable set.
        self._specs = tuple(_add_only(a.spec) for a in aggs)
        self._args = tuple(a.arg for a in aggs)
        self._select = tuple(select)
        self._having = having
        self._where = where
        self._lateness = allowed_lateness_ms if event_time else 0
        #: window start → group key → accumulators
        self._windows: dict[Any, dict[tuple[Any, ...], list[Any]]] = {}
        self._max_time: Any = NEVER
        self._watermark: Any = NEVER
        self._next_close: Any = None
        self._fast = (
            _compile_fast(self, layout) if fast and layout is not None and not months else None
        )
        #: window start → (its tagged form, its encoded bytes), for :meth:`encode_key`
        self._tagged_starts: dict[Any, tuple[Any, bytes]] = {}

    # -- input --------------------------------------------------------------------------------
    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        if self._fast is not None:
            return self._fast(rows, ctx)
        out: list[Row] = []
        one = self._row
        for row in rows:
            one(row, ctx, out)
        return out

    def _row(self, row: Row, ctx: Context, out: list[Row]) -> None:
        """One row, in general (the fast path's reference and its fallback)."""
        try:
            if self._where is not None and self._where(row) is not True:
                return
            t = self._time(row)
            if t is None:
                raise RowError("Null_Window_Time", "the window's time expression is NULL")
            key = tuple([f(row) for f in self._keys])
            start = key[self._window_key]
            values = [None if f is None else f(row) for f in self._args]
        except RowError as exc:
            ctx.fail(self.pump, exc.name, exc.message, row)
            return
        end = self._end(start)
        if end <= self._watermark:
            ctx.fail(
                self.pump,
                LATE_ROW,
                f"window starting {show_time(start)} closed at watermark "
                f"{show_time(self._watermark)}",
                row,
            )
            return
        groups = self._windows.get(start)
        if groups is None:
            groups = self._windows[start] = {}
            if self._next_close is None or end < self._next_close:
                self._next_close = end
        accs = groups.get(key)
        if accs is None:
            accs = groups[key] = [spec.create() for spec in self._specs]
        for acc, value, fn, spec in zip(accs, values, self._args, self._specs, strict=True):
            if fn is None:
                acc.add(True)
            elif value is not None or spec.sees_nulls:
                acc.add(value)
        self.store.mark(("g", start, key))
        if not self.rows_close:
            return
        if self._event_time:
            if t > self._max_time:
                self._max_time = t
                self._advance_to(t - self._lateness, row[0], ctx, out)
        else:
            self._advance_to(t, row[0], ctx, out)

    def advance(self, ctx: Context, *, idle: bool = False) -> list[Row]:
        out: list[Row] = []
        if idle and self._windows:
            last_end = self._end(max(self._windows))
            self._advance_to(last_end, ctx.rowtime, ctx, out)
            if not self._event_time:
                ctx.close_through(last_end)
        return out

    def rowtime_floor(self, floor: int) -> int:
        # a ROWTIME window's result has its end as ROWTIME; an event-time window's, the
        # ROWTIME of the row (or of the idle partition) that closes it
        if self._event_time or not self._windows:
            return floor
        return min(floor, int(self._end(min(self._windows))))

    # -- closing ------------------------------------------------------------------------------
    def _advance_to(self, watermark: Any, rowtime: int, ctx: Context, out: list[Row]) -> None:
        if watermark <= self._watermark:
            return
        self._watermark = watermark
        self.store.mark(("m",))
        if self._next_close is None or watermark < self._next_close:
            return
        self._close_due(watermark, rowtime, ctx, out)

    def _close_due(self, watermark: Any, rowtime: int, ctx: Context, out: list[Row]) -> None:
        end = self._end
        for start in sorted(s for s in self._windows if end(s) <= watermark):
            self._emit(start, self._windows.pop(start), rowtime, ctx, out)
        self._next_close = end(min(self._windows)) if self._windows else None

    def _emit(
        self,
        start: Any,
        groups: dict[tuple[Any, ...], list[Any]],
        rowtime: int,
        ctx: Context,
        out: list[Row],
    ) -> None:
        end = self._end(start)
        out_rowtime = Timestamp(rowtime if self._event_time else end)
        for key, accs in groups.items():
            self.store.delete(("g", start, key))
            agg_row = (out_rowtime, *key, *[acc.result() for acc in accs])
            values = group_result(agg_row, self._having, self._select, ctx, self.pump)
            if values is None:
                continue
            group = [v for i, v in enumerate(key) if i != self._window_key]
            record_key = (
                self._key_prefix + str(int(start)) + "/" + orjson.dumps(codec.tag(group)).decode()
            ).encode()
            out.append(KeyedRow((out_rowtime, *values), record_key))

    # -- state --------------------------------------------------------------------------------
    def encode_key(self, key: Any) -> bytes:
        """``codec.dumps(key)``'s bytes for a state key, without orjson calling back into
        Python for the window start (twice per key): the start is tagged once per window."""
        if key[0] != "g" or type(key[1]) is not Timestamp:
            return codec.dumps(key)
        _, start, group = key
        tagged = self._tagged_starts.get(start)
        if tagged is None:
            if len(self._tagged_starts) > 64:
                self._tagged_starts.clear()
            tagged = self._tagged_starts[start] = (codec.tag(start), codec.dumps(start))
        plain, encoded = tagged
        w = self._window_key
        if not 0 <= w < len(group) or type(group[w]) is not Timestamp or group[w] != start:
            return codec.dumps(key)
        rest = codec.dumps((*group[:w], plain, *group[w + 1 :]))
        return b'["g",' + encoded + b"," + rest + b"]"

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
        accs = [spec.restore(s) for spec, s in zip(self._specs, value, strict=True)]
        self._windows.setdefault(start, {})[tuple(group)] = accs
        end = self._end(start)
        if self._next_close is None or end < self._next_close:
            self._next_close = end


def _calendar_end(months: int) -> Callable[[Any], Any]:
    """The end of a calendar window that starts at ``start`` (the first instant of a month)."""

    def end(start: Any) -> Any:
        return type(start)(add_months(int(start), months))

    return end


def _add_only(spec: AggregateSpec) -> AggregateSpec:
    if AGGREGATES.get(spec.name) is spec and spec.name in ADD_ONLY:
        return ADD_ONLY[spec.name]
    return spec


# -- the fast path ----------------------------------------------------------------------------
#
# For the common window — STEP(column BY INTERVAL …) or FLOOR(column TO unit) — the operator's
# per-row work is generated as one Python function specialised to the query: column
# positions inlined, the window start computed as ``t - t % size``, the group's accumulators
# unpacked once and COUNT/SUM/AVG/MIN/MAX updated inline (the same arithmetic as their
# ``add``), watermark and window bookkeeping in locals. Rows whose window time is not a
# TIMESTAMP (NULL, …) go through ``_row``, the general code, as do aggregates without an
# inline form (through their ``add``). Results, failures and changelog marks are the same,
# in the same order, as ``_row`` row by row.

_INLINE_SUM = """\
            if type({v}) is float and {v} - {v} == 0.0:
                {a}.n += 1
                s = {a}.s
                r = s + {v}
                if abs(s) >= abs({v}):
                    {a}.c += (s - r) + {v}
                else:
                    {a}.c += ({v} - r) + s
                {a}.s = r
            else:
                {a}.add({v})"""


def _compile_fast(
    op: TumblingOperator, layout: TumblingLayout
) -> Callable[[list[Row], Context], list[Row]]:
    env: dict[str, Any] = {
        "op": op,
        "pump": op.pump,
        "where": op._where,
        "Timestamp": Timestamp,
        "RowError": RowError,
        "LATE_ROW": LATE_ROW,
        "show_time": show_time,
    }
    body: list[str] = []
    add = body.append
    # values that may raise RowError: computed keys and aggregate arguments, in _row's order
    computed: list[str] = []
    key_parts: list[str] = []
    for i, column in enumerate(layout.keys):
        if i == op._window_key:
            key_parts.append("start_ts")
        elif column is not None:
            key_parts.append(f"row[{column}]")
        else:
            env[f"kf{i}"] = op._keys[i]
            computed.append(f"k{i} = kf{i}(row)")
            key_parts.append(f"k{i}")
    values: list[str | None] = []
    for j, agg in enumerate(op._aggs):
        if agg.arg is None:
            values.append(None)
        elif agg.column is not None:
            values.append(f"row[{agg.column}]")
        else:
            env[f"af{j}"] = agg.arg
            computed.append(f"x{j} = af{j}(row)")
            values.append(f"x{j}")

    add("def process(rows, ctx):")
    add("    out = []")
    add("    windows = op._windows")
    add("    dirty = op.store._dirty")
    add(f"    size = {op._size!r}")
    add("    watermark = op._watermark")
    add("    max_time = op._max_time")
    add("    next_close = op._next_close")
    add("    cur = groups = start_ts = None")
    add("    for row in rows:")
    if op._where is not None:
        add("        try:")
        add("            if where(row) is not True:")
        add("                continue")
        add("        except RowError as exc:")
        add("            ctx.fail(pump, exc.name, exc.message, row)")
        add("            continue")
    add(f"        t = row[{layout.time}]")
    add("        if type(t) is not Timestamp:")
    add("            op._watermark, op._max_time, op._next_close = watermark, max_time, next_close")
    add("            op._row(row, ctx, out)")
    add("            watermark, max_time, next_close = op._watermark, op._max_time, op._next_close")
    add("            cur = None")
    add("            continue")
    if computed:
        add("        try:")
        for line in computed:
            add(f"            {line}")
        add("        except RowError as exc:")
        add("            ctx.fail(pump, exc.name, exc.message, row)")
        add("            continue")
    add("        start = t - t % size")
    add("        if start + size <= watermark:")
    add("            ctx.fail(pump, LATE_ROW, 'window starting ' + show_time(Timestamp(start))")
    add("                     + ' closed at watermark ' + show_time(Timestamp(watermark)), row)")
    add("            continue")
    add("        if start != cur:")
    add("            start_ts = Timestamp(start)")
    add("            groups = windows.get(start_ts)")
    add("            if groups is None:")
    add("                groups = windows[start_ts] = {}")
    add("                if next_close is None or start + size < next_close:")
    add("                    next_close = start + size")
    add("            cur = start")
    add(f"        key = ({', '.join(key_parts)},)")
    add("        accs = groups.get(key)")
    add("        if accs is None:")
    creates = []
    for j, spec in enumerate(op._specs):
        env[f"c{j}"] = spec.create
        creates.append(f"c{j}()")
    add(f"            accs = groups[key] = [{', '.join(creates)}]")
    if op._aggs:
        names = [f"a{j}" for j in range(len(op._aggs))]
        add(f"        {', '.join(names)}, = accs")
    loaded: dict[str, str] = {}
    for j, (spec, value) in enumerate(zip(op._specs, values, strict=True)):
        a = f"a{j}"
        kind = spec.create
        if value is None:
            add(f"        {a}.n += 1" if kind is Count else f"        {a}.add(True)")
            continue
        v = loaded.get(value)
        if v is None:
            v = loaded[value] = f"v{len(loaded)}"
            add(f"        {v} = {value}")
        add(f"        if {v} is not None:" if not spec.sees_nulls else "        if True:")
        if kind is Count:
            add(f"            {a}.n += 1")
        elif kind is Sum or kind is Avg:
            add(_INLINE_SUM.format(a=a, v=v))
        elif kind is AddOnlyMin or kind is AddOnlyMax:
            cmp = "<" if kind is AddOnlyMin else ">"
            add(f"            m = {a}.v")
            add(f"            if m is None or {v} {cmp} m:")
            add(f"                {a}.v = {v}")
        else:
            add(f"            {a}.add({v})")
    add("        dirty[('g', start_ts, key)] = True")
    if op.rows_close:  # else the stage frontier closes its windows (advance)
        if op._event_time:
            add("        if t > max_time:")
            add("            max_time = t")
            add(f"            w = t - {op._lateness!r}")
        else:
            add("        if True:")
            add("            w = t")
        add("            if w > watermark:")
        add("                watermark = w")
        add("                dirty[('m',)] = True")
        add("                if next_close is not None and w >= next_close:")
        add("                    op._watermark, op._max_time = watermark, max_time")
        add("                    op._close_due(w, row[0], ctx, out)")
        add("                    next_close = op._next_close")
        add("                    cur = None")
    add("    op._watermark, op._max_time, op._next_close = watermark, max_time, next_close")
    add("    return out")
    source = "\n".join(body) + "\n"
    exec(compile(source, f"<tumbling fast path of {op.pump}>", "exec"), env)
    process: Callable[[list[Row], Context], list[Row]] = env["process"]
    process.source = source  # type: ignore[attr-defined]
    return process
