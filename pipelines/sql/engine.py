"""Run a planned application over the rows of one partition (no Kafka here).

:class:`PartitionEngine` owns one operator per pump and pushes rows through the pumps in
topological order: a batch of source rows goes through every pump reading the source stream,
their results through the pumps reading those streams, and so on. ``advance`` lets windowed
operators close what is due (ROWTIME moved on, or the partition went idle); what they emit
flows downstream the same way. The rows of a stream that several pumps write are merged in
ROWTIME order. State changes of every operator are collected for the
changelog by :meth:`PartitionEngine.take_changes` and put back by :meth:`restore`.

An engine runs a whole plan, or one stage of it (:mod:`pipelines.sql.stages`: its ``steps``,
with ``components`` — the stage's clock and buffer — whose state goes to the changelog too).
:meth:`PartitionEngine.settle` tells each operator how far its input's ROWTIME has surely
come (its *floor*) and returns the floor of every stream, which a stage reports across a
repartition. For the event-time window in front of a repartition (a partial aggregation or a
late gate), the engine also tells when its rows stopped coming (:meth:`PartitionEngine.quiet`:
its input's floor moved ``quiet_after_ms`` past the ROWTIME of the last row that reached it)
and has it send what it holds, without closing it (:meth:`PartitionEngine.flush_quiet`).

:func:`run_rows` runs a whole input through a fresh engine — the offline form that tests and
``shardline sql`` tooling use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipelines.sql import state_codec as codec
from pipelines.sql.operators.base import (
    NEVER,
    Context,
    Operator,
    RowFailure,
    StateStore,
    TwoInputOperator,
)
from pipelines.sql.plan import ApplicationPlan
from pipelines.sql.stages import Step
from pipelines.sql.types import Row, Timestamp

__all__ = ["NO_FLOOR", "PartitionEngine", "run_rows"]

_ENGINE = "__engine"
#: the floor of a stream no row of this partition reaches
NO_FLOOR = 2**62


def _rowtime(row: Row) -> int:
    return int(row[0])


class _Step:
    """One pump's operator with the streams it reads and writes."""

    __slots__ = ("source", "target", "op", "right_source", "pair")

    def __init__(self, source: str, target: str, op: Operator, right_source: str | None) -> None:
        self.source = source
        self.target = target
        self.op = op
        self.right_source = right_source
        #: the operator again when it reads a second stream
        self.pair: TwoInputOperator | None = None
        if right_source is not None:
            if not isinstance(op, TwoInputOperator):
                raise TypeError(f"pump {op.pump} reads {right_source} too: a two-input operator")
            self.pair = op


