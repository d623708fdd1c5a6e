"""The Kafka side of a delivery: consume in batches, feed the core, flush, commit, rebalance.

A synchronous loop drives the async sends through one :class:`asyncio.Runner` (one event
loop, one HTTP session for the worker's life): ``consume(n, timeout)`` → ``core.add`` for the
whole batch → ``core.flush(due)`` (partitions concurrently) → synchronous commit of the
contiguous delivered prefix. Rebalance callbacks run inside ``consume`` — outside the event
loop — so revoked partitions are flushed and committed right there before they move.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from connectors.core.delivery import DeliveryCore
from connectors.core.records import Record
from shardline.errors import BrokerUnavailableError, DeliveryError
from shardline.faults import faults

__all__ = ["ConsumerLike", "DeliveryWorker", "RunSummary", "consumer_config"]

log = logging.getLogger(__name__)

DEFAULT_CONSUME_BATCH = 5_000
DEFAULT_POLL_TIMEOUT_MS = 250
JOIN_GRACE_MS = 30_000  # how long --until-idle waits for a first assignment
# A worker that dies without leaving (kill -9, a lost machine) holds its partitions this long
# before the group moves them; librdkafka's default is 45 s.
SESSION_TIMEOUT_MS = 10_000


class ConsumerLike(Protocol):
    """The part of ``confluent_kafka.Consumer`` the worker uses (a test can fake it)."""

    def subscribe(self, topics: list[str], **callbacks: Any) -> None: ...

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Any]: ...

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> Any: ...

    def close(self) -> None: ...


def consumer_config(
    bootstrap: str, group: str, *, max_poll_interval_ms: int, auto_offset_reset: str = "earliest"
) -> dict[str, object]:
    """Manual, post-delivery commits only: librdkafka never commits or stores on its own."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": auto_offset_reset,
        "isolation.level": "read_committed",
        "max.poll.interval.ms": max_poll_interval_ms,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": SESSION_TIMEOUT_MS // 4,
        "log_level": 3,
    }


@dataclass(frozen=True, slots=True)
class RunSummary:
    records: int
    flushes: int
    committed: dict[tuple[str, int], int]


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
    ) -> None:
        self.core = core
        self.consumer = consumer
        self.topic = topic
        self.consume_batch = consume_batch
        self.poll_timeout_ms = poll_timeout_ms
        self.stop_event = threading.Event()
        self._runner: asyncio.Runner | None = None
        self._assigned: set[tuple[str, int]] = set()
        self._ever_assigned = False
        self._assigned_at = 0  # clock() of the last assignment: idle time counts from there
        self._callback_error: BaseException | None = None
        self._records = 0
        self._flushes = 0
        self._committed: dict[tuple[str, int], int] = {}

    def stop(self) -> None:
        """Ask the loop to flush, commit and return (safe from a signal handler or thread)."""
        self.stop_event.set()

    # -- the loop ------------------------------------------------------------------------

    def run(self, *, until_idle_ms: int | None = None) -> RunSummary:
        clock = self.core.clock
        with asyncio.Runner() as runner:
            self._runner = runner
            runner.run(_lifecycle(self.core, "open"))
            try:
                self.consumer.subscribe(
                    [self.topic],
                    on_assign=self._on_assign,
                    on_revoke=self._on_revoke,
                    on_lost=self._on_lost,
                )
                started = last_activity = clock()
                while not self.stop_event.is_set():
                    now = clock()
                    wait_ms = self.poll_timeout_ms
                    due_in = self.core.next_due_ms(now)
                    if due_in is not None:
                        wait_ms = max(0, min(wait_ms, due_in))
                    messages = self.consumer.consume(self.consume_batch, wait_ms / 1000)
                    self._raise_callback_error()
                    now = clock()
                    if self._take(messages, now):
                        last_activity = now
                    # A (re)assignment starts the idle clock again: the first fetch is to come.
                    last_activity = max(last_activity, self._assigned_at)
                    self._flush(self.core.due(now))
                    if until_idle_ms is not None and now - last_activity >= until_idle_ms:
                        if self._ever_assigned or now - started >= until_idle_ms + JOIN_GRACE_MS:
                            break
                self._flush(self.core.drain())
            finally:
                try:
                    self.consumer.close()
                finally:
                    runner.run(_lifecycle(self.core, "close"))
                    self._runner = None
        return RunSummary(self._records, self._flushes, dict(self._committed))

    def _take(self, messages: list[Any], now: int) -> int:
        taken = 0
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                if err.fatal() or err.code() in (
                    KafkaError._ALL_BROKERS_DOWN, KafkaError.UNKNOWN_TOPIC_OR_PART
                ):
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
        try:
            self._runner.run(self.core.flush(batches))
        finally:
            self._flushes += len(batches)
            self._commit()

    def _commit(self) -> None:
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
            raise DeliveryError(
                f"could not commit offsets {offsets}: {exc}", destination=self.core.name
            ) from exc
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

    def _on_lost(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        tps = [(p.topic, p.partition) for p in partitions]
        self.core.forget(tps)
        self._assigned.difference_update(tps)
        log.warning("%s lost %s; their buffered records were dropped uncommitted",
                    self.core.name, tps)


async def _lifecycle(core: DeliveryCore, what: str) -> None:
    for dest in (core.destination, core.backup, core.source_backup):
        hook = getattr(dest, what, None)
        if hook is not None:
            await hook()
