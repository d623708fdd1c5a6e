"""The delivery core without Kafka: buffers per partition, flushes, backs up, tracks offsets.

:class:`DeliveryCore` is driven by the worker (or a test): ``add`` records as they are
consumed, flush what ``due`` returns, then ``committable`` names the offsets that may be
committed — only the contiguous prefix the destination (or the backup) confirmed.

**Replay alignment.** Batches are cut by size, count or the wall-clock interval, so a worker
that replays from the committed offset may cut differently from the one that crashed after
writing but before committing. A destination whose writes are keyed by content (S3) offers
``async written(batch) -> Probe``. Until a partition's first batch that a previous owner did
*not* write, the core asks before each send: when the previous owner's batch ended at ``Y``
and ours does not, the records go back into the buffer, which is then cut exactly at ``Y``
(holding size, count and interval), so the same objects are written again — identical bytes,
which the destination's conditional write recognises — and never a second, differently cut
copy. A partition's batches are written in offset order, one after another, so the first
batch nobody wrote ends the search.

**Source backup** (Firehose's ``S3BackupMode`` ``AllDocuments`` / ``Enabled``). With
``source_backup``, every batch is also written, as consumed, to that destination, at the same
time as to the main one; its offsets are acked only when both are durable, and a batch the
source backup cannot write stops the delivery like any permanent failure without a backup.
When the main destination cannot tell what a previous owner wrote (Elasticsearch), the source
backup is asked instead: it received the very same batches, so replay alignment keeps its
content-keyed objects identical.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from connectors.core.buffer import BufferingHints, PartitionBuffer
from connectors.core.failures import FailureFormatter, format_failure, to_backup_record
from connectors.core.metrics import FlushReport, LoggingMetrics, MetricsHook
from connectors.core.offsets import OffsetTracker
from connectors.core.outcome import Destination, NoOutput, NotWritten, Probe, Written
from connectors.core.records import Batch, Record, Rejected
from connectors.core.retry import DeliveryResult, RetryOptions, Sleep, deliver_batch
from connectors.transform.stage import Transformed, TransformStage, with_lambda_arn
from ground.clock import Clock, monotonic_ms, wall_ms
from ground.errors import DeliveryError, PermanentDeliveryError, RetriableDeliveryError

__all__ = ["RECORD_OVERHEAD_BYTES", "Clock", "DeliveryCore", "monotonic_ms"]

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]

#: What a consumed record costs in memory beyond its value bytes: the Record object, its key,
#: the value's bytes header, the list slot (measured with tracemalloc: ~175-200 bytes).
#: Counted in :attr:`DeliveryCore.held_bytes`, so a memory cap holds for small records too.
RECORD_OVERHEAD_BYTES = 200


def held_cost(records: int, value_bytes: int) -> int:
    """Memory held for ``records`` records of ``value_bytes`` value bytes in all."""
    return value_bytes + records * RECORD_OVERHEAD_BYTES


@dataclass(slots=True)
class _Partition:
    """Everything the core keeps for one assigned partition."""

    buffer: PartitionBuffer
    offsets: OffsetTracker = field(default_factory=OffsetTracker)
    ready: list[Batch] = field(default_factory=list)  # cut by size/count, not yet flushed
    committed: int | None = None
    # cut batches not yet delivered: start offset → their oldest Kafka timestamp
    pending_ts: dict[int, int] = field(default_factory=dict)
    incoming_records: int = 0  # consumed since last reported to the metrics hook
    incoming_bytes: int = 0
    # Replay alignment: still asking the destination what a previous owner wrote; and the
    # end offset the buffer must be cut at (size, count and interval are held until then).
    recovering: bool = True
    align_to: int | None = None
    # Memory held for this partition: buffered + cut + being sent, until acked or forgotten.
    held_bytes: int = 0

    def place(self, record: Record, now: int) -> None:
        """Buffer ``record``, cutting by the hints, or exactly at ``align_to`` when set."""
        buffer = self.buffer
        if self.align_to is not None:
            if record.offset <= self.align_to:
                buffer.add(record, now)
                if record.offset == self.align_to:
                    self.cut()
                    self.align_to = None
                return
            if len(buffer):  # a gap (transaction markers): the aligned batch ends before
                self.cut()
            self.align_to = None
        if not buffer.fits(record):
            self.cut()
        buffer.add(record, now)
        if buffer.full():
            self.cut()

    def put_back(self, batches: list[Batch], align_to: int | None, now: int) -> None:
        """Return undelivered ``batches`` (in offset order, oldest first) to the buffer and
        buffer them again, with everything buffered since, cut at ``align_to``."""
        for batch in batches:
            self.pending_ts.pop(batch.start_offset, None)
        records = [r for b in batches for r in b.records]
        for batch in self.ready:  # cut meanwhile (not flushed yet): after ours
            self.pending_ts.pop(batch.start_offset, None)
            records.extend(batch.records)
        self.ready.clear()
        records.extend(self.buffer.take())
        self.align_to = align_to
        for record in records:
            self.place(record, now)

    def cut(self, *, forced: bool = False) -> None:
        buffer = self.buffer
        oldest, arrival = buffer.oldest_timestamp_ms, buffer.first_arrival_ms
        batch = Batch.of(buffer.take(), arrival, forced=forced)
        if oldest is not None:
            self.pending_ts[batch.start_offset] = oldest
        self.ready.append(batch)

    def oldest_pending_ms(self) -> int | None:
        times = list(self.pending_ts.values())
        if self.buffer.oldest_timestamp_ms is not None:
            times.append(self.buffer.oldest_timestamp_ms)
        return min(times) if times else None


class DeliveryCore:
    """Buffer → encode → send → classify → retry → ack, for one destination."""

    def __init__(
        self,
        name: str,
        destination: Destination,
        *,
        hints: BufferingHints,
        retry: RetryOptions,
        backup: Destination | None = None,
        backup_retry: RetryOptions | None = None,
        source_backup: Destination | None = None,
        format_failure: FailureFormatter = format_failure,
        clock: Clock = monotonic_ms,
        wall_clock: Clock = wall_ms,
        sleep: Sleep = asyncio.sleep,
        metrics: MetricsHook | None = None,
        transform: TransformStage | None = None,
    ) -> None:
        self.name = name
        # Applied to each batch before delivery; its failures go to ``backup`` by type.
        self.transform = transform
        self.destination = destination
        self.hints = hints
        self.retry = retry
        self.backup = backup
        self.backup_retry = backup_retry or retry
        self.source_backup = source_backup
        self.format_failure = format_failure
        self.clock = clock
        self.wall_clock = wall_clock
        self.sleep = sleep
        self.metrics: MetricsHook = metrics if metrics is not None else LoggingMetrics()
        self._partitions: dict[TopicPartition, _Partition] = {}
        self.metrics.track(self)

    # -- what a metrics hook reads (possibly from another thread) -------------------------

    @property
    def destination_name(self) -> str:
        return self.destination.name

    @property
    def backup_name(self) -> str | None:
        return self.backup.name if self.backup is not None else None

    def oldest_pending_ms(self) -> dict[TopicPartition, int | None]:
        """Per partition held: Kafka timestamp of the oldest record consumed but not yet
        delivered, or None when everything consumed was delivered."""
        return {tp: state.oldest_pending_ms() for tp, state in tuple(self._partitions.items())}

    def partition_count(self) -> int:
        """Firehose's active partitions: the dynamic partitions held by undelivered records
        with dynamic partitioning, else the Kafka partitions the core holds state for."""
        partitions = self.transform.partitions if self.transform is not None else None
        if partitions is not None:
            return len(partitions)
        return len(self._partitions)

    def partition_count_exceeded(self) -> int:
        """Records sent to the error output for the active-partition limit so far."""
        partitions = self.transform.partitions if self.transform is not None else None
        return partitions.exceeded if partitions is not None else 0

    # -- buffering -----------------------------------------------------------------------

    def _state(self, tp: TopicPartition) -> _Partition:
        state = self._partitions.get(tp)
        if state is None:
            state = self._partitions[tp] = _Partition(PartitionBuffer(self.hints))
        return state

    def add(self, record: Record, now_ms: int | None = None) -> None:
        """Buffer one consumed record (in offset order per partition)."""
        now = self.clock() if now_ms is None else now_ms
        state = self._state((record.topic, record.partition))
        state.offsets.track(record.offset)
        size = record.size_bytes
        state.incoming_records += 1
        state.incoming_bytes += size
        state.held_bytes += size + RECORD_OVERHEAD_BYTES
        state.place(record, now)

    def _report_incoming(self) -> None:
        """Hands the records consumed since the last call to the hook, one call per partition."""
        for (topic, partition), state in self._partitions.items():
            if state.incoming_records:
                self.metrics.on_incoming(
                    self.name, topic, partition, state.incoming_records, state.incoming_bytes
                )
                state.incoming_records = state.incoming_bytes = 0

    def due(self, now_ms: int | None = None) -> list[Batch]:
        """Batches to flush now: cut by size/count, or whose oldest record waited interval_ms.

        Also reports the records consumed since the last ``due``/``drain`` to the hook.
        """
        now = self.clock() if now_ms is None else now_ms
        self._report_incoming()
        out: list[Batch] = []
        for state in self._partitions.values():
            if state.align_to is None and state.buffer.expired(now):
                state.cut()
            out.extend(state.ready)
            state.ready.clear()
        return out

    def drain(self, partitions: Iterable[TopicPartition] | None = None) -> list[Batch]:
        """Everything buffered (for the given partitions), regardless of the hints."""
        keys = list(self._partitions) if partitions is None else list(partitions)
        self._report_incoming()
        out: list[Batch] = []
        for tp in keys:
            state = self._partitions.get(tp)
            if state is None:
                continue
            if len(state.buffer):
                state.cut()
            out.extend(state.ready)
            state.ready.clear()
        return out

    def next_due_ms(self, now_ms: int) -> int | None:
        waits = [s.buffer.due_in_ms(now_ms) for s in self._partitions.values()
                 if s.align_to is None]
        known = [w for w in waits if w is not None]
        return min(known) if known else None

    @property
    def held_bytes(self) -> int:
        """Memory held for records consumed and not yet delivered (buffered, cut, in flight),
        counted as value bytes + :data:`RECORD_OVERHEAD_BYTES` per record."""
        return sum(s.held_bytes for s in tuple(self._partitions.values()))

    def held_by_partition(self) -> dict[TopicPartition, int]:
        """:attr:`held_bytes` per partition (partitions holding nothing included)."""
        return {tp: s.held_bytes for tp, s in tuple(self._partitions.items())}

    def cut_largest(self, target_bytes: int) -> list[TopicPartition]:
        """Cut buffers before their hints say so, the largest first, until what stays in the
        buffers is at most ``target_bytes``; ``due`` then returns them. Returns the partitions
        cut. A forced cut depends on timing, like an interval cut (replay alignment re-cuts a
        replay where it fell); partitions being aligned are left alone."""
        states = sorted(
            ((tp, s) for tp, s in self._partitions.items()
             if len(s.buffer) and s.align_to is None),
            key=lambda item: item[1].buffer.size_bytes, reverse=True,
        )
        in_buffers = sum(held_cost(len(s.buffer), s.buffer.size_bytes)
                         for s in self._partitions.values())
        cut: list[TopicPartition] = []
        for tp, state in states:
            if in_buffers <= target_bytes:
                break
            in_buffers -= held_cost(len(state.buffer), state.buffer.size_bytes)
            state.cut(forced=True)
            cut.append(tp)
        return cut

    @property
    def buffered(self) -> int:
        return sum(len(s.buffer) + sum(len(b) for b in s.ready) for s in self._partitions.values())

    # -- flushing ------------------------------------------------------------------------

    async def flush(self, batches: Iterable[Batch]) -> None:
        """Deliver ``batches``: partitions concurrently, each partition's batches in order.

        Raises the first PermanentDeliveryError after every partition has finished, so the
        offsets of partitions that did succeed can still be committed.
        """
        by_partition: dict[TopicPartition, list[Batch]] = {}
        for batch in batches:
            by_partition.setdefault((batch.topic, batch.partition), []).append(batch)
        results = await asyncio.gather(
            *(self._flush_partition(tp, bs) for tp, bs in by_partition.items()),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _flush_partition(self, tp: TopicPartition, batches: list[Batch]) -> None:
        for i, batch in enumerate(batches):
            state = self._partitions.get(tp)
            probed: Transformed | None = None  # the stage's output the probe asked about
            if state is not None and state.recovering:
                probe, probed = await self._probe(batch)
                if isinstance(probe, NotWritten):
                    state.recovering = False
                elif isinstance(probe, Written) and probe.end_offset != batch.end_offset:
                    # Its start may differ from ours: records without output (tombstones,
                    # dropped) were cut off first, by us or by it. When it starts later, the
                    # records before it make no output: cut them off alone first.
                    end = probe.end_offset
                    if probe.start_offset > batch.start_offset:
                        end = probe.start_offset - 1
                    log.info("%s: %s[%d] %d..%d was written before as %d..%d: re-cutting",
                             self.name, tp[0], tp[1], batch.start_offset, batch.end_offset,
                             probe.start_offset, probe.end_offset)
                    if probed is not None and self.transform is not None:
                        self.transform.release(probed)
                    state.put_back(batches[i:], end, self.clock())
                    return  # the re-cut batch goes with the next flush
            await self._flush_batch(batch, probed)
            state = self._partitions.get(tp)
            if state is not None:  # revoked meanwhile: nothing to ack
                state.offsets.ack(r.offset for r in batch.records)
                state.pending_ts.pop(batch.start_offset, None)
                state.held_bytes -= held_cost(len(batch), batch.size_bytes)

    async def _probe(self, batch: Batch) -> tuple[Probe | None, Transformed | None]:
        """What the destination says a previous owner wrote of ``batch`` (None: it cannot
        tell), asking again on transient failures for up to the retry duration.

        With a transform stage the destination's keys depend on what the stage makes of the
        batch (partition keys, dropped records): the source backup, written with the same cut
        and keyed by the source records, is asked when there is one; otherwise the stage is
        applied to the batch and the destination is asked about its output, which carries the
        source batch's cut. That output is returned with the answer, to be sent as it is: the
        processing hook is called once per batch, and what is written is what was probed."""
        written = None
        if self.transform is None:
            written = getattr(self.destination, "written", None)
        if written is None and self.source_backup is not None:
            written = getattr(self.source_backup, "written", None)
        if written is None and self.transform is not None:
            dest_written = getattr(self.destination, "written", None)
            if dest_written is None:
                return None, None
            transformed = await self.transform.apply(batch)
            output = transformed.batch(batch)
            if output is None:
                return NoOutput(), transformed
            try:
                return await self._ask(dest_written, output), transformed
            except BaseException:
                self.transform.release(transformed)
                raise
        if written is None:
            return None, None
        return await self._ask(written, batch), None

    async def _ask(self, written: Callable[[Batch], Awaitable[Probe]], batch: Batch) -> Probe:
        """``await written(batch)``, again on transient failures for up to the retry duration."""
        deadline = self.clock() + self.retry.duration_ms
        backoff_ms = self.retry.initial_backoff_ms
        while True:
            try:
                probe: Probe = await written(batch)
                return probe
            except RetriableDeliveryError as exc:
                if self.clock() + backoff_ms > deadline:
                    raise DeliveryError(
                        f"{self.name}: cannot tell what was written before: {exc}",
                        destination=self.destination.name,
                    ) from exc
                log.info("%s: probe failed, again in %d ms: %s", self.name, backoff_ms, exc)
                await self.sleep(backoff_ms / 1000)
                backoff_ms = min(backoff_ms * 2, self.retry.max_backoff_ms)

    def _on_encode(self, destination: Destination) -> Callable[[float, bool], None]:
        def report(seconds: float, succeeded: bool) -> None:
            self.metrics.on_processing(self.name, destination.name, seconds, succeeded)
        return report

    async def _flush_batch(self, batch: Batch, transformed: Transformed | None = None) -> None:
        """Transform (unless ``transformed`` is the stage's output for it already) and
        deliver ``batch``."""
        if self.transform is None:
            await self._deliver(batch, batch, None)
            return
        if transformed is None:
            transformed = await self.transform.apply(batch)
        if transformed.hook is not None:
            self.metrics.on_processing(self.name, self.destination.name,
                                       transformed.hook.seconds, transformed.hook.succeeded)
        try:
            await self._deliver(batch, transformed.batch(batch), transformed)
        finally:
            self.transform.release(transformed)

    async def _send(self, batch: Batch | None) -> DeliveryResult | None:
        if batch is None:
            return None
        # With a processing hook, ExecuteProcessing times the hook, not the encoding.
        timed = self.transform is None or self.transform.hook is None
        return await deliver_batch(
            self.destination, batch, self.retry, sleep=self.sleep,
            on_encode=self._on_encode(self.destination) if timed else None)

    async def _send_source_backup(self, source: Batch) -> DeliveryResult | None:
        if self.source_backup is None or all(r.value is None for r in source.records):
            return None
        timed = self.transform is None or self.transform.hook is None
        return await deliver_batch(
            self.source_backup, source, self.backup_retry, sleep=self.sleep,
            on_encode=self._on_encode(self.source_backup) if timed else None)

    async def _backup_failures(
        self, rejected: list[Rejected], attempts: dict[int, int], default_attempts: int
    ) -> DeliveryResult:
        """Failure documents to the backup, in (offset, sub) order; each keeps its
        error-output-type, by which the S3 backup writes one object per type."""
        assert self.backup is not None
        now = self.wall_clock()
        formatter = self.format_failure
        if self.transform is not None and self.transform.hook is not None:
            formatter = with_lambda_arn(formatter, self.transform.hook.name)
        records = sorted(
            (to_backup_record(r, attempts.get(id(r), default_attempts), now, formatter)
             for r in rejected),
            key=lambda r: (r.offset, r.sub),
        )
        timed = self.transform is None or self.transform.hook is None
        return await deliver_batch(
            self.backup, Batch.of(records), self.backup_retry, sleep=self.sleep,
            on_encode=self._on_encode(self.backup) if timed else None)

    async def _deliver(
        self, batch: Batch, deliver: Batch | None, transformed: Transformed | None
    ) -> None:
        started = self.clock()
        arrival = batch.arrival_ms
        main, source = await asyncio.gather(self._send(deliver),
                                            self._send_source_backup(batch))
        result = main if main is not None else DeliveryResult(batch)  # nothing left to send
        delivered = main.delivered if main is not None else 0
        delivered_bytes = main.delivered_bytes if main is not None else 0
        rejected = list(result.rejected)
        attempts: dict[int, int] = {}
        if transformed is not None:
            rejected = list(transformed.failures) + rejected
            attempts = {id(r): n for r, n in zip(transformed.failures, transformed.attempts,
                                                   strict=True)}
        backup_result: DeliveryResult | None = None
        error: PermanentDeliveryError | None = None
        if source is not None and source.rejected:
            failed = source.rejected[0]
            assert self.source_backup is not None
            error = PermanentDeliveryError(
                f"{self.name}: the source backup to {self.source_backup.name} failed for"
                f" {len(source.rejected)} record(s) of {batch.topic}[{batch.partition}]"
                f" offsets {batch.start_offset}..{batch.end_offset} (first: offset"
                f" {failed.record.offset}: {failed.error_code}: {failed.error_message});"
                " offsets are not committed",
                destination=self.source_backup.name,
            )
        if rejected:
            first = rejected[0]
            where = (
                f"{self.name}: {len(rejected)} record(s) of {batch.topic}[{batch.partition}]"
                f" offsets {batch.start_offset}..{batch.end_offset} failed permanently"
                f" (first: offset {first.record.offset}: {first.error_code}: {first.error_message})"
            )
            if error is not None:
                pass  # the source backup failed: nothing is acked anyway
            elif self.backup is None:
                error = PermanentDeliveryError(
                    where + "; no backup is configured, offsets are not committed",
                    destination=self.destination.name,
                )
            else:
                backup_result = await self._backup_failures(rejected, attempts, result.attempts)
                if backup_result.rejected:
                    failed = backup_result.rejected[0]
                    error = PermanentDeliveryError(
                        where + f"; the backup to {self.backup.name} failed too"
                        f" ({failed.error_code}: {failed.error_message}); offsets are not"
                        " committed",
                        destination=self.destination.name,
                    )
                else:
                    log.warning("%s; backed up to %s", where, self.backup.name)
        finished = self.clock()
        # What the backup wrote (the failure documents, not the raw records), even when it
        # failed part-way: those objects exist.
        backed_up = 0 if backup_result is None else backup_result.delivered
        backed_up_bytes = 0 if backup_result is None else backup_result.delivered_bytes
        self.metrics.on_flush(
            FlushReport(
                delivery=self.name,
                destination=self.destination.name,
                topic=batch.topic,
                partition=batch.partition,
                start_offset=batch.start_offset,
                end_offset=batch.end_offset,
                records=len(batch),
                bytes=batch.size_bytes,
                delivered=delivered,
                backed_up=backed_up,
                attempts=result.attempts,
                duration_ms=finished - started,
                freshness_ms=finished - arrival if arrival is not None else 0,
                delivered_bytes=delivered_bytes,
                writes=result.writes,
                attempted_records=result.attempted_records,
                backup_destination=self.backup_name if backup_result is not None else None,
                backed_up_bytes=backed_up_bytes,
                backup_attempts=0 if backup_result is None else backup_result.attempts,
                backup_writes=0 if backup_result is None else backup_result.writes,
                failed=len(rejected) - backed_up if transformed is not None
                else len(batch) - delivered - backed_up,
                forced=batch.forced,
            )
        )
        if error is not None:
            raise error

    # -- offsets -------------------------------------------------------------------------

    def committable(self) -> dict[TopicPartition, int]:
        """Offsets that may be committed now and were not committed yet."""
        out: dict[TopicPartition, int] = {}
        for tp, state in self._partitions.items():
            offset = state.offsets.committable()
            if offset is not None and offset != state.committed:
                out[tp] = offset
        return out

    def mark_committed(self, offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            state = self._partitions.get(tp)
            if state is not None:
                state.committed = offset
                self.metrics.on_commit(self.name, tp[0], tp[1], offset)

    async def prepare(self, partitions: Iterable[TopicPartition]) -> None:
        """Newly assigned partitions: let the destinations clean up what a crashed owner left
        (S3 aborts its incomplete multipart uploads)."""
        tps = list(partitions)
        for dest in (self.destination, self.backup, self.source_backup):
            prepare = getattr(dest, "prepare", None)
            if prepare is not None and tps:
                await prepare(tps)

    def forget(self, partitions: Iterable[TopicPartition]) -> int:
        """Drop the state of revoked/lost partitions; returns how many consumed records were
        not delivered (buffered, cut or being sent)."""
        dropped = 0
        for tp in partitions:
            state = self._partitions.pop(tp, None)
            if state is not None:  # buffered, cut, or being sent: consumed, not delivered
                dropped += state.offsets.outstanding
        return dropped
