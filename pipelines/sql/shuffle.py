"""What crosses a repartition topic, and how the stage behind it keeps time.

Every record of a repartition topic comes from one upstream *channel* — one partition of the
stage before it, numbered by :meth:`pipelines.sql.application.SqlApplication` — and is one of:

* a **row** ``["r", channel, side, [values]]`` of an input stream of the pump behind the
  repartition (``side`` 1 is a join's right stream), in the partition its keys (but a
  window's time key) hash to — or **rows** ``["R", channel, side, [column, …]]``:
  consecutive rows of one batch with the same key in one record, column by column (a pump
  that sees every row — no key — gets a batch in one or a few records, not one record per
  row; at most :data:`ROWS_RECORD_BYTES` bytes each). A column is ``["", [values]]`` when
  JSON keeps each value as it is, ``["$ts", [milliseconds]]`` for TIMESTAMPs, ``["$",
  [values]]`` in the codec's forms otherwise;
* a **partial aggregate** ``["p", channel, rowtime, window start, [group key], states]``
  (:mod:`pipelines.sql.operators.two_phase`), in the partition its group key hashes to
  (without one: the window start's on event time, one partition for all on ROWTIME);
* a **marker** ``["w", channel, rowtime, frontier, idle, positions, quiet]``, sent to *every*
  partition when it changed: the channel's ROWTIME floor (no row it sends later has a lower
  ROWTIME), its frontier (partials: every window that ends at or before it was sent; rows
  that passed a late gate: the gate's watermark, no row it sends later is for a window
  that ends at or before it),
  whether the channel is idle and, with ``idle``, how far it has read its input:
  ``[[topic, partition, next offset], …]`` (``null`` when not idle or not known), and
  whether the channel is *quiet* (below). Markers of earlier releases have no ``positions``
  (their idle channels are not probed) and no ``quiet`` (they are not quiet).

Values use the state codec's exact forms; a record's ROWTIME is also in its
``shardline.rowtime`` header. A channel writes its rows and partials before the marker that
covers them, in one partition in order, in the same transaction as its input offsets.

The stage behind keeps, per channel, the latest marker (:class:`ChannelClock`). Its ROWTIME
and frontier are the minimum over the active channels (Flink's watermark valve): an idle
channel does not hold the others back, and one that comes back behind them is left out until
it catches up; when every channel is idle, the stage is idle.

A channel in front of an event-time window (partials, or rows through a late gate) is
*quiet* when its input flows but none of its rows reach the repartition: its frontier moves
only with those rows, so it would hold the stage for ever. Idleness is then judged on what
reaches the repartition, as an input partition's is on its input: once the channel's ROWTIME
floor has moved on by the application's idle timeout since the last row that reached the
operator in front of the repartition (since its first floor, if none did:
:meth:`pipelines.sql.engine.PartitionEngine.quiet`), a partial phase sends the partials of its
open windows without closing them (they go before the marker; its watermark, and so its late
rows, stay as they were), and its markers say ``quiet`` until a row reaches it again. The
stage leaves a quiet channel out of its ROWTIME and frontier like an idle one (a frontier
still waiting behind its rows holds, as for an idle one); it comes back as an idle channel
does: what it sends for a window the stage closed meanwhile is late there (a row of a window
still open is merged, a further partial of a window with the one sent before). Quiet is
not idle: the stage turns idle only when every channel is (with only idle and quiet channels
left, its time is the maximum over all), and a quiet channel is never probed. ROWTIME
partials and rows without a gate have no such channel: their frontier (or floor) moves with
the input. The marker changes only when the channel turns quiet or comes back.

An idle channel stops holding the stage only while its input is really caught up (Kafka
Streams' KIP-695: an empty partition with known lag is waited for). Before the stage's time
passes an idle channel's last ROWTIME or frontier (or the stage turns idle), it asks the
broker for the last stable offsets of the input partitions in those channels' markers, in
one request (a :data:`~pipelines.runtime.StableOffsetProbe`, injected). A channel whose
input has committed records beyond its marker's position counts as active again, at its
last time (or the stage's, if that is later), until its next marker: a backlog that
arrives on every partition at once (a replay after a quiet night) is not made late by the
workers that fetch it first. Without a probe, or for a partition the broker does not
answer for, an idle channel holds nothing, as before. A channel reading a repartition
topic (a stage ``k > 0`` writing to a further one) gives that topic's partition: while it
processes records, the offset after its last record's transaction marker (the lowest its
end can be), and when idle, where its consumer reached the end. Rows wait in a
:class:`MergeBuffer` until the stage's ROWTIME passed them, and leave in ROWTIME order (ties:
by channel, then arrival), so the operators behind a repartition see one stream with a
monotonic ROWTIME, as in a single partition. A row that comes in below the stage's ROWTIME
(its channel was idle meanwhile, and came back behind) takes the stage's ROWTIME: it enters
the stage's stream when it arrives, as KDA stamps a row with the time it entered a stream.
So a channel's idleness never makes a row late behind a repartition.

Rows of an event-time tumbling window were judged late in front of the repartition, per
input partition (:mod:`pipelines.sql.operators.late_gate`), and the window behind closes on
the stage frontier. A marker's frontier must then not overtake the rows its channel sent
before it, which may still wait in the buffer for the stage's ROWTIME: it waits there too,
as an entry of its own (:meth:`MergeBuffer.add_frontier`), and takes effect in the clock
when it leaves (:meth:`ChannelClock.reached`); an idle channel whose frontier still waits
keeps holding the stage's frontier.
"""

