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
  it. An assignment of new partitions commits it too (their restore may wait for a dead
  owner's transaction to time out, longer than ours may stay open), then resolves their
  start offsets (committed, else the starting position) and restores each new partition's
  processor from its changelog before it is fetched.
* A fatal producer error (fenced after a broker restart) or a transactional call still
  blocked past its timeout (``deadline``) replaces the producer on the same
  ``transactional.id`` and replays every owned partition from its last commit; a second one
  within ``RESET_MIN_INTERVAL_S``, and processor exceptions, stop the worker. Nothing after
  the last commit is kept.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from ground.clock import Clock, wall_ms
from ground.errors import (
    ConfigError,
    ProcessorError,
    RestoreError,
    RuntimeFailure,
    TransactionError,
)
from ground.kafka import ensure_topics, partition_count, topic_max_message_bytes
from ground.kafka_config import consumer_fetch_config
from ground.settings import Settings
from pipelines.runtime.changelog import ChangelogReader
from pipelines.runtime.config import DEFAULT_MAX_MESSAGE_BYTES, NOW, RuntimeConfig
from pipelines.runtime.deadline import StuckCall, call_with_deadline
from pipelines.runtime.idle import IdleTracker
from pipelines.runtime.instance import InstanceSlot, claim_instance, transactional_id
from pipelines.runtime.records import (
    OutRecord,
    PartitionProcessor,
    ProcessorFactory,
    SourceRecord,
)

__all__ = ["CONSUMER_FETCH_CONFIG", "Clock", "RunStats", "StreamRuntime", "run", "wall_ms"]

log = logging.getLogger(__name__)

TP = tuple[str, int]

#: Fetch tuning of the worker's consumer: every consumer's, from the one place that builds
#: Kafka client configuration (see :func:`ground.kafka_config.consumer_fetch_config`).
CONSUMER_FETCH_CONFIG: dict[str, int] = consumer_fetch_config()

#: Longest wait in ``consume`` so a stop request or a due commit is never kept waiting.
MAX_POLL_WAIT_MS = 100
#: A ``consume`` call that takes this long ran a slow rebalance callback: see
#: :meth:`IdleTracker.stalled`.
STALL_S = 0.5
#: an abort that takes longer than this means the producer is stuck: it is replaced
ABORT_TIMEOUT_S = 10.0
#: a transactional call still blocked this long after its own timeout is abandoned with its
#: producer (librdkafka's send_offsets_to_transaction can ignore its timeout: ``deadline``)
STUCK_GRACE_S = 10.0
#: a second fatal producer error sooner than this after a reset stops the worker
RESET_MIN_INTERVAL_S = 30.0
_FENCED = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}


@dataclass(slots=True)
class RunStats:
    """Counters of one run. ``records`` were processed and committed or aborted;
    ``first_record_s``/``last_record_s`` are monotonic seconds."""

    records: int = 0
    batches: int = 0
    outputs: int = 0
    changes: int = 0
    commits: int = 0
    aborts: int = 0
    rebalances: int = 0
    restored_partitions: int = 0
    restored_keys: int = 0
    idle_calls: int = 0
    duplicates_dropped: int = 0
    producer_resets: int = 0
    not_owned_dropped: int = 0
    first_record_s: float = 0.0
    last_record_s: float = 0.0
    instance_id: str = ""

    @property
    def records_per_s(self) -> float:
        span = self.last_record_s - self.first_record_s
        return self.records / span if span > 0 else 0.0


@dataclass(slots=True)
class _Owned:
    """One owned source partition: its processor and offsets.

    ``committed`` is where a rewind goes: the offset the last commit stored (or the start
    offset before the first commit, ``confirmed=False``); ``position`` is the next offset
    to process. ``touched`` says the processor changed since the last commit; its changes
    are taken at the latest when the transaction commits.
    """

    topic: str
    partition: int
    changelog: str
    processor: PartitionProcessor
    committed: int
    position: int
    confirmed: bool
    touched: bool = False
    untaken: int = 0  # records processed since the processor's changes were last taken

    @property
    def commit_due(self) -> bool:
        return not self.confirmed or self.position != self.committed


