"""The delivery core without Kafka: buffers per partition, flushes, acks, tracks offsets.

:class:`DeliveryCore` is driven by the worker (or a test): ``add`` records as they are
consumed, flush what ``due`` returns, then ``committable`` names the offsets that may be
committed — only the contiguous prefix the destination (or the backup) confirmed.

What a flush does beside sending lives in its own modules: asking what a previous owner
wrote, and re-cutting to match (:mod:`connectors.core.alignment`); the failure and source
backups (:mod:`connectors.core.backups`); the transform applied before delivery
(:mod:`connectors.core.transform`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from connectors.core.alignment import ReplayAlignment
from connectors.core.backups import Backups
from connectors.core.buffer import BufferingHints, PartitionBuffer
from connectors.core.destination import Destination
from connectors.core.failures import FailureFormatter, format_failure
from connectors.core.metrics import FlushReport, LoggingMetrics, MetricsHook
from connectors.core.partition import RECORD_OVERHEAD_BYTES, PartitionState, held_cost
from connectors.core.records import Batch, Record, TopicPartition
from connectors.core.retry import DeliveryResult, OnEncode, RetryOptions, Sleep, deliver_batch
from connectors.core.transform import Transform, Transformed
from ground.clock import Clock, monotonic_ms, wall_ms
from ground.errors import PermanentDeliveryError

__all__ = ["DeliveryCore"]


class DeliveryCore:
    """Buffer → transform → encode → send → classify → retry → ack, for one destination."""

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
        transform: Transform | None = None,
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
        # With a processing hook, ExecuteProcessing times the hook, not the encoding.
        self._times_encoding = transform is None or not transform.times_processing
        self.alignment = ReplayAlignment(
            name, destination, source_backup=source_backup, transform=transform, retry=retry,
            clock=clock, sleep=sleep)
        self.backups = Backups(
            name, backup=backup, source_backup=source_backup, retry=self.backup_retry,
            format_failure=transform.failure_formatter(format_failure) if transform is not None
            else format_failure,
            wall_clock=wall_clock, sleep=sleep, on_encode=self._on_encode)
        self._partitions: dict[TopicPartition, PartitionState] = {}
        self.metrics.track(self)

    @property
    def destinations(self) -> tuple[Destination, ...]:
        """The destination and the backups it has."""
        return tuple(d for d in (self.destination, self.backup, self.source_backup)
                     if d is not None)

    async def open(self) -> None:
        for destination in self.destinations:
            await destination.open()

    async def close(self) -> None:
        for destination in self.destinations:
            await destination.close()

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

    def _state(self, tp: TopicPartition) -> PartitionState:
        state = self._partitions.get(tp)
        if state is None:
            state = self._partitions[tp] = PartitionState(PartitionBuffer(self.hints))
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
            out.extend(state.take_ready())
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
            out.extend(state.take_ready())
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
            probed: Transformed | None = None  # the transform's output the probe asked about
            if state is not None and state.recovering:
                probe, probed = await self.alignment.probe(batch)
                if self.alignment.settled(probe):
                    state.recovering = False
                end = self.alignment.recut_at(batch, probe)
                if end is not None:
                    if probed is not None and self.transform is not None:
                        self.transform.release(probed)
                    state.put_back(batches[i:], end, self.clock())
                    return  # the re-cut batch goes with the next flush
            await self._flush_batch(batch, probed)
            state = self._partitions.get(tp)
            if state is not None:  # revoked meanwhile: nothing to ack
                state.delivered(batch)

    def _on_encode(self, destination: Destination) -> OnEncode | None:
        """Reports each encode call to ``destination`` as processing (None: not timed)."""
        if not self._times_encoding:
            return None

        def report(seconds: float, succeeded: bool) -> None:
            self.metrics.on_processing(self.name, destination.name, seconds, succeeded)
        return report

    async def _flush_batch(self, batch: Batch, transformed: Transformed | None = None) -> None:
        """Transform (unless ``transformed`` is the transform's output for it already) and
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
        return await deliver_batch(self.destination, batch, self.retry, sleep=self.sleep,
                                   on_encode=self._on_encode(self.destination))

    async def _deliver(
        self, batch: Batch, deliver: Batch | None, transformed: Transformed | None
    ) -> None:
        started = self.clock()
        arrival = batch.arrival_ms
        main, source = await asyncio.gather(self._send(deliver),
                                            self.backups.send_source(batch))
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
        error: PermanentDeliveryError | None = self.backups.source_error(batch, source)
        if rejected and error is None:  # the source backup failed: nothing is acked anyway
            backup_result, error = await self.backups.back_up(
                batch, rejected, attempts, result.attempts, destination=self.destination.name)
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
        if not tps:
            return
        for destination in self.destinations:
            await destination.prepare(tps)

    def forget(self, partitions: Iterable[TopicPartition]) -> int:
        """Drop the state of revoked/lost partitions; returns how many consumed records were
        not delivered (buffered, cut or being sent)."""
        dropped = 0
        for tp in partitions:
            state = self._partitions.pop(tp, None)
            if state is not None:  # buffered, cut, or being sent: consumed, not delivered
                dropped += state.offsets.outstanding
        return dropped