from __future__ import annotations

import heapq
import math
import zlib
from collections.abc import Sequence
from typing import Any

import orjson

from ground.errors import RowError
from pipelines.runtime import OutRecord, StableOffsetProbe
from pipelines.sql.operators.base import NEVER, Context, StatefulOperator
from pipelines.sql.stages import Outbound
from pipelines.sql.state_codec import decode_value, encode_value
from pipelines.sql.types import Row, Timestamp

__all__ = [
    "FRONTIER_SIDE",
    "NEVER",
    "ChannelClock",
    "ExchangeWriter",
    "MergeBuffer",
    "Positions",
    "decode_record",
    "partition_of",
    "shuffle_key",
]

ROW, ROWS, PARTIAL, MARKER = "r", "R", "p", "w"
#: The most bytes of rows one record carries (more rows go in the next record; a single row
#: goes alone however large), far below Kafka's 1 MB.
ROWS_RECORD_BYTES = 256 * 1024


def _norm(value: Any) -> Any:
    # the keys of a join's two sides may differ in type (INTEGER = DOUBLE): hash them alike
    if type(value) is float and value.is_integer():
        return int(value)
    return encode_value(value)


def shuffle_key(values: Sequence[Any]) -> bytes:
    """The record key of a row or partial keyed by ``values``."""
    return orjson.dumps([_norm(v) for v in values])


def partition_of(key: bytes, partitions: int) -> int:
    """The repartition topic partition of ``key`` (CRC-32: stable across processes)."""
    return zlib.crc32(key) % partitions


#: ``((topic, partition, next offset), …)``: how far a channel has read its input
Positions = tuple[tuple[str, int, int], ...]


def decode_record(value: bytes) -> tuple[str, int, Any]:
    """``(kind, channel, payload)`` of a repartition record: a row ``(side, row)``, rows
    ``(side, [row, …])``, a partial ``(rowtime, start, key, states)`` or a marker
    ``(rowtime, frontier, idle, positions, quiet)`` (``positions`` None: not idle, not known,
    or a marker of an earlier release; ``quiet`` False in a marker of an earlier release)."""
    data = orjson.loads(value)
    kind, channel = data[0], data[1]
    if kind == ROWS:
        return kind, channel, (data[2], _rows_of(data[3]))
    if kind == ROW:
        return kind, channel, (data[2], _decoded(data[3]))
    if kind == PARTIAL:
        key = tuple(decode_value(v) for v in data[4])
        return kind, channel, (decode_value(data[2]), decode_value(data[3]), key, data[5])
    raw = data[5] if len(data) > 5 else None
    positions = tuple((t, p, o) for t, p, o in raw) if raw is not None else None
    quiet = bool(data[6]) if len(data) > 6 else False
    return kind, channel, (data[2], data[3], data[4], positions, quiet)