def _processor_error(o: _Owned, message: str, offset: int | None = None) -> ProcessorError:
    """A processor call on ``o`` failed at ``offset`` (default: its position)."""
    return ProcessorError(
        message, topic=o.topic, partition=o.partition,
        offset=o.position if offset is None else offset,
    )  # fmt: skip


class _Abortable(Exception):
    """A transactional call failed in a way that an abort (and replay) fixes."""


def _classify(exc: KafkaException, what: str) -> Exception:
    err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
    if err is None or err.fatal():
        return TransactionError(f"{what} failed fatally: {exc}")
    if err.code() == KafkaError.MSG_SIZE_TOO_LARGE:  # a replay would only fail the same way
        return TransactionError(
            f"{what}: a record is larger than the topic or the producer accepts (raise the"
            f" topic's max.message.bytes): {exc}")
    return _Abortable(f"{what}: {err}")


@dataclass(slots=True)
class _Txn:
    open: bool = False
    started_ms: int = 0
    pending: int = 0


class StreamRuntime:
    """One worker's loop; :meth:`run` blocks until ``stop`` is set or a fatal error."""

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
    ) -> None:
        self.config = config
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
        self._owned: dict[TP, _Owned] = {}
        self._idle = IdleTracker(config.idle_timeout_ms, config.idle_check_interval_ms)
        self._txn = _Txn()
        self._changelogs = config.changelog_topics()
        self._cooperative = config.assignment_strategy == "cooperative-sticky"
        self._timeout_s = config.operation_timeout_ms / 1000
        self._callback_error: BaseException | None = None
        self._failed = False
        #: Partitions sought back since the last consume(): see :meth:`_drop_stale`.
        self._rewound: set[TP] = set()
        self._consuming = False  # inside consume(): rebalance callbacks run there
        self._producer: Any = None
        self._txn_id = ""
        self._last_reset_s: float | None = None  # monotonic time of the last producer reset
        self._consumer: Any = None
        self._reader: ChangelogReader | None = None

    # -- set-up --------------------------------------------------------------------------
    def _prepare_topics(self) -> None:
        kafka = self.settings.kafka
        counts = {t: partition_count(kafka, t) for t in self.config.source_topics}
        for source, changelog in self._changelogs.items():
            ensure_topics(
                kafka,
                [changelog],
                counts[source],
                config={"cleanup.policy": "compact", "min.compaction.lag.ms": "0"},
            )
            have = partition_count(kafka, changelog)
            if have != counts[source]:
                raise ConfigError(
                    "source_topics",
                    f"changelog {changelog!r} has {have} partitions, source {source!r} has "
                    f"{counts[source]}; delete the changelog or use a new application_id",
                )
        if self.config.output_topics:
            n = self.config.output_partitions or max(counts.values())
            size = self.config.max_message_bytes
            # topics it creates take its largest record (e.g. an error row holding a big input)
            big = size > DEFAULT_MAX_MESSAGE_BYTES
            extra = {"max.message.bytes": str(size + 4096)} if big else None
            ensure_topics(kafka, self.config.output_topics, n, config=extra)
            for topic in self.config.output_topics if big else ():
                # a topic made elsewhere may refuse the largest records (error rows of big
                # inputs): say so at start-up rather than when it happens
                accepts = topic_max_message_bytes(kafka, topic)
                if accepts < size:
                    log.warning(
                        "output topic %s accepts records up to %d bytes (max.message.bytes) but"
                        " this worker may write up to %d (an error row holds a rejected input"
                        " in hex; Runtime.MaxRecordBytes for a SQL application): raise the"
                        " topic's max.message.bytes", topic, accepts, size)

    def _new_producer(self) -> Any:
        """A transactional producer for this worker's ``transactional.id``, initialised: its
        ``init_transactions`` aborts what a predecessor with the same id left open and
        fences that predecessor."""
        cfg, kafka, txn_id = self.config, self.settings.kafka, self._txn_id
        librdkafka_log = logging.getLogger("pipelines.runtime.librdkafka")
        producer = Producer(
            kafka.client_config({
                "transactional.id": txn_id,
                "transaction.timeout.ms": cfg.transaction_timeout_ms,
                "message.timeout.ms": cfg.transaction_timeout_ms,
                "linger.ms": 5,
                "message.max.bytes": max(cfg.max_message_bytes + 4096, 1_000_000),
                "batch.num.messages": 10_000,
                "queue.buffering.max.messages": 1_000_000,
                "queue.buffering.max.kbytes": 1_048_576,
                "partitioner": "murmur2_random",  # what the Java clients do for keys
                "logger": librdkafka_log,
            })
        )
        log.info("worker %s: init_transactions (transactional.id %s)", cfg.application_id, txn_id)
        # Aborts whatever a predecessor with the same transactional.id left open.
        self._call(
            lambda: producer.init_transactions(self._timeout_s),
            "init_transactions",
            abortable=False,
        )
        return producer

    def _replace_producer(self, reason: str) -> None:
        """The producer cannot abort (e.g. after a broker restart its transaction needs an
        epoch bump it cannot get): drop it and start over with a new one on the same
        ``transactional.id``, which aborts the open transaction on the broker."""
        log.warning("replacing the transactional producer: %s", reason)
        old, self._producer = self._producer, None
        with contextlib.suppress(Exception):
            old.purge(in_queue=True, in_flight=False, blocking=False)
        del old
        self._producer = self._new_producer()
        self.stats.producer_resets += 1

    def _open_clients(self) -> None:
        cfg, kafka = self.config, self.settings.kafka
        if self._instance is None:
            self._instance = claim_instance(self.settings.home, cfg.application_id, cfg.instance_id)
        txn_id = transactional_id(cfg.application_id, self._instance.instance_id)
        self.stats.instance_id = self._instance.instance_id
        self._txn_id = txn_id
        self._producer = self._new_producer()
        librdkafka_log = logging.getLogger("pipelines.runtime.librdkafka")
        self._reader = ChangelogReader(
            kafka, cfg.application_id, cfg.transaction_timeout_ms + cfg.operation_timeout_ms
        )
        self._consumer = Consumer(
            kafka.client_config({
                "group.id": cfg.application_id,
                "client.id": txn_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,  # tells idle detection the partition is caught up
                "auto.offset.reset": "latest" if cfg.starting_position == NOW else "earliest",
                "partition.assignment.strategy": cfg.assignment_strategy,
                "session.timeout.ms": cfg.session_timeout_ms,
                "heartbeat.interval.ms": max(100, cfg.session_timeout_ms // 4),
                "logger": librdkafka_log,
            }, tuning=CONSUMER_FETCH_CONFIG)
        )
        self._consumer.subscribe(
            list(cfg.source_topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )

    # -- transactional calls ---------------------------------------------------------------
    def _call(self, fn: Callable[[], Any], what: str, *, abortable: bool = True) -> Any:
        """Run a transactional call: retry retriable errors until the operation timeout,
        raise :class:`_Abortable` for abortable ones, TransactionError for fatal ones and
        for a call still blocked ``STUCK_GRACE_S`` after its timeout (see ``deadline``)."""
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                return call_with_deadline(fn, self._timeout_s + STUCK_GRACE_S, what)
            except StuckCall as exc:
                # a librdkafka call that ignores its timeout: only a new producer gets out
                raise TransactionError(f"{exc}: replacing the producer") from exc
            except KafkaException as exc:
                err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                if err is None or err.fatal():
                    raise TransactionError(f"{what} failed fatally: {exc}") from exc
                if err.retriable() and time.monotonic() < deadline:
                    log.warning("%s: %s; retrying", what, err)
                    time.sleep(0.1)
                    continue
                if abortable:
                    raise _Abortable(f"{what}: {err}") from exc
                raise TransactionError(f"{what} failed: {exc}") from exc

    def _begin(self, now_ms: int) -> None:
        if not self._txn.open:
            self._call(self._producer.begin_transaction, "begin_transaction", abortable=False)
            self._txn.open = True
            self._txn.started_ms = now_ms
            self._txn.pending = 0

    def _commit(self, exclude_on_abort: Iterable[TP] = ()) -> bool:
        """Commit the open transaction with the positions of every owned partition.
        On an abortable failure: abort, rewind, rebuild (except ``exclude_on_abort``)."""
        if not self._txn.open:
            return True
        owned = list(self._owned.values())
        offsets = [TopicPartition(o.topic, o.partition, o.position) for o in owned]
        producer, consumer = self._producer, self._consumer
        try:
            for o in owned:
                if o.touched:
                    self._take_changes(o)
            if offsets:
                # on this thread: inside a rebalance callback the group metadata is not
                # served to another thread until the callback returns (a deadlock)
                group = consumer.consumer_group_metadata()
                self._call(
                    lambda: producer.send_offsets_to_transaction(offsets, group, self._timeout_s),
                    "send_offsets_to_transaction",
                )
            self._call(lambda: producer.commit_transaction(self._timeout_s), "commit_transaction")
        except _Abortable as exc:
            self._abort_and_rewind(str(exc), exclude=set(exclude_on_abort))
            return False
        self._txn.open = False
        self.stats.commits += 1
        for o in owned:
            o.committed = o.position
            o.confirmed = True
            o.touched = False
        return True

    def _abort(self, reason: str) -> None:
        if not self._txn.open:
            return
        log.warning("aborting transaction: %s", reason)
        self._txn.open = False
        self.stats.aborts += 1
        producer = self._producer
        limit_s = min(self._timeout_s, ABORT_TIMEOUT_S)
        try:
            call_with_deadline(
                lambda: producer.abort_transaction(limit_s), limit_s + STUCK_GRACE_S,
                "abort_transaction",
            )  # fmt: skip
        except StuckCall as exc:
            self._replace_producer(str(exc))
        except KafkaException as exc:
            err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if err is not None and err.code() in _FENCED:
                raise TransactionError(f"abort_transaction: fenced: {exc}") from exc
            self._replace_producer(f"abort_transaction failed: {exc}")

    def _abort_and_rewind(self, reason: str, exclude: set[TP], *, every: bool = False) -> None:
        """Abort, then seek back and rebuild the partitions the transaction changed — or,
        with ``every`` (a failure in the middle of a batch, when records of untouched
        partitions may have been consumed but not processed), every owned partition."""
        self._abort(reason)
        rewind = [
            o
            for tp, o in self._owned.items()
            if tp not in exclude and (every or o.touched or o.position != o.committed)
        ]
        if not rewind:
            return
        for o in rewind:
            log.warning(
                "rewinding %s[%d] from %d to %d", o.topic, o.partition, o.position, o.committed
            )
            self._seek(o, o.committed)
            o.position = o.committed
            o.touched = False
            self._idle.rewound((o.topic, o.partition))
            if self._consuming:  # the batch consume() returns may hold stale records
                self._rewound.add((o.topic, o.partition))
        fresh = self._build_processors([(o.topic, o.partition) for o in rewind])
        for o in rewind:
            o.processor = fresh[(o.topic, o.partition)]

    # -- assignment ------------------------------------------------------------------------
    def _build_processors(self, tps: Sequence[TP]) -> dict[TP, PartitionProcessor]:
        """Fresh processors for ``tps``, each restored from its changelog partition."""
        assert self._reader is not None
        out: dict[TP, PartitionProcessor] = {}
        by_topic: dict[str, list[int]] = {}
        for topic, p in tps:
            by_topic.setdefault(topic, []).append(p)
        for topic, parts in by_topic.items():
            changelog = self._changelogs[topic]
            t0 = time.monotonic()
            states = self._reader.read(changelog, parts)
            for p in parts:
                proc = self.factory(topic, p)
                state = states[p]
                try:
                    proc.restore(state.items())
                except Exception as exc:
                    raise ProcessorError(
                        f"restore() raised {exc!r}", topic=topic, partition=p
                    ) from exc
                out[(topic, p)] = proc
                self.stats.restored_partitions += 1
                self.stats.restored_keys += len(state)
            log.info(
                "restored %s partitions %s (%d keys) in %.2fs",
                topic,
                parts,
                sum(len(states[p]) for p in parts),
                time.monotonic() - t0,
            )
        return out

    def _start_offsets(self, tps: list[TopicPartition]) -> dict[TP, tuple[int, bool]]:
        """``{tp: (start offset, committed?)}``. The committed offset if there is one (this
        waits while a transaction of a previous owner holds it unstable), else the
        configured starting position."""
        consumer = self._consumer
        deadline = time.monotonic() + self._timeout_s + self.config.transaction_timeout_ms / 1000
        while True:
            try:
                committed = consumer.committed(tps, timeout=self._timeout_s)
                break
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    raise RestoreError(f"cannot read committed offsets: {exc}") from exc
                log.warning("committed offsets not available yet: %s", exc)
        out: dict[TP, tuple[int, bool]] = {}
        for tp in committed:
            if tp.offset >= 0:
                out[(tp.topic, tp.partition)] = (tp.offset, True)
                continue
            low, high = consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=self._timeout_s
            )  # read_committed: high is the last stable offset
            start = high if self.config.starting_position == NOW else low
            out[(tp.topic, tp.partition)] = (start, False)
        return out

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.stats.rebalances += 1
        try:
            if self._failed or self._callback_error is not None:
                return
            new = [tp for tp in partitions if (tp.topic, tp.partition) not in self._owned]
            assign: list[TopicPartition] = []
            if new:
                # Resolving and restoring the new partitions can wait for a dead owner's
                # transaction to time out. Commit ours first: left open that long, it would
                # time out too, and the broker would fence this worker.
                self._commit()
                starts = self._start_offsets(new)
                procs = self._build_processors([(tp.topic, tp.partition) for tp in new])
                now = self.clock()
                for (topic, p), (start, confirmed) in starts.items():
                    self._owned[(topic, p)] = _Owned(
                        topic,
                        p,
                        self._changelogs[topic],
                        procs[(topic, p)],
                        committed=start,
                        position=start,
                        confirmed=confirmed,
                    )
                    self._idle.add((topic, p), now)
                    assign.append(TopicPartition(topic, p, start))
                log.info(
                    "assigned %s",
                    ", ".join(f"{t}[{p}]@{s}" for (t, p), (s, _) in sorted(starts.items())),
                )
            if self._cooperative:
                consumer.incremental_assign(assign)
            else:
                consumer.assign(
                    [TopicPartition(o.topic, o.partition, o.position) for o in self._owned.values()]
                )
        except BaseException as exc:
            log.error("assignment failed: %s", exc)
            self._callback_error = exc

    def _drop(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self._owned.pop((tp.topic, tp.partition), None)
            self._idle.remove((tp.topic, tp.partition))

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.stats.rebalances += 1
        gone = [(tp.topic, tp.partition) for tp in partitions]
        try:
            if not self._failed and self._callback_error is None:
                # Commit what was processed, for these partitions and the others.
                self._commit(exclude_on_abort=gone)
        except BaseException as exc:
            log.error("commit on revoke failed: %s", exc)
            self._callback_error = exc
        finally:
            self._drop(partitions)
            if partitions:
                log.info("revoked %s", ", ".join(f"{t}[{p}]" for t, p in gone))

    def _on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.stats.rebalances += 1
        gone = {(tp.topic, tp.partition) for tp in partitions}
        log.warning("assignment lost: %s", ", ".join(f"{t}[{p}]" for t, p in sorted(gone)))
        try:
            if not self._failed and self._callback_error is None and self._txn.open:
                # The group moved on: these offsets can no longer be committed by us.
                self._abort_and_rewind("partitions lost", exclude=gone)
        except BaseException as exc:
            self._callback_error = exc
        finally:
            self._drop(partitions)

    # -- the hot path ----------------------------------------------------------------------
    def _write(self, outs: list[OutRecord]) -> None:
        produce = self._producer.produce
        for topic, key, value, ts, partition in outs:
            try:
                produce(
                    topic, value, key, -1 if partition is None else partition, None, None, ts or 0
                )
            except BufferError:
                self._produce_when_room(topic, key, value, ts, partition)
            except KafkaException as exc:
                raise _classify(exc, f"produce to {topic}") from exc
        self.stats.outputs += len(outs)
        self._txn.pending += len(outs)

    def _take_changes(self, o: _Owned) -> None:
        """Write ``o``'s state changes since the last take to its changelog partition.

        Taken before each commit (and after ``batch_max_records`` records of a partition,
        which bounds one changelog entry), not after every batch: a key changed by many
        batches of one transaction is then encoded and written once."""
        o.untaken = 0
        try:
            changes = o.processor.take_changes()
        except Exception as exc:
            raise _processor_error(o, f"take_changes() raised {exc!r}") from exc
        if changes:
            self._write_changes(o, changes)

    def _write_changes(self, o: _Owned, changes: list[tuple[bytes, bytes | None]]) -> None:
        produce, topic, p = self._producer.produce, o.changelog, o.partition
        for key, value in changes:
            try:
                produce(topic, value, key, p)
            except BufferError:
                self._produce_when_room(topic, key, value, None, p)
            except KafkaException as exc:
                raise _classify(exc, f"produce to {topic}") from exc
        self.stats.changes += len(changes)

    def _produce_when_room(
        self, topic: str, key: bytes | None, value: bytes | None, ts: int | None, part: int | None
    ) -> None:
        deadline = time.monotonic() + self._timeout_s
        while True:
            self._producer.poll(0.05)
            try:
                self._producer.produce(
                    topic, value, key, -1 if part is None else part, None, None, ts or 0
                )
                return
            except KafkaException as exc:
                raise _classify(exc, f"produce to {topic}") from exc
            except BufferError:
                if time.monotonic() > deadline:
                    raise _Abortable(f"producer queue full for {self._timeout_s}s") from None

    def _seek(self, o: _Owned, offset: int) -> None:
        try:
            self._consumer.seek(TopicPartition(o.topic, o.partition, offset))
        except KafkaException as exc:
            raise RuntimeFailure(
                f"cannot seek back to the committed offset: {exc}",
                topic=o.topic,
                partition=o.partition,
                offset=offset,
            ) from exc

    def _drop_stale(self, msgs: list[Any]) -> list[Any]:
        """Forget what one consume() returned for partitions rewound meanwhile, and seek them
        again. A rewind inside a rebalance callback runs in the middle of consume(): records
        fetched before its seek can still come back in that batch, past the rewound position,
        and would be processed with a gap (the skipped records, re-delivered later, would then
        look like duplicates). Offsets alone cannot tell: read_committed and compaction leave
        gaps of their own."""
        rewound, self._rewound = self._rewound, set()
        kept = [m for m in msgs if (m.topic(), m.partition()) not in rewound]
        for tp in rewound:
            o = self._owned.get(tp)
            if o is None:
                continue
            self._seek(o, o.position)
            self._idle.rewound(tp)
        if len(kept) < len(msgs):
            log.info("dropped %d records fetched before a rewind", len(msgs) - len(kept))
        return kept

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
        for tp, batch in groups.items():
            o = self._owned.get(tp)
            if o is None:
                self.stats.not_owned_dropped += len(batch)
                continue
            if batch[0].offset < o.position:  # re-delivered after a seek: already processed
                kept = [r for r in batch if r.offset >= o.position]
                self.stats.duplicates_dropped += len(batch) - len(kept)
                if not kept:
                    continue
                batch = kept
            self._begin(now_ms)
            proc = o.processor
            try:
                outs = proc.process(batch)
            except Exception as exc:
                raise _processor_error(
                    o,
                    f"process() raised {exc!r} on offsets {batch[0].offset}..{batch[-1].offset}",
                    batch[0].offset,
                ) from exc
            o.touched = True
            o.position = batch[-1].offset + 1
            if outs:
                self._write(outs)
            o.untaken += len(batch)
            if o.untaken >= self.config.batch_max_records:
                self._take_changes(o)
            self._txn.pending += len(batch)
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
            o = self._owned.get(tp)
            if o is not None and m.offset() >= o.position:
                self._idle.reached_end(tp)
            return
        if err.fatal():
            raise RuntimeFailure(
                f"consumer failed: {err}",
                topic=m.topic() or "",
                partition=m.partition() if m.topic() else -1,
            )
        log.warning("consumer: %s", err)

    def _check_idle(self, now_ms: int) -> None:
        for tp, idle_ms in self._idle.due(now_ms):
            o = self._owned.get(tp)
            if o is None:
                continue
            self.stats.idle_calls += 1
            try:
                outs = o.processor.on_idle(now_ms, idle_ms)
                changes = o.processor.take_changes()
                o.untaken = 0
            except Exception as exc:
                raise _processor_error(o, f"on_idle() raised {exc!r}") from exc
            if outs or changes:
                self._begin(now_ms)
                o.touched = True
                if outs:
                    self._write(outs)
                if changes:
                    self._write_changes(o, changes)

    # -- the loop --------------------------------------------------------------------------
    def _raise_callback_error(self) -> None:
        exc, self._callback_error = self._callback_error, None
        if exc is not None:
            raise exc

    def run(self) -> RunStats:
        cfg = self.config
        tune_gc()
        self._prepare_topics()
        try:
            self._open_clients()
            consumer = self._consumer
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
            self._commit(exclude_on_abort=list(self._owned))
            self._raise_callback_error()
        except BaseException as exc:
            self._fail(repr(exc))
            raise
        finally:
            self._close()
        return self.stats

    def _iteration(self, consumer: Any, wait_s: float, next_idle_check: int) -> int:
        """One consume → process → (maybe) commit round; returns the next idle check time."""
        cfg = self.config
        txn = self._txn
        if txn.open:  # wait no longer than until the commit is due: results out on time
            due_s = (txn.started_ms + cfg.commit_interval_ms - self.clock()) / 1000
            wait_s = max(0.0, min(wait_s, due_s))
        started = time.monotonic()
        self._consuming = True
        try:
            msgs = consumer.consume(cfg.batch_max_records, wait_s)
        finally:
            self._consuming = False
        stalled = time.monotonic() - started > STALL_S
        self._raise_callback_error()
        if self._rewound:
            msgs = self._drop_stale(msgs)
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
        except _Abortable as exc:
            self._abort_and_rewind(str(exc), exclude=set(), every=True)
            return next_idle_check
        if txn.open:
            if (
                now - txn.started_ms >= cfg.commit_interval_ms
                or txn.pending >= cfg.commit_max_records
            ):
                self._commit()
        elif any(o.commit_due for o in self._owned.values()):
            # Positions never committed yet (first start): store them now, so a
            # restart does not re-resolve NOW to a later offset.
            self._begin(now)
            self._commit()
        self._producer.poll(0)
        return next_idle_check

    def _recover(self, exc: TransactionError) -> None:
        """A fatal producer error (e.g. fenced after a broker restart bumped the epoch): throw
        the producer away, start a new one on the same ``transactional.id`` (it aborts the
        open transaction) and replay every owned partition from its committed offset. Twice
        within ``RESET_MIN_INTERVAL_S`` means another live worker holds this id: stop."""
        now = time.monotonic()
        if self._last_reset_s is not None and now - self._last_reset_s < RESET_MIN_INTERVAL_S:
            raise exc
        self._last_reset_s = now
        self._txn.open = False
        self._replace_producer(str(exc))
        self._abort_and_rewind(str(exc), exclude=set(), every=True)

    def _fail(self, reason: str) -> None:
        self._failed = True
        if self._producer is not None and self._txn.open:
            try:
                self._abort(reason)
            except Exception as exc:  # the worker stops anyway; nothing was committed
                log.warning("abort after failure: %s", exc)
        self._txn.open = False

    def _close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()  # leaves the group; on_revoke commits nothing new
            except Exception as exc:
                log.warning("closing consumer: %s", exc)
        if self._producer is not None:
            try:
                self._producer.flush(self._timeout_s)
            except Exception as exc:
                log.warning("closing producer: %s", exc)
        if self._reader is not None:
            self._reader.close()
        if self._owns_instance and self._instance is not None:
            self._instance.release()
        self._owned.clear()


def run(
    config: RuntimeConfig,
    settings: Settings,
    factory: ProcessorFactory,
    *,
    stop: threading.Event,
    clock: Clock = wall_ms,
    instance: InstanceSlot | None = None,
    until_idle_ms: int | None = None,
) -> RunStats:
    """Run one worker until ``stop`` is set (or, with ``until_idle_ms``, until its input is
    drained and quiet); commit, leave the group and return the stats.
    Raises a :class:`~ground.errors.RuntimeFailure` when it cannot go on."""
    runtime = StreamRuntime(
        config, settings, factory, stop=stop, clock=clock, instance=instance,
        until_idle_ms=until_idle_ms,
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
