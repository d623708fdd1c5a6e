"""The exactly-once consume → process → produce loop on confluent-kafka transactions.

One worker = one read_committed consumer in the application's group, one transactional
producer, one changelog reader. Each transaction holds the outputs of the batches processed
since the last commit, the processors' changelog entries, and the consumed positions of
*every* owned partition (``send_offsets_to_transaction`` with the consumer's group
metadata, KIP-447: a worker that has lost its partitions cannot commit any more). So
outputs, state and input offsets become visible together or not at all.

* An abortable failure aborts the transaction, seeks every owned partition back to its
  last committed offset and rebuilds its processor from the changelog.
* A revoke (rebalance, close) commits the open transaction first; a lost assignment aborts
  it. An assignment of new partitions commits it too, then restores each new partition's
  processor from its changelog before it is fetched (:mod:`~pipelines.runtime.ownership`).
* A fatal producer error (fenced after a broker restart) or a transactional call still
  blocked past its timeout (``deadline``) replaces the producer on the same
  ``transactional.id`` and replays every owned partition from its last commit; a second one
  within ``RESET_MIN_INTERVAL_S``, and processor exceptions, stop the worker. Nothing after
  the last commit is kept (:mod:`~pipelines.runtime.transactions`).

This module is the loop itself: set-up, the hot path (group a batch by partition, process,
produce), idle calls, recovery and shutdown. The client settings are in
:mod:`~pipelines.runtime.clients`.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient

from ground.clock import Clock, wall_ms
from ground.errors import RuntimeFailure, TransactionError
from ground.settings import Settings
from ground.startup import wait_until_up
from pipelines.runtime.changelog import ChangelogReader
from pipelines.runtime.clients import admin_config, consumer_config, producer_config
from pipelines.runtime.config import RuntimeConfig
from pipelines.runtime.idle import IdleTracker
from pipelines.runtime.instance import InstanceSlot, claim_instance, transactional_id
from pipelines.runtime.ownership import TP, Ownership
from pipelines.runtime.purge import RepartitionPurge
from pipelines.runtime.records import (
    OutRecord,
    PartitionProcessor,
    ProcessorFactory,
    SourceRecord,
)
from pipelines.runtime.stats import RunStats
from pipelines.runtime.topics import prepare_topics
from pipelines.runtime.transactions import Abortable, Transactions

__all__ = ["RunStats", "StreamRuntime", "run", "tune_gc"]

log = logging.getLogger(__name__)

#: Longest wait in ``consume`` so a stop request or a due commit is never kept waiting.
MAX_POLL_WAIT_MS = 100
#: A ``consume`` call that takes this long ran a slow rebalance callback: see
#: :meth:`IdleTracker.stalled`.
STALL_S = 0.5


class StreamRuntime:
    """One worker's loop; :meth:`run` blocks until ``stop`` is set or a fatal error.

    ``transactions`` (the producer and its open transaction) and ``ownership`` (the owned
    partitions, the rebalance callbacks, commit and rewind) are its two parts; the loop
    feeds them consumed batches.
    """

    def __init__(
        self,
        config: RuntimeConfig,
        settings: Settings,
        factory: ProcessorFactory,
        *,
        stop: threading.Event,
        clock: Clock = wall_ms,
        instance: InstanceSlot | None = None,
        until_idle_ms: int | None = None,
        on_poll: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        #: Called after each poll of the consumer, before its records are processed: what
        #: the processors share for one poll (a SQL application's probe of last stable
        #: offsets) starts afresh.
        self.on_poll = on_poll
        #: Stop by itself once every owned partition is caught up, flushed by ``on_idle``
        #: and quiet this long (batch-style runs: the demo, tests).
        self.until_idle_ms = until_idle_ms
        self.settings = settings
        self.factory = factory
        self.stop = stop
        self.clock = clock
        self.stats = RunStats()
        self._instance = instance
        self._owns_instance = instance is None
        self._idle = IdleTracker(config.idle_timeout_ms, config.idle_check_interval_ms)
        self._changelogs = config.changelog_topics()
        self.transactions = Transactions(
            config, self.stats, self._make_producer, init_wait=settings.startup_wait
        )
        self.ownership = Ownership(
            config, factory, self.transactions, self._idle, self.stats, clock
        )
        self._purge: RepartitionPurge | None = None

    # -- set-up --------------------------------------------------------------------------
    def _prepare_topics(self) -> None:
        """Create and check the topics; while no broker answers (a broker restarting, a
        worker started before its cluster), wait up to the start-up wait
        (``ground.startup``). A missing source topic or a bad config fails at once."""
        self.transactions.retention = wait_until_up(
            lambda: prepare_topics(self.config, self.settings.kafka, clock=self.clock),
            self.settings.startup_wait,
        )

    def _make_producer(self, txn_id: str) -> Any:
        return Producer(producer_config(self.config, self.settings.kafka, txn_id))

    def _open_clients(self) -> None:
        cfg, kafka = self.config, self.settings.kafka
        if self._instance is None:
            self._instance = claim_instance(self.settings.home, cfg.application_id, cfg.instance_id)
        txn_id = transactional_id(cfg.application_id, self._instance.instance_id)
        self.stats.instance_id = self._instance.instance_id
        self.transactions.start(txn_id)
        ownership = self.ownership
        ownership.reader = ChangelogReader(
            kafka, cfg.application_id, cfg.transaction_timeout_ms + cfg.operation_timeout_ms
        )
        ownership.consumer = Consumer(consumer_config(cfg, kafka, txn_id))
        if cfg.repartition_topics:
            self._purge = RepartitionPurge(
                AdminClient(admin_config(kafka)), cfg.internal_topics, clock=self.clock
            )
        ownership.consumer.subscribe(
            list(cfg.consumed_topics),
            on_assign=ownership.on_assign,
            on_revoke=ownership.on_revoke,
            on_lost=ownership.on_lost,
        )

    # -- the hot path ----------------------------------------------------------------------
    def _handle(self, msgs: list[Any], now_ms: int) -> None:
        groups: dict[TP, list[SourceRecord]] = {}
        events: list[Any] = []
        cur: list[SourceRecord] = []
        cur_t, cur_p = "", -1
        # tuple.__new__ straight: a NamedTuple's own __new__ is a Python function, one frame
        # per record more (about a third of building a record)
        make = tuple.__new__
        rec = SourceRecord
        for m in msgs:
            if m.error() is not None:
                events.append(m)  # after the records: an end event follows its partition's
                continue
            t = m.topic()
            p = m.partition()
            if p != cur_p or t != cur_t:
                cur_t, cur_p = t, p
                got = groups.get((t, p))
                if got is None:
                    got = groups[(t, p)] = []
                cur = got
            cur.append(make(rec, (t, p, m.offset(), m.timestamp()[1], m.key(), m.value())))
        owned, txn = self.ownership.owned, self.transactions
        for tp, batch in groups.items():
            o = owned.get(tp)
            if o is None:
                self.stats.not_owned_dropped += len(batch)
                continue
            if batch[0].offset < o.position:  # re-delivered after a seek: already processed
                kept = [r for r in batch if r.offset >= o.position]
                self.stats.duplicates_dropped += len(batch) - len(kept)
                if not kept:
                    continue
                batch = kept
            txn.begin(now_ms)
            proc = o.processor
            try:
                outs = proc.process(batch)
            except Exception as exc:
                raise o.error(
                    f"process() raised {exc!r} on offsets {batch[0].offset}..{batch[-1].offset}",
                    batch[0].offset,
                ) from exc
            o.touched = True
            o.position = batch[-1].offset + 1
            if outs:
                txn.write(outs)
            o.untaken += len(batch)
            if o.untaken >= self.config.batch_max_records:
                self.ownership.take_changes(o)
            txn.pending += len(batch)
            self.stats.records += len(batch)
            self._idle.record(tp, now_ms)
        for m in events:
            self._on_event(m)
        if not groups:
            return
        self.stats.batches += 1
        t = time.monotonic()
        if not self.stats.first_record_s:
            self.stats.first_record_s = t
        self.stats.last_record_s = t

    def _on_event(self, m: Any) -> None:
        err = m.error()
        code = err.code()
        if code == KafkaError._PARTITION_EOF:
            tp = (m.topic(), m.partition())
            o = self.ownership.owned.get(tp)
            if o is not None and m.offset() >= o.position:
                self._idle.reached_end(tp, m.offset())
            return
        if err.fatal():
            raise RuntimeFailure(
                f"consumer failed: {err}",
                topic=m.topic() or "",
                partition=m.partition() if m.topic() else -1,
            )
        log.warning("consumer: %s", err)

    def _check_idle(self, now_ms: int) -> None:
        txn = self.transactions
        for tp, idle_ms in self._idle.due(now_ms):
            o = self.ownership.owned.get(tp)
            if o is None:
                continue
            self.stats.idle_calls += 1
            try:
                outs = _on_idle(o.processor, now_ms, idle_ms, self._idle.end_offset(tp))
                changes = o.processor.take_changes()
                o.untaken = 0
            except Exception as exc:
                raise o.error(f"on_idle() raised {exc!r}") from exc
            if outs or changes:
                txn.begin(now_ms)
                o.touched = True
                if outs:
                    txn.write(outs)
                if changes:
                    txn.write_changes(o.changelog, o.partition, changes)

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> RunStats:
        cfg = self.config
        tune_gc()
        self._prepare_topics()
        try:
            self._open_clients()
            consumer = self.ownership.consumer
            wait_s = (
                min(MAX_POLL_WAIT_MS, cfg.commit_interval_ms, cfg.idle_check_interval_ms) / 1000
            )
            next_idle_check = self.clock() + cfg.idle_check_interval_ms
            log.info("worker %s (%s) running", cfg.application_id, self.stats.instance_id)
            while not self.stop.is_set():
                try:
                    next_idle_check = self._iteration(consumer, wait_s, next_idle_check)
                except TransactionError as exc:
                    self._recover(exc)
            # Stopping: commit; if that aborts there is nothing to rebuild for.
            self.ownership.commit(exclude_on_abort=list(self.ownership.owned))
            self.ownership.raise_callback_error()
        except BaseException as exc:
            self._fail(repr(exc))
            raise
        finally:
            self._close()
        return self.stats

    def _iteration(self, consumer: Any, wait_s: float, next_idle_check: int) -> int:
        """One consume → process → (maybe) commit round; returns the next idle check time."""
        cfg = self.config
        txn, ownership = self.transactions, self.ownership
        if txn.open:  # wait no longer than until the commit is due: results out on time
            due_s = (txn.started_ms + cfg.commit_interval_ms - self.clock()) / 1000
            wait_s = max(0.0, min(wait_s, due_s))
        started = time.monotonic()
        ownership.consuming = True
        try:
            msgs = consumer.consume(cfg.batch_max_records, wait_s)
        finally:
            ownership.consuming = False
        stalled = time.monotonic() - started > STALL_S
        if self.on_poll is not None:
            self.on_poll()
        ownership.raise_callback_error()
        if ownership.rewound:
            msgs = ownership.drop_stale(msgs)
        now = self.clock()
        if stalled:
            self._idle.stalled(now)
        try:
            if msgs:
                self._handle(msgs, now)
            if now >= next_idle_check:
                next_idle_check = now + cfg.idle_check_interval_ms
                self._check_idle(now)
                if self.until_idle_ms is not None and self._idle.all_quiet(
                    now, self.until_idle_ms
                ):
                    log.info("worker %s: input quiet, stopping", cfg.application_id)
                    self.stop.set()
        except Abortable as exc:
            ownership.abort_and_rewind(str(exc), exclude=set(), every=True)
            return next_idle_check
        if txn.open:
            if (
                now - txn.started_ms >= cfg.commit_interval_ms
                or txn.pending >= cfg.commit_max_records
            ):
                ownership.commit()
        elif any(o.commit_due for o in ownership.owned.values()):
            # Positions never committed yet (first start): store them now, so a
            # restart does not re-resolve NOW to a later offset.
            txn.begin(now)
            ownership.commit()
        txn.producer.poll(0)
        if self._purge is not None:
            self._purge.maybe(
                (o.topic, o.partition, o.committed)
                for o in ownership.owned.values()
                if o.confirmed
            )
        return next_idle_check

    def _recover(self, exc: TransactionError) -> None:
        """A fatal producer error (e.g. fenced after a broker restart bumped the epoch): throw
        the producer away, start a new one on the same ``transactional.id`` (it aborts the
        open transaction) and replay every owned partition from its committed offset. Twice
        within ``RESET_MIN_INTERVAL_S`` means another live worker holds this id: stop."""
        self.transactions.reset(exc)
        self.ownership.abort_and_rewind(str(exc), exclude=set(), every=True)

    def _fail(self, reason: str) -> None:
        self.ownership.failed = True
        self.transactions.abandon(reason)

    def _close(self) -> None:
        consumer = self.ownership.consumer
        if consumer is not None:
            try:
                consumer.close()  # leaves the group; on_revoke commits nothing new
            except Exception as exc:
                log.warning("closing consumer: %s", exc)
        self.transactions.close()
        if self.ownership.reader is not None:
            self.ownership.reader.close()
        if self._owns_instance and self._instance is not None:
            self._instance.release()
        self.ownership.owned.clear()


def run(
    config: RuntimeConfig,
    settings: Settings,
    factory: ProcessorFactory,
    *,
    stop: threading.Event,
    clock: Clock = wall_ms,
    instance: InstanceSlot | None = None,
    until_idle_ms: int | None = None,
    on_poll: Callable[[], None] | None = None,
) -> RunStats:
    """Run one worker until ``stop`` is set (or, with ``until_idle_ms``, until its input is
    drained and quiet); commit, leave the group and return the stats.
    Raises a :class:`~ground.errors.RuntimeFailure` when it cannot go on."""
    runtime = StreamRuntime(
        config, settings, factory, stop=stop, clock=clock, instance=instance,
        until_idle_ms=until_idle_ms, on_poll=on_poll,
    )  # fmt: skip
    return runtime.run()


#: Young-generation threshold of the cyclic garbage collector while a worker runs.
GC_GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the hot path of a worker process.

    Processing allocates a few short-lived containers per record (rows, keys, output
    records); with Python's default threshold (700) a young collection runs every few
    hundred records and each older one walks every long-lived object of the process
    (modules, plans, window state). Start-up objects are collected once and frozen (never
    scanned again), and young collections run every 50,000 allocations instead; garbage
    without cycles is freed by reference counting either way. About a third of a SQL
    worker's CPU time at 100,000 records/s (``benchmarks/sql_tumbling.py``).
    """
    import gc

    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    if gen0 and gen0 < GC_GEN0_THRESHOLD:
        gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


#: Per processor class: does its ``on_idle`` take ``end_offset`` (added in 2026-12)?
_TAKES_END_OFFSET: dict[type, bool] = {}


def _on_idle(
    processor: PartitionProcessor, now_ms: int, idle_ms: int, end_offset: int | None
) -> list[OutRecord]:
    """``processor.on_idle``, with ``end_offset`` where it takes one: a processor written
    for the two-argument protocol keeps working (it just cannot use where the partition
    ended)."""
    kind = type(processor)
    takes = _TAKES_END_OFFSET.get(kind)
    if takes is None:
        try:
            params = list(inspect.signature(processor.on_idle).parameters.values())
        except (TypeError, ValueError):  # no signature to read: the current protocol
            params = []
        takes = not params or len(params) >= 3 or any(
            p.kind is p.VAR_POSITIONAL for p in params
        )
        _TAKES_END_OFFSET[kind] = takes
    if takes:
        return processor.on_idle(now_ms, idle_ms, end_offset)
    return processor.on_idle(now_ms, idle_ms)