_TS = "$ts"  # the state codec's tag of a TIMESTAMP
_PLAIN = frozenset({str, bool, type(None)})  # values the state codec keeps as they are


def _encoded(row: Row) -> list[Any]:
    """``[encode_value(v) for v in row]``, without the call for the commonest values (text,
    and the TIMESTAMPs every row starts with)."""
    return [
        v if type(v) in _PLAIN else [_TS, int(v)] if type(v) is Timestamp else encode_value(v)
        for v in row
    ]


_INT64 = (-(2**63), 2**63 - 1)


def _column(values: Sequence[Any]) -> list[Any]:
    """One column of an ``R`` record: the values as they are when JSON keeps every one of
    them exactly (text, booleans, NULLs, 64-bit integers, finite floats), TIMESTAMPs as
    milliseconds, else each in the state codec's form."""
    kinds = set(map(type, values))
    if kinds <= _PLAIN:
        return ["", values]
    if kinds == {Timestamp}:
        return [_TS, list(map(int, values))]
    if kinds == {int} and _INT64[0] <= min(values) and max(values) <= _INT64[1]:
        return ["", values]
    if kinds == {float} and math.isfinite(sum(values)):  # no NaN, no infinity (or overflow)
        return ["", values]
    return ["$", [encode_value(v) for v in values]]


def _rows_of(columns: list[list[Any]]) -> list[Row]:
    """The rows of an ``R`` record's columns."""
    decoded = []
    for tag, values in columns:
        if tag == _TS:
            values = list(map(Timestamp, values))
        elif tag:
            values = [decode_value(v) for v in values]
        decoded.append(values)
    return list(zip(*decoded, strict=True))


def _decoded(encoded: list[Any]) -> Row:
    """The row of :func:`_encoded`'s values: ``decode_value`` only for the tagged ones."""
    return tuple([
        v if type(v) is not list else Timestamp(v[1]) if v[0] == _TS else decode_value(v)
        for v in encoded
    ])  # fmt: skip


