"""The runtime's processors of a SQL application: one per partition of each topic it reads.

* :class:`SqlPartitionProcessor` — a partition of an input topic (stage 0): decodes records
  into rows, runs the stage's pumps, encodes the rows of the output streams and of
  ``error_stream``, and writes what crosses a repartition (rows, partial aggregates, and the
  markers that carry its ROWTIME and frontier: :mod:`pipelines.sql.shuffle`).
* :class:`StageProcessor` — a partition of a repartition topic (stage ``k``): reads those
  records, keeps the stage's time from the markers of every upstream partition
  (:class:`~pipelines.sql.shuffle.ChannelClock`), hands rows to its pumps in ROWTIME order
  and partial aggregates to the final phase of a two-phase window, and writes outputs (and
  what crosses a further repartition) the same way.

Both only compute: the runtime puts everything they return, and their state changes, in the
transaction that commits their input offsets (:mod:`pipelines.runtime`).

An error row's ``SOURCE_OFFSET`` is the offset of the input record it came from when that is
one record: a record that does not decode, and a row of the input stream that a pump fails
on in the batch the record came in (a type error, a ``Late_Row``). Other failing rows have
no one input record and carry -1: a row an earlier pump made (an in-application stream's row
is not traced back to its input), a window's result, a row a pump held across batches (a
join's or a sort's buffer), and every row behind a repartition (the stage reads the rows of
many input records, purged once read; its error rows name the repartition topic).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ground.errors import RowError
from pipelines.error_rows import ErrorRow
from pipelines.runtime import OutRecord, SourceRecord, StableOffsetProbe
from pipelines.sql.decoders import RECORD_TOO_LARGE
from pipelines.sql.encoders import RowEncoder
from pipelines.sql.engine import NO_FLOOR, PartitionEngine
from pipelines.sql.operators.base import KeyedRow, RowFailure
from pipelines.sql.plan import ApplicationPlan
from pipelines.sql.shuffle import (
    FRONTIER_SIDE,
    MARKER,
    NEVER,
    PARTIAL,
    ROW,
    ROWS,
    ChannelClock,
    ExchangeWriter,
    MergeBuffer,
    Positions,
    decode_record,
)
from pipelines.sql.stages import Stage
from pipelines.sql.state_codec import tag
from pipelines.sql.types import Row, Timestamp

__all__ = ["Emission", "Output", "SqlPartitionProcessor", "StageProcessor"]


@dataclass(frozen=True, slots=True)
class Output:
    stream: str
    topic: str
    encoder: RowEncoder


@dataclass(frozen=True, slots=True)
class Emission:
    """What every processor of an application writes to: its output streams' topics and
    encoders, the error topic and encoder, and the limits of a record."""

    outputs: Mapping[str, Sequence[Output]]
    error_topic: str
    error_encoder: RowEncoder
    max_record_bytes: int
    allowed_lateness_ms: int

    def encode_error(self, row: ErrorRow) -> bytes:
        return self.error_encoder.encode(row.as_sql_row())


class _Processor:
    """What both kinds share: the stage's engine, outputs and error rows, the writers of
    its repartitions and their markers."""

    def __init__(
        self,
        emission: Emission,
        engine: PartitionEngine,
        writers: Sequence[ExchangeWriter],
        topic: str,
        partition: int,
    ) -> None:
        self._emission = emission
        self._engine = engine
        self._writers = list(writers)
        self._topic = topic
        self._partition = partition
        self._outputs = emission.outputs
        #: streams whose rows come from another stage, which wrote them to their outputs
        self._received: frozenset[str] = frozenset()
        #: during a call: the input offset of each row of the input stream (see the module)
        self._origins: _Origins | None = None
        # the stream each writer reads
        self._written: dict[str, list[ExchangeWriter]] = {}
        for w in self._writers:
            self._written.setdefault(w.outbound.stream, []).append(w)
        #: the streams whose rows may stop reaching their repartition (:meth:`_quiet`)
        self._watched = [w.outbound.stream for w in self._writers if _may_quiet(w)]
        for stream in self._watched:
            engine.watch(stream)

    # -- the runtime's calls ------------------------------------------------------------------
    def take_changes(self) -> list[tuple[bytes, bytes | None]]:
        return self._engine.take_changes()

    def restore(self, entries: Iterable[tuple[bytes, bytes]]) -> None:
        self._engine.restore(entries)

    # -- emission -----------------------------------------------------------------------------
    def _emit(self, streams: Mapping[str, list[Row]], out: list[OutRecord]) -> None:
        written = self._written
        for stream, rows in streams.items():
            if not rows:
                continue
            for output in self._outputs.get(stream, ()) if stream not in self._received else ():
                topic, partition = output.topic, self._partition
                append = out.append
                for row, value in zip(rows, output.encoder.encode_many(rows, 1), strict=True):
                    key = row.key if type(row) is KeyedRow else None
                    append(OutRecord(topic, key, value, int(row[0]), partition))
            for writer in written.get(stream, ()):
                writer.write(rows, self._engine.ctx, out)
        for failure in self._engine.take_failures():
            out.append(self._failure(failure))

    def _mark(
        self,
        floors: Mapping[str, int],
        idle: bool,
        out: list[OutRecord],
        positions: Positions | None = None,
        quiet: frozenset[str] = frozenset(),
    ) -> None:
        """Each repartition this partition writes learns how far it has come: one marker per
        topic, with the lowest floor of the streams it writes there (a join's two sides),
        and, idle, how far it read its input (``positions``); ``quiet`` are the streams
        whose rows stopped reaching their repartition (:meth:`_quiet`)."""
        by_topic: dict[str, list[ExchangeWriter]] = {}
        for writer in self._writers:
            by_topic.setdefault(writer.topic, []).append(writer)
        for writers in by_topic.values():
            rowtime = min(floors.get(w.outbound.stream, NO_FLOOR) for w in writers)
            if rowtime >= NO_FLOOR:
                continue
            first = writers[0]
            frontier = rowtime
            if first.outbound.repartition.partials or first.outbound.repartition.gated:
                frontier = self._engine.frontier_of(first.outbound.stream)
            silent = all(w.outbound.stream in quiet for w in writers)
            first.mark(rowtime, frontier, idle, out, positions, silent)

    def _settle(
        self,
        floors: Mapping[str, int],
        idle: bool,
        out: list[OutRecord],
        positions: Positions | None = None,
    ) -> None:
        if not self._writers:
            return
        streams, known = self._engine.settle(floors)
        self._emit(streams, out)
        quiet = self._quiet(known, out)
        self._mark(known, idle, out, positions, quiet)

    def _quiet(self, floors: Mapping[str, int], out: list[OutRecord]) -> frozenset[str]:
        """The streams written to a repartition whose rows stopped reaching it: an
        event-time window in front of it (partial aggregates, a late gate) saw no row while
        its input's ROWTIME moved on by the idle timeout (or since its first record). It
        sends what it holds without closing it (the partials of its open windows), and its
        channel stops holding the stage behind until a row reaches it again
        (:mod:`pipelines.sql.shuffle`)."""
        engine = self._engine
        quiet = []
        for stream in self._watched:
            if engine.quiet(stream, floors.get(stream, NO_FLOOR)):
                self._emit(engine.flush_quiet(stream), out)
                quiet.append(stream)
        return frozenset(quiet)

    def _read_to(self, offset: int | None) -> Positions | None:
        """This partition's input position ``offset`` as a marker's positions."""
        return None if offset is None else ((self._topic, self._partition, offset),)

    def _fail_now(self, out: list[OutRecord]) -> None:
        """Every row failure so far goes out with this call's records. Left for a later
        call it would be lost: the runtime commits this call's input offsets and state with
        its records, and a crash, an abort or a rebalance forgets what is only in memory."""
        for failure in self._engine.take_failures():
            out.append(self._failure(failure))

    def _failure(self, failure: RowFailure) -> OutRecord:
        data = orjson.dumps(tag(list(failure.row)))
        rowtime = failure.row[0] if failure.row and isinstance(failure.row[0], int) else None
        row = ErrorRow(
            int(self._engine.rowtime),
            failure.name,
            failure.message,
            rowtime,
            data,
            failure.pump,
            self._topic,
            self._partition,
            -1 if self._origins is None else self._origins.offset_of(failure.row),
        )
        return OutRecord(
            self._emission.error_topic,
            None,
            self._emission.encode_error(row),
            int(self._engine.rowtime),
            self._partition,
        )

    def _error(
        self, name: str, message: str, rowtime: int, raw: bytes, pump: str, record: SourceRecord
    ) -> OutRecord:
        row = ErrorRow(
            int(rowtime),
            name,
            message,
            int(rowtime),
            raw,
            pump,
            record.topic,
            record.partition,
            record.offset,
        )
        return OutRecord(
            self._emission.error_topic,
            None,
            self._emission.encode_error(row),
            int(rowtime),
            self._partition,
        )


def _may_quiet(writer: ExchangeWriter) -> bool:
    """Whether the channel of ``writer`` can hold the stage behind while its input flows: an
    event-time frontier moves only with the rows that reach it (a ROWTIME floor moves with
    the input, and partial aggregates on ROWTIME close on it)."""
    outbound = writer.outbound
    return outbound.event_time and (outbound.repartition.partials or outbound.repartition.gated)


class SqlPartitionProcessor(_Processor):
    """The runtime's processor for one input partition (see ``pipelines.runtime``)."""

    def __init__(
        self,
        emission: Emission,
        engine: PartitionEngine,
        writers: Sequence[ExchangeWriter],
        stream: str,
        decoder: Any,
        topic: str,
        partition: int,
    ) -> None:
        super().__init__(emission, engine, writers, topic, partition)
        self._stream = stream
        self._decoder = decoder

    def process(self, batch: Sequence[SourceRecord]) -> list[OutRecord]:
        engine = self._engine
        decode_rows = self._decoder.decode_rows
        max_bytes = self._emission.max_record_bytes
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        out: list[OutRecord] = []
        last_ms: int | None = None
        # the records that gave other than one row (for the offsets of error rows)
        uneven: list[tuple[SourceRecord, int]] = []
        # one row per record, decoded straight into the row tuple (AVRO), or the rows of
        # each record (``decode_rows``)
        prefixed = self._decoder.prefixed
        # ROWTIME is the running maximum of the timestamps (engine.next_rowtime), kept here
        # and handed to the engine once: an ascending timestamp is then one Timestamp for
        # both columns, not two and a method call per record
        high = engine.rowtime
        rowtime = Timestamp(high)
        times = (rowtime, Timestamp(0))
        for record in batch:
            timestamp_ms = record.timestamp_ms
            if timestamp_ms != last_ms:  # records of a batch often share their timestamp
                last_ms = timestamp_ms
                if timestamp_ms > high:
                    high = timestamp_ms
                    rowtime = Timestamp(timestamp_ms)
                    times = (rowtime, rowtime)
                else:
                    times = (rowtime, Timestamp(timestamp_ms))
            raw = record.value or b""
            if len(raw) > max_bytes:
                out.append(self._too_large(raw, max_bytes, rowtime, record))
                uneven.append((record, 0))
                continue
            try:
                if prefixed is not None:
                    append(prefixed(times, raw))
                    continue
                decoded = decode_rows(raw)
            except RowError as exc:
                out.append(self._error(exc.name, exc.message, rowtime, raw, self._stream, record))
                uneven.append((record, 0))
                continue
            if len(decoded) != 1:
                uneven.append((record, len(decoded)))
            for values in decoded:
                append(times + values)
        engine.next_rowtime(high)
        self._origins = _Origins(batch, rows, uneven)
        try:
            if rows:
                self._emit(engine.push(self._stream, rows), out)
            self._settle({self._stream: engine.rowtime}, False, out)
            self._fail_now(out)
        finally:
            self._origins = None
        return out

    def _too_large(
        self, raw: bytes, max_bytes: int, rowtime: Timestamp, record: SourceRecord
    ) -> OutRecord:
        return self._error(RECORD_TOO_LARGE, f"{len(raw)} bytes, over Runtime.MaxRecordBytes "
                           f"({max_bytes})", rowtime, raw, self._stream, record)  # fmt: skip

    def on_idle(
        self, now_ms: int, idle_ms: int, end_offset: int | None = None
    ) -> list[OutRecord]:
        out: list[OutRecord] = []
        self._emit(self._engine.advance(idle=True), out)
        # the stages behind learn where this partition's input ended: a record committed
        # there later makes it hold them again (shuffle's ChannelClock)
        self._settle({self._stream: self._engine.rowtime}, True, out, self._read_to(end_offset))
        self._fail_now(out)
        return out


class _Origins:
    """The input record of each row of a batch, found only when a row fails: ``rows`` are
    the batch's rows in record order, one per record but for the ``uneven`` records (a
    record that failed to decode gave none, a JSON array several)."""

    __slots__ = ("_batch", "_offsets", "_rows", "_uneven")

    def __init__(
        self,
        batch: Sequence[SourceRecord],
        rows: Sequence[Row],
        uneven: Sequence[tuple[SourceRecord, int]],
    ) -> None:
        self._batch, self._rows, self._uneven = batch, rows, uneven
        self._offsets: dict[int, int] | None = None

    def offset_of(self, row: Row) -> int:
        """The offset of the record ``row`` was decoded from; -1 when it is not a row of the
        batch (made by a pump, or held from an earlier batch). The rows are alive while the
        batch is processed, so an ``id`` names one of them."""
        if self._offsets is None:
            counts = {id(record): n for record, n in self._uneven}
            offsets: dict[int, int] = {}
            rows = iter(self._rows)
            for record in self._batch:
                for _ in range(counts.get(id(record), 1)):
                    offsets[id(next(rows))] = record.offset
            self._offsets = offsets
        return self._offsets.get(id(row), -1)


class StageProcessor(_Processor):
    """The runtime's processor for one partition of a repartition topic (stage ``k``)."""

    def __init__(
        self,
        emission: Emission,
        plan: ApplicationPlan,
        stage: Stage,
        writers: Sequence[ExchangeWriter],
        channels: int,
        topic: str,
        partition: int,
        probe: StableOffsetProbe | None = None,
        quiet_after_ms: int | None = None,
    ) -> None:
        assert stage.reads is not None
        self._clock = ChannelClock(channels, probe)
        self._buffer = MergeBuffer(stage.reads.pump)
        engine = PartitionEngine(
            plan,
            partition=partition,
            allowed_lateness_ms=emission.allowed_lateness_ms,
            steps=stage.steps,
            components=(self._clock, self._buffer),
            quiet_after_ms=quiet_after_ms,
        )
        super().__init__(emission, engine, writers, topic, partition)
        self._stage = stage
        self._pump = stage.reads.pump
        self._inbound = stage.inbound
        self._received = frozenset(stage.inbound)
        self._partials = stage.reads.partials
        #: rows that passed late gates: the markers' frontiers wait behind their rows
        self._gated = stage.reads.gated
        self._channels = channels

    def process(self, batch: Sequence[SourceRecord]) -> list[OutRecord]:
        out: list[OutRecord] = []
        clock, buffer, engine = self._clock, self._buffer, self._engine
        partials: list[Row] = []
        clock.begin_batch()
        for record in batch:
            kind, channel, payload = decode_record(record.value or b"")
            if kind == ROWS:
                side, rows = payload
                buffer.add_many(channel, side, rows, max(clock.stage_rowtime, engine.rowtime))
            elif kind == ROW:
                side, row = payload
                buffer.add(channel, side, row, max(clock.stage_rowtime, engine.rowtime))
            elif kind == PARTIAL:
                partials.append(payload)
            elif kind == MARKER:
                if partials:
                    self._emit(engine.push(self._inbound[0], partials), out)
                    partials = []
                rowtime, frontier, idle, positions, quiet = payload
                if self._gated:
                    stage_rowtime = max(clock.stage_rowtime, engine.rowtime)
                    buffer.add_frontier(channel, rowtime, frontier, stage_rowtime)
                    clock.update(channel, rowtime, frontier, idle, positions,
                                 frontier_later=True, quiet=quiet)  # fmt: skip
                    self._tick(out)  # its frontier may leave at once
                elif clock.update(channel, rowtime, frontier, idle, positions, quiet=quiet):
                    self._tick(out)
        if partials:
            self._emit(engine.push(self._inbound[0], partials), out)
        # idle, the stages behind learn how far this partition read: past its last record's
        # transaction marker at least (its consumer's end, once it is idle: on_idle)
        where = self._read_to(batch[-1].offset + 2) if batch else None
        self._settle(self._floors(), clock.stage_idle, out, where)
        self._fail_now(out)
        return out

    def _tick(self, out: list[OutRecord]) -> None:
        """The stage's time moved: hand over the rows it passed, close what it allows."""
        clock, engine = self._clock, self._engine
        if clock.stage_rowtime > NEVER:
            engine.set_rowtime(clock.stage_rowtime)
        released = self._buffer.release(clock.stage_rowtime, clock.stage_idle)
        frontiers = released.pop(FRONTIER_SIDE, None)
        if released:
            self._emit(
                engine.push_many({self._inbound[side]: rows for side, rows in released.items()}),
                out,
            )
        # the frontiers that left with them: every row their channels sent before is in
        for _, channel, frontier in frontiers or ():
            clock.reached(channel, frontier)
        if self._partials or self._gated:
            engine.ctx.frontiers[self._pump] = clock.stage_frontier
        self._emit(engine.advance(idle=clock.stage_idle), out)

    def _floors(self) -> dict[str, int]:
        return {stream: self._clock.stage_rowtime for stream in self._inbound}

    def on_idle(
        self, now_ms: int, idle_ms: int, end_offset: int | None = None
    ) -> list[OutRecord]:
        # the stage's time comes from its upstream partitions' markers; idle, the stages
        # behind learn where this partition's consumer reached its end
        out: list[OutRecord] = []
        if self._clock.stage_idle and end_offset is not None:
            self._settle(self._floors(), True, out, self._read_to(end_offset))
            self._fail_now(out)
        return out

    def restore(self, entries: Iterable[tuple[bytes, bytes]]) -> None:
        super().restore(entries)
        if self._gated:
            self._clock.set_waiting(self._buffer.waiting_frontiers(self._channels))
        if self._partials or self._gated:
            self._engine.ctx.frontiers[self._pump] = self._clock.stage_frontier
