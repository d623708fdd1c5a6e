"""The Kafka side of a delivery: consume in batches, feed the core, flush, commit, rebalance.

A synchronous loop drives the async sends through one :class:`asyncio.Runner` (one event
loop, one HTTP session for the worker's life): ``consume(n, timeout)`` → ``core.add`` for the
whole batch → ``core.flush(due)`` (partitions concurrently) → synchronous commit of the
contiguous delivered prefix. Rebalance callbacks run inside ``consume`` — outside the event
loop — so revoked partitions are flushed and committed right there before they move.

**Bounded memory.** With ``max_buffered_bytes``, once the core holds that much (buffered, cut,
being sent) the partitions holding the most are paused (``consumer.pause``) and the largest
buffers are cut early and flushed; paused partitions resume once the core holds less than
:data:`LOW_WATER` of the cap. librdkafka's own pre-fetch is bounded by :func:`fetch_config`.
Pauses are forgotten with the partitions they were on (revoked, lost): a re-assigned partition
starts unpaused.

**Stopping.** :meth:`DeliveryWorker.stop` (SIGTERM/SIGINT) ends consumption; what is buffered
is flushed for at most ``shutdown_timeout_ms`` from the stop request — a flush already under
way counts against the same deadline. Sends still running then are cancelled (an
:class:`asyncio.CancelledError` inside the send: a multipart upload aborts itself) and their
records are abandoned *uncommitted*: the next owner of the partition re-reads them. Only
offsets the destination confirmed are ever committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from connectors.core.buffer import MIB
from connectors.core.delivery import DeliveryCore
from connectors.core.records import Record
from ground.errors import BrokerUnavailableError, DeliveryError
from ground.faults import faults
from ground.kafka_config import PREFETCH_MAX_BYTES, KafkaConfig, consumer_fetch_config

__all__ = ["ConsumerLike", "DeliveryWorker", "RunSummary", "consumer_config", "fetch_config",
           "prefetch_bytes"]

log = logging.getLogger(__name__)

DEFAULT_CONSUME_BATCH = 5_000
DEFAULT_POLL_TIMEOUT_MS = 250
JOIN_GRACE_MS = 30_000  # how long --until-idle waits for a first assignment
# A worker that dies without leaving (kill -9, a lost machine) holds its partitions this long
# before the group moves them; librdkafka's default is 45 s.
SESSION_TIMEOUT_MS = 10_000
DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000
LOW_WATER = 0.5  # paused partitions resume below this share of the memory cap
STOP_CHECK_S = 0.05  # how often a running flush looks at the stop request
COMMIT_RETRY_MS = 1_000  # a failed (non-fatal) commit is tried again this much later


class ConsumerLike(Protocol):
    """The part of ``confluent_kafka.Consumer`` the worker uses (a test can fake it)."""

    def subscribe(self, topics: list[str], **callbacks: Any) -> None: ...

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Any]: ...

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> Any: ...

    def pause(self, partitions: list[TopicPartition]) -> None: ...

    def resume(self, partitions: list[TopicPartition]) -> None: ...

    def close(self) -> None: ...


def consumer_config(
    kafka: KafkaConfig,
    group: str,
    *,
    max_poll_interval_ms: int,
    auto_offset_reset: str = "earliest",
    max_buffered_bytes: int | None = None,
) -> dict[str, object]:
    """The delivery consumer of ``kafka``: manual, post-delivery commits only (librdkafka
    never commits or stores on its own), pre-fetch bounded by :func:`fetch_config`."""
    return kafka.client_config(
        {
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": auto_offset_reset,
            "isolation.level": "read_committed",
            "max.poll.interval.ms": max_poll_interval_ms,
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": SESSION_TIMEOUT_MS // 4,
            "log_level": 3,
        },
        tuning=fetch_config(max_buffered_bytes),
    )


PREFETCH_SHARE = 8  # librdkafka's pre-fetch queue gets 1/8 of the memory cap…
PREFETCH_MIN_BYTES = 2 * MIB  # …but at least this (below it, fetches get too small)…


def prefetch_bytes(max_buffered_bytes: int | None) -> int:
    """The share of the memory cap librdkafka's pre-fetch queue may fill (at most
    :data:`~ground.kafka_config.PREFETCH_MAX_BYTES`)."""
    if max_buffered_bytes is None:
        return PREFETCH_MAX_BYTES
    return max(PREFETCH_MIN_BYTES, min(PREFETCH_MAX_BYTES, max_buffered_bytes // PREFETCH_SHARE))


def fetch_config(max_buffered_bytes: int | None) -> dict[str, int]:
    """librdkafka's pre-fetch bounded from the delivery's memory cap: the queue gets
    ``max_buffered_bytes / 8`` (2–32 MiB), with every consumer's fetch tuning
    (:func:`~ground.kafka_config.consumer_fetch_config`)."""
    return consumer_fetch_config(prefetch_bytes(max_buffered_bytes))


@dataclass(frozen=True, slots=True)
class RunSummary:
    records: int
    flushes: int
    committed: dict[tuple[str, int], int]
    pauses: int = 0  # times the memory cap paused partitions
    forced_cuts: int = 0  # buffers cut early by the memory cap
    abandoned: int = 0  # records left undelivered (uncommitted) at the shutdown deadline


class _Abandoned(Exception):
    """The shutdown deadline passed while a flush was running: it was cancelled."""


class DeliveryWorker:
    """Runs one :class:`DeliveryCore` against one subscribed topic until told to stop."""

    def __init__(
        self,
        core: DeliveryCore,
        consumer: ConsumerLike,
        topic: str,
        *,
        consume_batch: int = DEFAULT_CONSUME_BATCH,
        poll_timeout_ms: int = DEFAULT_POLL_TIMEOUT_MS,
        max_buffered_bytes: int | None = None,
        shutdown_timeout_ms: int = DEFAULT_SHUTDOWN_TIMEOUT_MS,
    ) -> None:
        self.core = core
        self.consumer = consumer
        self.topic = topic
        self.consume_batch = consume_batch
        self.poll_timeout_ms = poll_timeout_ms
        self.max_buffered_bytes = max_buffered_bytes
        self.shutdown_timeout_ms = shutdown_timeout_ms
        self.stop_event = threading.Event()
        self._stop_deadline_ms: int | None = None
        self._abandoning = False
        self._paused: set[tuple[str, int]] = set()
        self._pauses = 0
        self._forced_cuts = 0
        self._abandoned = 0
        self._runner: asyncio.Runner | None = None
        self._assigned: set[tuple[str, int]] = set()
        self._ever_assigned = False
        self._assigned_at = 0  # clock() of the last assignment: idle time counts from there
        self._callback_error: BaseException | None = None
        self._records = 0
        self._flushes = 0
        self._committed: dict[tuple[str, int], int] = {}
        self._commit_retry_at: int | None = None  # a commit failed: when to try again

    def stop(self) -> None:
        """Ask the loop to flush, commit and return (safe from a signal handler or thread).

        The flushing is bounded by ``shutdown_timeout_ms`` from the first call."""
        if self._stop_deadline_ms is None:
            self._stop_deadline_ms = self.core.clock() + self.shutdown_timeout_ms
        self.stop_event.set()

    @property
    def abandoned(self) -> int:
        """Records dropped uncommitted at the shutdown deadline."""
        return self._abandoned

    @property
    def paused(self) -> frozenset[tuple[str, int]]:
        """Partitions the memory cap paused (read by metrics, possibly from another thread)."""
        return frozenset(self._paused)

    # -- the loop ------------------------------------------------------------------------

    def run(self, *, until_idle_ms: int | None = None) -> RunSummary:
        clock = self.core.clock
        with asyncio.Runner() as runner:
            self._runner = runner
            runner.run(self.core.open())
            try:
                self.consumer.subscribe(
                    [self.topic],
                    on_assign=self._on_assign,
                    on_revoke=self._on_revoke,
                    on_lost=self._on_lost,
                )
                started = last_activity = clock()
                returned: int | None = None  # when the last consume() call returned
                while not self.stop_event.is_set():
                    now = clock()
                    wait_ms = self.poll_timeout_ms
                    due_in = self.core.next_due_ms(now)
                    if due_in is not None:
                        wait_ms = max(0, min(wait_ms, due_in))
                    messages = self.consumer.consume(self.consume_batch, wait_ms / 1000)
                    self._raise_callback_error()
                    # A record this call returns came in after the previous call returned (or
                    # was left queued by it): its buffer's interval counts from then, so
                    # neither this call's wait for a full batch (up to poll_timeout_ms) nor the
                    # flush in between (a slow _bulk) is added to the interval.
                    arrived = now if returned is None else returned
                    now = returned = clock()
                    if self._take(messages, arrived):
                        last_activity = now
                    # A (re)assignment starts the idle clock again: the first fetch is to come.
                    last_activity = max(last_activity, self._assigned_at)
                    self._bound_memory(now)
                    self._flush(self.core.due(now))
                    if self._commit_retry_at is not None and now >= self._commit_retry_at:
                        self._commit()
                    self._resume_if_room()
                    if self._commit_retry_at is not None:
                        continue  # not idle while delivered offsets wait for their commit
                    if until_idle_ms is not None and now - last_activity >= until_idle_ms:
                        if self._ever_assigned or now - started >= until_idle_ms + JOIN_GRACE_MS:
                            break
                self._flush(self.core.drain())
            except _Abandoned:
                pass  # stopped: the rest stays uncommitted for the next owner
            finally:
                try:
                    if self._abandoning:
                        self._abandon_rest()
                    self.consumer.close()
                finally:
                    runner.run(self.core.close())
                    self._runner = None
        return RunSummary(self._records, self._flushes, dict(self._committed),
                          self._pauses, self._forced_cuts, self._abandoned)

    # -- memory cap ----------------------------------------------------------------------

    def _bound_memory(self, now: int) -> None:
        """At the cap: pause the partitions holding the most and cut the largest buffers."""
        cap = self.max_buffered_bytes
        if cap is None:
            return
        held = self.core.held_bytes
        if held < cap:
            return
        low = int(cap * LOW_WATER)
        by_size = sorted(self.core.held_by_partition().items(), key=lambda kv: kv[1],
                         reverse=True)
        pause: list[tuple[str, int]] = []
        running = held
        for tp, size in by_size:
            if running < low:
                break
            running -= size
            if tp in self._assigned and tp not in self._paused:
                pause.append(tp)
        if pause:
            self.consumer.pause([TopicPartition(t, p) for t, p in pause])
            self._paused.update(pause)
            self._pauses += 1
        cut = self.core.cut_largest(low)
        self._forced_cuts += len(cut)
        log.info("%s holds %d bytes (cap %d): paused %s, cut %d buffer(s) early", self.core.name,
                 held, cap, sorted(pause), len(cut))

    def _resume_if_room(self) -> None:
        if not self._paused or self.max_buffered_bytes is None:
            return
        if self.core.held_bytes > self.max_buffered_bytes * LOW_WATER:
            return
        resume = sorted(self._paused & self._assigned)
        if resume:
            self.consumer.resume([TopicPartition(t, p) for t, p in resume])
        self._paused.clear()

    # -- stopping ------------------------------------------------------------------------

    async def _until_deadline(self, work: Awaitable[None]) -> None:
        """Run ``work``; once stop() was called and its deadline passed, cancel it (the
        CancelledError reaches the sends) and raise _Abandoned."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                timeout = None
                if self._stop_deadline_ms is not None:
                    left_ms = self._stop_deadline_ms - self.core.clock()
                    if left_ms <= 0:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                        self._abandoning = True
                        raise _Abandoned
                    timeout = min(STOP_CHECK_S, left_ms / 1000)
                elif not self.stop_event.is_set():
                    timeout = STOP_CHECK_S
                done, _ = await asyncio.wait({task}, timeout=timeout or STOP_CHECK_S)
                if done:
                    return task.result()
        except BaseException:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            raise

    def _abandon_rest(self) -> None:
        """After the shutdown deadline: commit what is delivered, drop the rest uncommitted."""
        try:
            self._commit()
        except DeliveryError as exc:
            log.warning("%s: %s", self.core.name, exc)
        tps = list(self.core.held_by_partition())
        dropped = self.core.forget(tps)
        self._abandoned += dropped
        log.warning("%s: shutdown timeout (%d ms): %d record(s) not delivered in time were left"
                    " uncommitted; the next owner re-reads them", self.core.name,
                    self.shutdown_timeout_ms, dropped)

    def _take(self, messages: list[Any], now: int) -> int:
        taken = 0
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                # Every broker down before the first assignment: a wrong address, say so.
                # Later it is an outage (a restart): librdkafka reconnects, and what was
                # delivered but not committed is committed once the coordinator is back.
                down = err.code() == KafkaError._ALL_BROKERS_DOWN and not self._ever_assigned
                if err.fatal() or down or err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise BrokerUnavailableError(f"consuming {self.topic!r}: {err.str()}")
                log.warning("consumer error on %s: %s", self.topic, err.str())
                continue
            _ts_type, ts = msg.timestamp()
            self.core.add(
                Record(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(), ts),
                now,
            )
            taken += 1
        self._records += taken
        return taken

    def _flush(self, batches: list[Any]) -> None:
        if not batches:
            return
        assert self._runner is not None
        if self._abandoning:
            raise _Abandoned
        try:
            self._runner.run(self._until_deadline(self.core.flush(batches)))
        finally:
            self._flushes += len(batches)
            self._commit()

    def _commit(self) -> None:
        self._commit_retry_at = None
        offsets = self.core.committable()
        if not offsets:
            return
        if faults.commit_delay_ms:  # fault tests: a crash between write and commit
            time.sleep(faults.commit_delay_ms / 1000)
        try:
            self.consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if err is None or err.fatal():
                raise DeliveryError(
                    f"could not commit offsets {offsets}: {exc}", destination=self.core.name
                ) from exc
            # The coordinator is away (a broker restart) or the group moved on (a rebalance):
            # the records are durable, their offsets stay uncommitted and are committed by
            # the next commit — or re-read by the next owner, whose writes find them there.
            self._commit_retry_at = self.core.clock() + COMMIT_RETRY_MS
            log.warning("%s could not commit offsets %s yet: %s (retried)", self.core.name,
                        offsets, err.str())
            return
        self.core.mark_committed(offsets)
        self._committed.update(offsets)

    def _raise_callback_error(self) -> None:
        if self._callback_error is not None:
            err, self._callback_error = self._callback_error, None
            raise err

    # -- rebalance callbacks (run inside consume(), outside the event loop) ----------------

    def _on_assign(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        tps = [(p.topic, p.partition) for p in partitions]
        if self._runner is not None and tps:
            try:
                self._runner.run(self.core.prepare(tps))
            except BaseException as exc:
                self._callback_error = exc
        self._assigned.update(tps)
        self._paused.difference_update(tps)  # assigned afresh: librdkafka fetches them
        self._ever_assigned = True
        self._assigned_at = self.core.clock()
        log.info("%s assigned %s", self.core.name, sorted(self._assigned))

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        tps = [(p.topic, p.partition) for p in partitions]
        try:
            self._flush(self.core.drain(tps))
        except DeliveryError as exc:
            if isinstance(exc.__cause__, KafkaException):
                # The commit failed: the partition is no longer ours, we write nothing more
                # to it, and the next owner rewrites the same keys from the committed offset.
                log.warning("%s could not commit revoked %s: %s", self.core.name, tps, exc)
            else:
                self._callback_error = exc  # surfaced after consume() returns
        except BaseException as exc:
            self._callback_error = exc
        finally:
            dropped = self.core.forget(tps)
            if dropped:
                log.warning("%s dropped %d undelivered record(s) of revoked %s (not committed;"
                            " the next owner re-reads them)", self.core.name, dropped, tps)
            self._assigned.difference_update(tps)
            self._paused.difference_update(tps)

    def _on_lost(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        tps = [(p.topic, p.partition) for p in partitions]
        self.core.forget(tps)
        self._assigned.difference_update(tps)
        self._paused.difference_update(tps)
        log.warning("%s lost %s; their buffered records were dropped uncommitted",
                    self.core.name, tps)