class PartitionEngine:
    def __init__(
        self,
        plan: ApplicationPlan,
        *,
        partition: int = 0,
        allowed_lateness_ms: int = 0,
        steps: Sequence[Step] | None = None,
        components: Sequence[Operator] = (),
        quiet_after_ms: int | None = None,
    ) -> None:
        self.plan = plan
        #: the application's idle timeout: how long (in ROWTIME) the operator in front of a
        #: repartition may see no row before it counts as quiet (None: never)
        self.quiet_after_ms = quiet_after_ms
        self.ctx = Context(plan.application, partition, allowed_lateness_ms)
        if steps is None:
            steps = [Step(p.name, p.source, p.target, p.build, p.right_source) for p in plan.pumps]
        self._steps = [_Step(s.source, s.target, s.build(), s.right_source) for s in steps]
        self._components = list(components)
        # A stream several pumps write (UNION ALL, or several INSERTs) gets their rows merged
        # in ROWTIME order once the last of them ran (a stable sort: a pump's own order stays).
        writers: dict[str, list[int]] = defaultdict(list)
        for index, step in enumerate(self._steps):
            writers[step.target].append(index)
        self._merge_after: dict[int, list[str]] = defaultdict(list)
        for stream, indexes in writers.items():
            if len(indexes) > 1:
                self._merge_after[indexes[-1]].append(stream)
        self._store = StateStore(_ENGINE)
        #: the steps whose arrivals are watched (:meth:`quiet`), by index: their target
        self._watched: dict[int, str] = {}
        #: per watched stream: the ROWTIME of the last row that reached its operator (or,
        #: before the first, of the first floor it was asked about)
        self._reached: dict[str, int] = {}

    @property
    def operators(self) -> list[Operator]:
        """The operator of each pump, in the order rows flow through them."""
        return [step.op for step in self._steps]

    @property
    def rowtime(self) -> int:
        return self.ctx.rowtime

    def next_rowtime(self, timestamp_ms: int) -> Timestamp:
        """ROWTIME for a source record with this Kafka timestamp: monotonic per partition."""
        if timestamp_ms > self.ctx.rowtime:
            self.ctx.rowtime = timestamp_ms
            self._store.mark(("rowtime",))
        return Timestamp(self.ctx.rowtime)

    def set_rowtime(self, rowtime: int) -> None:
        """The ROWTIME of a stage behind a repartition (its channels' minimum)."""
        if rowtime > self.ctx.rowtime:
            self.ctx.rowtime = rowtime
            self._store.mark(("rowtime",))

    def push(self, stream: str, rows: list[Row]) -> dict[str, list[Row]]:
        """Rows entering ``stream``; returns the new rows of every stream, source included."""
        return self.push_many({stream: rows})

    def push_many(self, streams: Mapping[str, list[Row]]) -> dict[str, list[Row]]:
        """Rows entering several streams at once (a join's two inputs)."""
        pending: dict[str, list[Row]] = defaultdict(list)
        for stream, rows in streams.items():
            pending[stream].extend(rows)
        self._run(pending, idle=False, advance=False)
        return pending

    def advance(self, *, idle: bool) -> dict[str, list[Row]]:
        """Operators close what is due; with ``idle`` (the partition is caught up and quiet)
        everything they hold. An idle close moves the partition's ROWTIME to the end of the
        latest ROWTIME window it closed: time passed while the partition was quiet, and a
        row that comes afterwards entered the stream after that close (KDA's ROWTIME), so it
        counts in a later window instead of being late."""
        pending: dict[str, list[Row]] = defaultdict(list)
        ctx = self.ctx
        ctx.closed_through = NEVER
        self._run(pending, idle=idle, advance=True)
        if ctx.closed_through > ctx.rowtime:
            ctx.rowtime = ctx.closed_through
            self._store.mark(("rowtime",))
        ctx.closed_through = NEVER
        return pending

    def settle(self, floors: Mapping[str, int]) -> tuple[dict[str, list[Row]], dict[str, int]]:
        """No row below ``floors[stream]`` will enter those streams any more: operators close
        what that allows (:meth:`Operator.settle`). Returns the rows that gives, per stream,
        and the floor of every stream (:data:`NO_FLOOR`: none of this partition's rows
        reach it)."""
        pending: dict[str, list[Row]] = defaultdict(list)
        known = dict(floors)
        self._run(pending, idle=False, advance=False, floors=known)
        return pending, known

    def _run(
        self,
        pending: dict[str, list[Row]],
        *,
        idle: bool,
        advance: bool,
        floors: dict[str, int] | None = None,
        after: int = -1,
    ) -> None:
        """Rows of ``pending`` through the steps (those after step ``after``)."""
        ctx = self.ctx
        merge_after = self._merge_after
        watched = self._watched
        for index, step in enumerate(self._steps):
            if index <= after:
                continue
            rows = pending.get(step.source)
            if rows and index in watched:
                self._arrived(step.target, int(rows[-1][0]))
            if step.pair is not None:
                right = pending.get(step.right_source or "")
                out = step.pair.process_pair(rows or [], right or [], ctx) if rows or right else []
            else:
                out = step.op.process(rows, ctx) if rows else []
            if advance:
                out.extend(step.op.advance(ctx, idle=idle))
            if floors is not None:
                floor = min(
                    floors.get(step.source, NO_FLOOR),
                    floors.get(step.right_source, NO_FLOOR) if step.right_source else NO_FLOOR,
                )
                if floor < NO_FLOOR:
                    out.extend(step.op.settle(floor, ctx))
                    target = min(floors.get(step.target, NO_FLOOR), step.op.rowtime_floor(floor))
                    floors[step.target] = target
            if out:
                pending[step.target].extend(out)
            for stream in merge_after.get(index, ()):
                rows = pending.get(stream)
                if rows:
                    rows.sort(key=_rowtime)

    # -- quiet inputs of a repartition -------------------------------------------------------
    def _step_writing(self, stream: str) -> int:
        for index, step in enumerate(self._steps):
            if step.target == stream:
                return index
        raise KeyError(f"no pump writes {stream}")

    def _arrived(self, stream: str, rowtime: int) -> None:
        if rowtime > self._reached.get(stream, NEVER):
            self._reached[stream] = rowtime
            self._store.mark(("reached", stream))

    def watch(self, stream: str) -> None:
        """Keep the ROWTIME of the last row that reaches the operator writing ``stream``."""
        self._watched[self._step_writing(stream)] = stream

    def quiet(self, stream: str, floor: int) -> bool:
        """Whether the operator writing ``stream`` (a watched one, in front of a repartition)
        is *quiet*: no row reached it while its input's ROWTIME ``floor`` moved on by
        ``quiet_after_ms`` (counted from the first floor asked about when no row ever did)."""
        if self.quiet_after_ms is None or floor >= NO_FLOOR:
            return False
        if stream not in self._reached:
            self._arrived(stream, floor)
        return floor - self._reached[stream] >= self.quiet_after_ms

    def flush_quiet(self, stream: str) -> dict[str, list[Row]]:
        """The quiet operator writing ``stream`` sends what it holds without closing it
        (:meth:`Operator.flush`); returns what that gives, per stream."""
        index = self._step_writing(stream)
        step = self._steps[index]
        out = step.op.flush(self.ctx)
        pending: dict[str, list[Row]] = defaultdict(list)
        if out:
            pending[step.target].extend(out)
            self._run(pending, idle=False, advance=False, after=index)
        return pending

    def frontier_of(self, stream: str) -> int:
        """The frontier of the operator that writes ``stream``: a two-phase window's partial
        phase (its partials), or a late gate (the rows it passed)."""
        for step in self._steps:
            if step.target == stream:
                frontier = step.op.frontier()
                if frontier is not None:
                    return frontier
        raise KeyError(f"no partial aggregation or late gate writes {stream}")

    def take_failures(self) -> list[RowFailure]:
        failures = self.ctx.failures
        self.ctx.failures = []
        return failures

    # -- state --------------------------------------------------------------------------------
    def _stateful(self) -> list[Operator]:
        return [*self._components, *(step.op for step in self._steps)]

    def take_changes(self) -> list[tuple[bytes, bytes | None]]:
        changes = self._store.take(self._snapshot)
        for op in self._stateful():
            if op.store is not None:
                changes.extend(op.store.take(op.snapshot, op.encode_key))
            op.end_epoch()
        return changes

    def _snapshot(self, key: Any) -> Any:
        if key[0] == "reached":
            return self._reached[key[1]]
        return self.ctx.rowtime

    def restore(self, entries: Iterable[tuple[bytes, bytes]]) -> None:
        stores = [(op.store, op) for op in self._stateful() if op.store is not None]
        for key_bytes, value_bytes in entries:
            mine, key = self._store.decode_key(key_bytes)
            if mine:
                if key[0] == "reached":
                    self._reached[key[1]] = int(codec.loads(value_bytes))
                else:
                    self.ctx.rowtime = int(codec.loads(value_bytes))
                continue
            for store, op in stores:
                assert store is not None
                owned, key = store.decode_key(key_bytes)
                if owned:
                    op.restore(key, codec.loads(value_bytes))
                    break
        for op in self._stateful():
            op.finish_restore()


def run_rows(
    plan: ApplicationPlan,
    records: Sequence[tuple[int, Sequence[Any]]],
    *,
    source: str = "SOURCE_SQL_STREAM_001",
    batch_size: int = 500,
    allowed_lateness_ms: int = 0,
    idle_at_end: bool = True,
) -> tuple[dict[str, list[Row]], list[RowFailure]]:
    """Run ``records`` — ``(timestamp_ms, column values)`` in arrival order — through a fresh
    engine; returns every stream's rows and the failures. ``APPROXIMATE_ARRIVAL_TIME`` is the
    timestamp; ROWTIME its running maximum."""
    engine = PartitionEngine(plan, allowed_lateness_ms=allowed_lateness_ms)
    streams: dict[str, list[Row]] = defaultdict(list)
    for start in range(0, len(records), batch_size):
        rows = []
        for timestamp_ms, values in records[start : start + batch_size]:
            rowtime = engine.next_rowtime(timestamp_ms)
            rows.append((rowtime, Timestamp(timestamp_ms), *values))
        for name, new in engine.push(source, rows).items():
            streams[name].extend(new)
    if idle_at_end:
        for name, new in engine.advance(idle=True).items():
            streams[name].extend(new)
    return dict(streams), engine.take_failures()