class ExchangeWriter:
    """One processor's side of one :class:`~pipelines.sql.stages.Outbound`: its records
    for the repartition ``topic`` of ``partitions`` partitions, as channel ``channel``."""

    def __init__(self, outbound: Outbound, partitions: int, channel: int) -> None:
        self.outbound = outbound
        self.topic = outbound.repartition.topic
        self.partitions = partitions
        self.channel = channel
        self._pump = outbound.repartition.pump
        self._last: tuple[Any, ...] | None = None

    def write(self, rows: Sequence[Row], ctx: Context, out: list[OutRecord]) -> None:
        if self.outbound.repartition.partials:
            self._partials(rows, out)
        else:
            self._rows(rows, ctx, out)

    def _rows(self, rows: Sequence[Row], ctx: Context, out: list[OutRecord]) -> None:
        grouping = self.outbound.grouping
        # a ROWTIME window's start is not part of the key: a row whose ROWTIME moves (its
        # partition came back after an idle close) stays in its group's partition
        fns = [f for i, f in enumerate(grouping.fns) if i != grouping.window]
        fixed = shuffle_key([]) if not fns else None  # no key: every row goes to one place
        run_key: bytes | None = None
        run: list[Row] = []
        for row in rows:
            if fixed is None:
                try:
                    key = shuffle_key([f(row) for f in fns])
                except RowError as exc:
                    ctx.fail(self._pump, exc.name, exc.message, row)
                    continue
            else:
                key = fixed
            if key != run_key:
                if run:
                    self._flush(run_key or b"", run, out)
                run_key, run = key, []
            run.append(row)
        if run:
            self._flush(run_key or b"", run, out)

    def _flush(self, key: bytes, run: list[Row], out: list[OutRecord]) -> None:
        """Consecutive rows with the same ``key``: one record (``r`` for one row, ``R`` for
        several), or several of at most :data:`ROWS_RECORD_BYTES`."""
        partition = partition_of(key, self.partitions)
        if len(run) == 1:
            value = orjson.dumps([ROW, self.channel, self.outbound.side, _encoded(run[0])])
            out.append(OutRecord(self.topic, key, value, int(run[0][0]), partition))
            return
        columns = [_column(c) for c in zip(*run, strict=True)]
        value = orjson.dumps([ROWS, self.channel, self.outbound.side, columns])
        if len(value) > ROWS_RECORD_BYTES:
            half = len(run) // 2
            self._flush(key, run[:half], out)
            self._flush(key, run[half:], out)
            return
        out.append(OutRecord(self.topic, key, value, int(run[0][0]), partition))

    def _partials(self, rows: Sequence[Row], out: list[OutRecord]) -> None:
        window = self.outbound.grouping.window
        for rowtime, start, key, states in rows:
            group = [v for i, v in enumerate(key) if i != window]
            record_key = shuffle_key(group or ([start] if self.outbound.event_time else []))
            value = orjson.dumps([
                PARTIAL, self.channel, encode_value(rowtime), encode_value(start),
                [encode_value(v) for v in key], states,
            ])  # fmt: skip
            out.append(
                OutRecord(
                    self.topic, record_key, value, int(rowtime),
                    partition_of(record_key, self.partitions),
                )
            )  # fmt: skip

    def mark(
        self,
        rowtime: int,
        frontier: int,
        idle: bool,
        out: list[OutRecord],
        positions: Positions | None = None,
        quiet: bool = False,
    ) -> None:
        """Tell every partition this channel's ROWTIME floor and frontier, when they moved
        (partials: when the frontier passed a window boundary), or idleness or quietness
        changed, or, idle, how far it read its input (``positions``)."""
        size = self.outbound.size_ms
        where = positions if idle else None
        if self.outbound.repartition.partials:
            token: tuple[Any, ...] = (
                frontier // size if frontier > NEVER else None, idle, where, quiet
            )
        elif self.outbound.repartition.gated:
            token = (rowtime, frontier, idle, where, quiet)
        else:
            token = (rowtime, idle, where, quiet)
        if token == self._last:
            return
        self._last = token
        value = orjson.dumps(
            [MARKER, self.channel, int(rowtime), int(frontier), idle, where, quiet]
        )
        stamp = int(rowtime) if rowtime > 0 else None
        for p in range(self.partitions):
            out.append(OutRecord(self.topic, None, value, stamp, p))


