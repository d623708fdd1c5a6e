"""The Kafka loop against a fake consumer (the ConsumerLike seam) and the in-memory destination."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

import connectors
from connectors.core import (
    Batch,
    BufferingHints,
    DeliveryCore,
    DeliveryWorker,
    Destination,
    Retry,
    RetryOptions,
)
from connectors.core.metrics import FlushReport, LoggingMetrics
from connectors.core.partition import RECORD_OVERHEAD_BYTES
from connectors.core.worker import fetch_config
from ground.errors import DeliveryError, PermanentDeliveryError
from tests.unit.connectors.helpers import MemoryDestination, no_sleep, rec
from tests.unit.fakes import ManualClock


@dataclass
class Msg:
    _topic: str
    _partition: int
    _offset: int
    _value: bytes

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)


@dataclass
class FakeConsumer:
    """Hands out scripted polls; each poll advances the manual clock by 100 ms."""

    clock: ManualClock
    polls: list[list[Msg]]
    revoke_after_poll: int | None = None
    commits: list[dict[tuple[str, int], int]] = field(default_factory=list)
    fail_commits: list[KafkaError] = field(default_factory=list)  # raised by the next commits
    failed: list[dict[tuple[str, int], int]] = field(default_factory=list)
    callbacks: dict[str, Any] = field(default_factory=dict)
    closed: bool = False
    n: int = 0

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.callbacks = callbacks
        callbacks["on_assign"](self, [TopicPartition("t", 0), TopicPartition("t", 1)])

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Msg]:
        self.clock.now += 100
        self.n += 1
        if self.revoke_after_poll is not None and self.n == self.revoke_after_poll:
            self.callbacks["on_revoke"](self, [TopicPartition("t", 1)])
        return self.polls.pop(0) if self.polls else []

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert asynchronous is False
        offs = {(tp.topic, tp.partition): tp.offset for tp in offsets}
        if self.fail_commits:
            self.failed.append(offs)
            raise KafkaException(self.fail_commits.pop(0))
        self.commits.append(offs)

    def close(self) -> None:
        self.closed = True


def msgs(partition: int, offsets: range) -> list[Msg]:
    return [Msg("t", partition, o, b'{"o":%d}' % o) for o in offsets]


def worker(dest: MemoryDestination, consumer: FakeConsumer, clock: ManualClock,
           hints: BufferingHints | None = None) -> DeliveryWorker:
    core = DeliveryCore("d", dest, hints=hints or BufferingHints(10**6, 3, 1_000),
                        retry=RetryOptions(duration_ms=1_000, max_attempts=2),
                        clock=clock, sleep=no_sleep)
    return DeliveryWorker(core, consumer, "t", poll_timeout_ms=100)


def test_until_idle_delivers_everything_and_commits_end_offsets() -> None:
    clock = ManualClock()
    consumer = FakeConsumer(clock, [msgs(0, range(5)) + msgs(1, range(2)), msgs(0, range(5, 7))])
    dest = MemoryDestination()
    summary = worker(dest, consumer, clock).run(until_idle_ms=500)
    assert sorted((b.partition, r.offset) for b in dest.sent for r in b.records) == sorted(
        [(0, o) for o in range(7)] + [(1, o) for o in range(2)])
    assert summary.committed == {("t", 0): 7, ("t", 1): 2}
    assert consumer.commits[0] == {("t", 0): 3}  # the first full batch, before the rest
    assert consumer.closed


def test_interval_flush_uses_the_injected_clock() -> None:
    clock = ManualClock()
    consumer = FakeConsumer(clock, [msgs(0, range(1))] + [[]] * 20)
    dest = MemoryDestination()
    w = worker(dest, consumer, clock, BufferingHints(10**6, None, 300))
    w.run(until_idle_ms=1_000)
    assert consumer.commits[0] == {("t", 0): 1}
    # flushed by the interval (3 polls of 100 ms), well before the idle exit at 1 s
    assert len(consumer.commits) == 1 and dest.offsets == [0]


def test_revoked_partitions_are_flushed_and_committed_before_they_move() -> None:
    clock = ManualClock()
    consumer = FakeConsumer(clock, [msgs(1, range(2))], revoke_after_poll=2)
    dest = MemoryDestination()
    worker(dest, consumer, clock).run(until_idle_ms=500)
    assert consumer.commits[0] == {("t", 1): 2}
    assert dest.offsets == [0, 1]


def test_permanent_failure_stops_the_worker_without_committing() -> None:
    clock = ManualClock()
    consumer = FakeConsumer(clock, [msgs(0, range(3))])
    dest = MemoryDestination(script=[lambda b: Retry("503")] * 5)
    with pytest.raises(PermanentDeliveryError, match="RetriesExhausted: 503"):
        worker(dest, consumer, clock).run(until_idle_ms=500)
    assert consumer.commits == [] and consumer.closed


def test_a_commit_failing_while_the_coordinator_is_away_is_retried() -> None:
    """A broker restart: the commit fails, the worker goes on and commits the same offsets
    (and the later ones) once the coordinator answers; --until-idle waits for that."""
    clock = ManualClock()
    consumer = FakeConsumer(clock, [msgs(0, range(3)), [], msgs(0, range(3, 5))])
    consumer.fail_commits = [KafkaError(KafkaError._WAIT_COORD),
                             KafkaError(KafkaError.COORDINATOR_NOT_AVAILABLE)]
    dest = MemoryDestination()
    summary = worker(dest, consumer, clock).run(until_idle_ms=500)
    assert consumer.failed[0] == {("t", 0): 3}
    assert consumer.commits[-1] == {("t", 0): 5} and summary.committed == {("t", 0): 5}
    assert dest.offsets == list(range(5))  # each record sent once


def test_a_fatal_commit_error_stops_the_worker() -> None:
    clock = ManualClock()
    consumer = FakeConsumer(clock, [msgs(0, range(3))])
    consumer.fail_commits = [KafkaError(KafkaError._FENCED, fatal=True)]
    with pytest.raises(DeliveryError, match="could not commit"):
        worker(MemoryDestination(), consumer, clock).run(until_idle_ms=500)
    assert consumer.commits == []


def test_public_api_is_pinned() -> None:
    assert connectors.__all__ == sorted(connectors.__all__)
    assert set(connectors.__all__) >= {
        "DeliveryConfig", "build_worker", "load_deliveries", "S3Destination",
        "ElasticsearchDestination", "DeliveryCore", "Retry", "RetryPartial", "DontRetry",
        "Successful",
    }
    for name in connectors.__all__:
        assert hasattr(connectors, name), name


def test_the_interval_counts_from_the_previous_consume_return() -> None:
    """A record a consume() call returns came in after the previous call returned: neither
    this call's wait for a full batch nor a slow flush in between delays its buffer's cut."""
    clock = ManualClock()
    start = clock.now
    commit_times: list[int] = []

    class Timed(FakeConsumer):
        def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> None:
            commit_times.append(clock.now)
            super().commit(offsets=offsets, asynchronous=asynchronous)

    class Slow(MemoryDestination):
        async def send(self, request: Any) -> Any:
            clock.now += 500  # a slow _bulk
            return await super().send(request)

    # each poll takes 100 ms; offset 0 in the first poll, offset 1 in the poll after its flush
    consumer = Timed(clock, [msgs(0, range(1)), [], [], msgs(0, range(1, 2))] + [[]] * 20)
    dest = Slow()
    worker(dest, consumer, clock, BufferingHints(10**6, None, 300)).run(until_idle_ms=2_000)
    assert dest.offsets == [0, 1]
    # offset 0: due 300 ms after the first call started (no call before it), so flushed after
    # the poll ending at +300, not +400; the slow send ends at +800. Offset 1 comes back from
    # the poll +800..+900; the call before it returned at +300 (the flush came in between), so
    # it is due at +600 and cut right after that poll, at +900, not at +1,100 (300 ms after
    # its own call started); its send ends at +1,400.
    assert commit_times == [start + 800, start + 1_400]


# -- the memory cap and the bounded shutdown --------------------------------------------------

BIG_VALUE = b"x" * 100


BIG_COST = len(BIG_VALUE) + RECORD_OVERHEAD_BYTES


class Reports(LoggingMetrics):
    def __init__(self) -> None:
        super().__init__()
        self.reports: list[FlushReport] = []

    def on_flush(self, report: FlushReport) -> None:
        self.reports.append(report)


def capped_core(dest: Any, clock: Any = None, metrics: Any = None,
         hints: BufferingHints | None = None) -> DeliveryCore:
    return DeliveryCore("d", dest, hints=hints or BufferingHints(10**6, None, 10**6),
                        retry=RetryOptions(duration_ms=1_000, max_attempts=2),
                        clock=clock or ManualClock(), sleep=no_sleep, metrics=metrics)


@dataclass
class PausingConsumer:
    clock: ManualClock
    polls: list[list[Msg]]
    partitions: tuple[int, ...] = (0, 1, 2)
    calls: list[tuple[str, list[tuple[str, int]]]] = field(default_factory=list)
    commits: list[dict[tuple[str, int], int]] = field(default_factory=list)
    callbacks: dict[str, Any] = field(default_factory=dict)

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.callbacks = callbacks
        callbacks["on_assign"](self, [TopicPartition("t", p) for p in self.partitions])

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Msg]:
        self.clock.now += 100
        return self.polls.pop(0) if self.polls else []

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.calls.append(("pause", [(p.topic, p.partition) for p in partitions]))

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.calls.append(("resume", [(p.topic, p.partition) for p in partitions]))

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> None:
        self.commits.append({(tp.topic, tp.partition): tp.offset for tp in offsets})

    def close(self) -> None:
        pass


def big_msgs(partition: int, offsets: range) -> list[Msg]:
    return [Msg("t", partition, o, BIG_VALUE) for o in offsets]


def test_at_the_cap_the_fullest_partitions_pause_cut_early_and_resume() -> None:
    clock, dest, metrics = ManualClock(), MemoryDestination(), Reports()
    # p0 brings 8 records, p1 2, p2 1: 11 held ≥ the cap of 10. Low water is 5: pausing p0
    # leaves 3 running (< 5), so only p0 pauses; cutting p0 leaves 3 buffered (≤ 5). The
    # early batch is flushed, nothing is held any more beyond 3, and p0 resumes.
    polls = [big_msgs(0, range(8)) + big_msgs(1, range(2)) + big_msgs(2, range(1))]
    consumer = PausingConsumer(clock, polls)
    w = DeliveryWorker(capped_core(dest, clock, metrics), consumer, "t", poll_timeout_ms=100,
                       max_buffered_bytes=10 * BIG_COST)
    summary = w.run(until_idle_ms=300)
    assert consumer.calls[:2] == [("pause", [("t", 0)]), ("resume", [("t", 0)])]
    assert consumer.commits[0] == {("t", 0): 8}  # the early cut, delivered before the drain
    assert dest.sent[0].cut_range == (0, 7) and metrics.reports[0].forced
    assert not any(r.forced for r in metrics.reports[1:])  # the drain at the end
    assert summary.pauses == 1 and summary.forced_cuts == 1
    assert sorted((b.partition, r.offset) for b in dest.sent for r in b.records) == sorted(
        [(0, o) for o in range(8)] + [(1, 0), (1, 1), (2, 0)])


def test_under_the_cap_nothing_pauses() -> None:
    clock, dest = ManualClock(), MemoryDestination()
    consumer = PausingConsumer(clock, [big_msgs(0, range(8))])
    w = DeliveryWorker(capped_core(dest, clock), consumer, "t", poll_timeout_ms=100,
                       max_buffered_bytes=9 * BIG_COST)
    w.run(until_idle_ms=300)
    assert consumer.calls == [] and not any(b.forced for b in dest.sent)


def test_pauses_are_forgotten_with_revoked_and_lost_partitions() -> None:
    clock, dest = ManualClock(), MemoryDestination()
    consumer = PausingConsumer(clock, [])
    c = capped_core(dest, clock)
    w = DeliveryWorker(c, consumer, "t", max_buffered_bytes=4 * BIG_COST)
    consumer.subscribe(["t"], on_assign=w._on_assign, on_revoke=w._on_revoke,
                       on_lost=w._on_lost)
    for p, n in ((0, 3), (1, 2), (2, 1)):
        for o in range(n):
            c.add(rec(o, BIG_VALUE, partition=p))
    w._bound_memory(clock())
    assert w.paused == {("t", 0), ("t", 1)}  # 6 held, low water 2: the two fullest
    w._on_lost(consumer, [TopicPartition("t", 0)])
    assert w.paused == {("t", 1)}
    with asyncio.Runner() as runner:
        w._runner = runner
        w._on_revoke(consumer, [TopicPartition("t", 1)])
    w._runner = None
    assert w.paused == frozenset()
    w._paused.add(("t", 2))
    w._on_assign(consumer, [TopicPartition("t", 2)])  # re-assigned: librdkafka fetches it
    assert w.paused == frozenset()


def test_fetch_config_is_sized_from_the_cap() -> None:
    mib = 1024 * 1024
    assert fetch_config(256 * mib)["queued.max.messages.kbytes"] == 32 * 1024
    assert fetch_config(64 * mib)["queued.max.messages.kbytes"] == 8 * 1024
    small = fetch_config(1 * mib)
    assert small["queued.max.messages.kbytes"] == 2 * 1024
    assert small["max.partition.fetch.bytes"] <= small["fetch.max.bytes"]


@dataclass
class SlowDestination(Destination):
    """Partition 1's sends hang until cancelled; the rest succeed at once."""

    name: str = "slow"
    sent: list[Batch] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)

    def encode(self, batch: Batch) -> Batch:
        return batch

    async def send(self, request: Batch) -> Batch:
        if request.partition == 1:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                self.cancelled.append(request.start_offset)
                raise
        self.sent.append(request)
        return request

    def classify(self, batch: Batch, request: Batch, response: Batch) -> Any:
        from connectors.core import Successful

        return Successful()


def test_stop_abandons_what_is_not_delivered_by_the_deadline_uncommitted() -> None:
    dest = SlowDestination()
    consumer = PausingConsumer(ManualClock(), [big_msgs(0, range(4)) + big_msgs(1, range(4))],
                               partitions=(0, 1))
    c = DeliveryCore("d", dest, hints=BufferingHints(10**6, 2, 10**6),
                     retry=RetryOptions(duration_ms=60_000))
    w = DeliveryWorker(c, consumer, "t", poll_timeout_ms=20, shutdown_timeout_ms=300)
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.setdefault("s", w.run()))
    started = time.monotonic()
    thread.start()
    while not dest.cancelled and not dest.sent and time.monotonic() - started < 5:
        time.sleep(0.01)
    w.stop()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 5
    summary = result["s"]
    assert dest.cancelled  # the hanging send saw CancelledError
    committed: dict[tuple[str, int], int] = {}
    for commit in consumer.commits:
        committed.update(commit)
    assert committed == {("t", 0): 4}  # partition 1: nothing delivered, nothing committed
    assert summary.abandoned == 4 and w.abandoned == 4
