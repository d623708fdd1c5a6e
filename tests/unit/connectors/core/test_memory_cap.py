"""The memory cap (held bytes, early cuts, pause/resume across rebalances) and the bounded
shutdown, against the in-memory destination and a fake consumer."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from connectors import DeliveryConfig
from connectors.core import (
    Batch,
    BufferingHints,
    DeliveryCore,
    DeliveryWorker,
    Destination,
    RetryOptions,
)
from connectors.core.partition import RECORD_OVERHEAD_BYTES
from connectors.core.metrics import FlushReport, LoggingMetrics
from connectors.core.worker import fetch_config
from ground.errors import ConfigError
from tests.unit.connectors.helpers import ManualClock, MemoryDestination, no_sleep, rec
from tests.unit.connectors.test_worker import Msg

VALUE = b"x" * 100
COST = len(VALUE) + RECORD_OVERHEAD_BYTES


class Reports(LoggingMetrics):
    def __init__(self) -> None:
        super().__init__()
        self.reports: list[FlushReport] = []

    def on_flush(self, report: FlushReport) -> None:
        self.reports.append(report)


def core(dest: Any, clock: Any = None, metrics: Any = None,
         hints: BufferingHints | None = None) -> DeliveryCore:
    return DeliveryCore("d", dest, hints=hints or BufferingHints(10**6, None, 10**6),
                        retry=RetryOptions(duration_ms=1_000, max_attempts=2),
                        clock=clock or ManualClock(), sleep=no_sleep, metrics=metrics)


def test_held_bytes_count_buffered_and_in_flight_until_acked() -> None:
    dest = MemoryDestination()
    c = core(dest)
    for o in range(5):
        c.add(rec(o, VALUE, partition=o % 2))
    assert c.held_bytes == 5 * COST  # independent: value bytes + overhead per record
    assert c.held_by_partition() == {("t", 0): 3 * COST, ("t", 1): 2 * COST}
    asyncio.run(c.flush(c.drain([("t", 0)])))
    assert c.held_bytes == 2 * COST
    assert c.forget([("t", 1)]) == 2 and c.held_bytes == 0


def test_cut_largest_cuts_the_biggest_buffers_first_and_marks_them_forced() -> None:
    dest, metrics = MemoryDestination(), Reports()
    c = core(dest, metrics=metrics)
    sizes = {0: 6, 1: 2, 2: 4}
    for p, n in sizes.items():
        for o in range(n):
            c.add(rec(o, VALUE, partition=p))
    # 12 records held; keep at most 5 in the buffers: cut p0 (6), then p2 (4) → 2 left
    assert c.cut_largest(5 * COST) == [("t", 0), ("t", 2)]
    batches = c.due()
    assert [(b.partition, len(b), b.forced) for b in batches] == [(0, 6, True), (2, 4, True)]
    asyncio.run(c.flush(batches))
    assert [r.forced for r in metrics.reports] == [True, True]
    assert c.committable() == {("t", 0): 6, ("t", 2): 4}
    assert c.held_bytes == 2 * COST


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


def msgs(partition: int, offsets: range) -> list[Msg]:
    return [Msg("t", partition, o, VALUE) for o in offsets]


def test_at_the_cap_the_fullest_partitions_pause_cut_early_and_resume() -> None:
    clock, dest, metrics = ManualClock(), MemoryDestination(), Reports()
    # p0 brings 8 records, p1 2, p2 1: 11 held ≥ the cap of 10. Low water is 5: pausing p0
    # leaves 3 running (< 5), so only p0 pauses; cutting p0 leaves 3 buffered (≤ 5). The
    # early batch is flushed, nothing is held any more beyond 3, and p0 resumes.
    polls = [msgs(0, range(8)) + msgs(1, range(2)) + msgs(2, range(1))]
    consumer = PausingConsumer(clock, polls)
    w = DeliveryWorker(core(dest, clock, metrics), consumer, "t", poll_timeout_ms=100,
                       max_buffered_bytes=10 * COST)
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
    consumer = PausingConsumer(clock, [msgs(0, range(8))])
    w = DeliveryWorker(core(dest, clock), consumer, "t", poll_timeout_ms=100,
                       max_buffered_bytes=9 * COST)
    w.run(until_idle_ms=300)
    assert consumer.calls == [] and not any(b.forced for b in dest.sent)


def test_pauses_are_forgotten_with_revoked_and_lost_partitions() -> None:
    clock, dest = ManualClock(), MemoryDestination()
    consumer = PausingConsumer(clock, [])
    c = core(dest, clock)
    w = DeliveryWorker(c, consumer, "t", max_buffered_bytes=4 * COST)
    consumer.subscribe(["t"], on_assign=w._on_assign, on_revoke=w._on_revoke,
                       on_lost=w._on_lost)
    for p, n in ((0, 3), (1, 2), (2, 1)):
        for o in range(n):
            c.add(rec(o, VALUE, partition=p))
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


def test_max_buffered_mb_is_validated_against_the_buffering_size() -> None:
    base = {"name": "n", "topic": "t", "s3": {"bucket": "bkt", "buffering": {"size_mb": 64}}}
    assert DeliveryConfig.from_mapping(base).max_buffered_mb == 128
    assert DeliveryConfig.from_mapping({**base, "max_buffered_mb": 64}).max_buffered_bytes == (
        64 * 1024 * 1024)
    with pytest.raises(ConfigError) as err:
        DeliveryConfig.from_mapping({**base, "max_buffered_mb": 32})
    assert err.value.field == "max_buffered_mb" and "64" in str(err.value)
    config = DeliveryConfig.from_mapping({**base, "shutdown_timeout_seconds": 5})
    assert config.shutdown_timeout_ms == 5_000
    assert DeliveryConfig.from_mapping(base).shutdown_timeout_ms == 30_000
    with pytest.raises(ConfigError) as err:
        DeliveryConfig.from_mapping({**base, "shutdown_timeout_seconds": -1})
    assert err.value.field == "shutdown_timeout_seconds"


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
    consumer = PausingConsumer(ManualClock(), [msgs(0, range(4)) + msgs(1, range(4))],
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