class ChannelClock(StatefulOperator):
    """The latest marker of each upstream channel, and the stage's time from them.

    ``stage_rowtime`` and ``stage_frontier`` only grow. They are the minimum over the active
    channels that are not behind them (a channel never heard of counts as active, at
    ``NEVER``; an idle or a quiet one does not); when no channel is active, the maximum over
    all, and when every channel is idle, ``stage_idle`` is set.

    With a ``probe``, an idle channel whose input has committed records beyond the position
    in its marker is *held*: active at its last time (or the stage's, if later) until its
    next marker. The probe is asked only when the stage's time would pass an idle channel,
    for all of them at once, and at most once between two :meth:`begin_batch` calls."""

    def __init__(self, channels: int, probe: StableOffsetProbe | None = None) -> None:
        super().__init__("__clock")
        self._rowtimes = [NEVER] * channels
        self._frontiers = [NEVER] * channels
        #: per channel, the frontiers of its markers still waiting behind its rows (gated)
        self._waiting = [0] * channels
        self._idle = [False] * channels
        #: no row of the channel reached the repartition for the idle timeout (its input
        #: flows on): left out of the stage's time like an idle channel, never probed
        self._quiet = [False] * channels
        self._positions: list[Positions | None] = [None] * channels
        self._held = [False] * channels
        self._probe = probe
        self._stable: dict[tuple[str, int], int] | None = None  # this batch's probe answer
        self.stage_rowtime = NEVER
        self.stage_frontier = NEVER
        self.stage_idle = False
        #: probes asked (one request each)
        self.probes = 0

    def begin_batch(self) -> None:
        """A new batch of records: the next probe asks the broker again."""
        self._stable = None

    def update(
        self,
        channel: int,
        rowtime: int,
        frontier: int,
        idle: bool,
        positions: Positions | None = None,
        *,
        frontier_later: bool = False,
        quiet: bool = False,
    ) -> bool:
        """A marker of ``channel``; True when the stage's time (or idleness) changed.

        ``quiet``: the channel's input flows, but none of its rows reached the repartition
        for the idle timeout: it stops holding the stage until a marker says otherwise.

        ``frontier_later``: its frontier takes effect only once the rows ``channel`` sent
        before it were handed over (:meth:`reached`; rows that passed a late gate). Until
        then the channel's last frontier that took effect holds the stage's, idle or not."""
        if not 0 <= channel < len(self._rowtimes):
            raise ValueError(f"marker of channel {channel}, of {len(self._rowtimes)}")
        self._rowtimes[channel] = max(self._rowtimes[channel], rowtime)
        if frontier_later:
            self._waiting[channel] += 1
        else:
            self._frontiers[channel] = max(self._frontiers[channel], frontier)
        self._idle[channel] = idle
        self._quiet[channel] = quiet and not idle
        self._positions[channel] = positions if idle else None
        self._held[channel] = False
        self.store.mark(("c",))
        return self._combine()

    def reached(self, channel: int, frontier: int) -> bool:
        """A frontier :meth:`update` deferred takes effect: the rows ``channel`` sent before
        it were handed over. True when the stage's time changed."""
        self._waiting[channel] = max(0, self._waiting[channel] - 1)
        self._frontiers[channel] = max(self._frontiers[channel], frontier)
        self.store.mark(("c",))
        return self._combine()

    def set_waiting(self, counts: Sequence[int]) -> None:
        """After a restore: the deferred frontiers of each channel still waiting (the merge
        buffer keeps them)."""
        self._waiting = list(counts)

    def held(self) -> list[int]:
        """The idle channels held for their input's lag."""
        return [i for i, held in enumerate(self._held) if held]

    def _candidate(self) -> tuple[int, int, bool]:
        current_rowtime, current_frontier = self.stage_rowtime, self.stage_frontier
        away = [idle or quiet for idle, quiet in zip(self._idle, self._quiet, strict=True)]
        active = [i for i, a in enumerate(away) if not a or self._held[i]]
        # an idle (or quiet) channel whose frontier waits behind its rows still holds the
        # frontier
        holding = active + [i for i, n in enumerate(self._waiting) if n and away[i]
                            and not self._held[i]]  # fmt: skip
        if active:
            # a held channel behind the stage holds it where it is
            rowtimes = [max(self._rowtimes[i], current_rowtime) if self._held[i]
                        else self._rowtimes[i] for i in active]  # fmt: skip
            idle = False
            rowtime = _valve(rowtimes, current_rowtime)
        else:
            # quiet channels' inputs still flow: the stage is not idle
            idle = not any(self._quiet)
            rowtime = max(self._rowtimes)
        if holding:
            frontiers = [max(self._frontiers[i], current_frontier) if self._held[i]
                         else self._frontiers[i] for i in holding]  # fmt: skip
            frontier = _valve(frontiers, current_frontier)
        else:
            frontier = max(self._frontiers)
        return max(rowtime, current_rowtime), max(frontier, current_frontier), idle

    def _passed(self, rowtime: int, frontier: int, idle: bool) -> list[int]:
        """The idle channels (not held, with positions) the stage's time would pass."""
        later_rowtime = rowtime > self.stage_rowtime
        later_frontier = frontier > self.stage_frontier
        turns_idle = idle and not self.stage_idle
        if not (later_rowtime or later_frontier or turns_idle):
            return []
        return [
            i
            for i, idle_i in enumerate(self._idle)
            if idle_i and not self._held[i] and self._positions[i] is not None and (
                turns_idle
                or (later_rowtime and self._rowtimes[i] < rowtime)
                or (later_frontier and self._frontiers[i] < frontier)
            )
        ]  # fmt: skip

    def _hold_lagging(self, channels: list[int]) -> bool:
        """Hold those of ``channels`` whose input has committed records beyond their
        marker's position; True if any."""
        assert self._probe is not None
        wanted = {(t, p) for i in channels for t, p, _ in self._positions[i] or ()}
        if self._stable is None or not wanted <= self._stable.keys():
            # every idle channel's partitions: one request serves the rest of the batch
            everything = {(t, p) for i, idle in enumerate(self._idle) if idle
                          for t, p, _ in self._positions[i] or ()}  # fmt: skip
            self.probes += 1
            self._stable = {**(self._stable or {}), **self._probe(everything | wanted)}
            # a partition the broker did not answer for: known as not lagging
            for tp in wanted - self._stable.keys():
                self._stable[tp] = -1
        stable = self._stable
        held = False
        for i in channels:
            if any(stable[(t, p)] > offset for t, p, offset in self._positions[i] or ()):
                self._held[i] = held = True
        return held

    def _combine(self) -> bool:
        rowtime, frontier, idle = self._candidate()
        if self._probe is not None:
            passed = self._passed(rowtime, frontier, idle)
            if passed and self._hold_lagging(passed):
                rowtime, frontier, idle = self._candidate()
        before = (self.stage_rowtime, self.stage_frontier, self.stage_idle)
        self.stage_rowtime, self.stage_frontier, self.stage_idle = rowtime, frontier, idle
        return (rowtime, frontier, idle) != before

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        return []

    def snapshot(self, key: Any) -> Any:
        positions = [None if p is None else [list(x) for x in p] for p in self._positions]
        return [self._rowtimes, self._frontiers, self._idle,
                self.stage_rowtime, self.stage_frontier, self.stage_idle, positions,
                self._quiet]  # fmt: skip

    def restore(self, key: Any, value: Any) -> None:
        rowtimes, frontiers, idle, self.stage_rowtime, self.stage_frontier, self.stage_idle = value[
            :6
        ]
        n = len(self._rowtimes)
        if len(rowtimes) != n:
            raise ValueError(
                f"the changelog knows {len(rowtimes)} upstream partitions, now there are {n}: "
                "reset the application (shardline sql reset) after changing partition counts"
            )
        self._rowtimes, self._frontiers, self._idle = list(rowtimes), list(frontiers), list(idle)
        # the previous release kept no positions: its idle channels are not probed
        positions = value[6] if len(value) > 6 else [None] * n
        self._positions = [
            None if p is None else tuple((t, q, o) for t, q, o in p) for p in positions
        ]
        # nor quiet channels
        self._quiet = list(value[7]) if len(value) > 7 else [False] * n


def _valve(values: list[int], current: int) -> int:
    """The minimum of the channels that are not behind ``current``; ``current`` if all are."""
    aligned = [v for v in values if v >= current]
    return min(aligned) if aligned else current


#: The side of a :class:`MergeBuffer` entry that is a channel's frontier, not a row.
FRONTIER_SIDE = -1


class MergeBuffer(StatefulOperator):
    """Rows of the repartition topic waiting for the stage's ROWTIME to pass them.

    It also keeps the frontiers of channels whose rows passed a late gate
    (:meth:`add_frontier`): a marker's frontier leaves after the rows its channel sent
    before it, in the same order, as a row ``(ROWTIME, channel, frontier)`` of side
    :data:`FRONTIER_SIDE`.

    Kept in the changelog in chunks: the rows that arrived during one commit epoch are one
    entry, rewritten when some of them left and deleted when all did."""

    def __init__(self, pump: str) -> None:
        super().__init__("__buffer")
        self._pump = pump
        # (rowtime, channel, seq, side, row, epoch): a heap in release order
        self._heap: list[tuple[int, int, int, int, Row, int]] = []
        self._chunks: dict[int, int] = {}
        self._seq = 0
        self._epoch = 0

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, channel: int, side: int, row: Row, stage_rowtime: int) -> None:
        self.add_many(channel, side, [row], stage_rowtime)

    def add_many(self, channel: int, side: int, rows: Sequence[Row], stage_rowtime: int) -> None:
        """The rows of one record of ``channel``, in order. One below ``stage_rowtime`` (its
        channel had been idle, and the stage's ROWTIME went on without it) enters the
        stage's stream now: it takes the stage's ROWTIME, as a row entering a KDA
        in-application stream does."""
        heap, seq, epoch = self._heap, self._seq, self._epoch
        push = heapq.heappush
        for row in rows:
            rowtime = int(row[0])
            if rowtime < stage_rowtime:
                rowtime = stage_rowtime
                row = (Timestamp(rowtime), *row[1:])
            push(heap, (rowtime, channel, seq, side, row, epoch))
            seq += 1
        self._seq = seq
        if rows:
            self._chunks[epoch] = self._chunks.get(epoch, 0) + len(rows)
            self.store.mark(("b", epoch))

    def add_frontier(self, channel: int, rowtime: int, frontier: int, stage_rowtime: int) -> None:
        """The frontier of a marker of ``channel`` at ``rowtime``: it leaves once the rows
        the channel sent before it did (their ROWTIME is at most the marker's, their place
        in the heap before it), at the latest with the first row it sends after it."""
        at = max(int(rowtime), stage_rowtime)
        self.add_many(channel, FRONTIER_SIDE, [(Timestamp(at), channel, int(frontier))], at)

    def waiting_frontiers(self, channels: int) -> list[int]:
        """Per channel, how many of its frontiers are waiting (after a restore)."""
        counts = [0] * channels
        for entry in self._heap:
            if entry[3] == FRONTIER_SIDE:
                counts[entry[1]] += 1
        return counts

    def release(self, rowtime: int, everything: bool) -> dict[int, list[Row]]:
        """The rows below ``rowtime`` (all of them with ``everything``), per side, in order."""
        out: dict[int, list[Row]] = {}
        heap = self._heap
        pop = heapq.heappop
        left: dict[int, int] = {}  # rows that left, per epoch
        while heap and (everything or heap[0][0] < rowtime):
            _, _, _, side, row, epoch = pop(heap)
            rows = out.get(side)
            if rows is None:
                rows = out[side] = []
            rows.append(row)
            left[epoch] = left.get(epoch, 0) + 1
        chunks = self._chunks
        for epoch, gone in left.items():
            remaining = chunks[epoch] - gone
            if remaining:
                chunks[epoch] = remaining
                self.store.mark(("b", epoch))
            else:
                del chunks[epoch]
                self.store.delete(("b", epoch))
        return out

    def process(self, rows: list[Row], ctx: Context) -> list[Row]:
        return []

    def snapshot(self, key: Any) -> Any:
        epoch = key[1]
        return [[e[1], e[2], e[3], _encoded(e[4])] for e in self._heap if e[5] == epoch]

    def end_epoch(self) -> None:
        self._epoch += 1

    def restore(self, key: Any, value: Any) -> None:
        epoch = int(key[1])
        for channel, seq, side, encoded in value:
            row = tuple(decode_value(v) for v in encoded)
            self._heap.append((int(row[0]), channel, seq, side, row, epoch))
            self._seq = max(self._seq, seq + 1)
        self._chunks[epoch] = self._chunks.get(epoch, 0) + len(value)
        self._epoch = max(self._epoch, epoch + 1)

    def finish_restore(self) -> None:
        heapq.heapify(self._heap)
