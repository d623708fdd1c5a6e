"""PrometheusMetrics fed by the delivery core: every value recomputed from the inputs."""

from __future__ import annotations

import asyncio

import pytest

from connectors.core import (
    BufferingHints,
    DeliveryCore,
    DeliveryWorker,
    DontRetry,
    FanoutMetrics,
    LoggingMetrics,
    PrometheusMetrics,
    Rejected,
    Retry,
    RetryOptions,
    deliver_batch,
)
from connectors.core.records import Batch
from ground.errors import PermanentDeliveryError
from tests.unit.connectors.core.test_worker import FakeConsumer, msgs
from tests.unit.connectors.helpers import MemoryDestination, no_sleep, rec
from tests.unit.fakes import ManualClock

HINTS = BufferingHints(size_bytes=10**6, max_records=4, interval_ms=1_000)
RETRY = RetryOptions(duration_ms=10_000, max_attempts=3)
T0 = 1_700_000_000_000  # Kafka timestamps (epoch ms)


def make(dest: MemoryDestination, metrics: PrometheusMetrics,
         backup: MemoryDestination | None = None) -> DeliveryCore:
    return DeliveryCore("ticks-s3", dest, hints=HINTS, retry=RETRY, backup=backup,
                        clock=ManualClock(), wall_clock=lambda: 42, sleep=no_sleep,
                        metrics=metrics)


def value(m: PrometheusMetrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def test_counters_match_the_records_fed_in() -> None:
    wall = ManualClock(T0 + 10_000)
    metrics = PrometheusMetrics(clock=wall)
    dest = MemoryDestination(name="s3://ticks", script=[lambda b: Retry("503 SlowDown")])
    core = make(dest, metrics)
    # p0: 6 records (a full batch of 4 + 2 left), p1: 3 records; values of different sizes
    inputs = [rec(o, b"x" * (10 + o), partition=0, ts=T0 + o) for o in range(6)]
    inputs += [rec(o, b"y" * (100 + o), partition=1, ts=T0 + 500 + o) for o in range(3)]
    for r in inputs:
        core.add(r)
    asyncio.run(core.flush(core.due()))  # the full p0 batch only; its first send is retried

    for p in (0, 1):
        mine = [r for r in inputs if r.partition == p]
        base = {"delivery_stream": "ticks-s3", "topic": "t", "partition": str(p)}
        assert value(metrics, "firehose_incoming_records_total", **base) == len(mine)
        assert value(metrics, "firehose_incoming_bytes_total", **base) == sum(
            len(r.value or b"") for r in mine)

    p0 = {"delivery_stream": "ticks-s3", "destination": "s3://ticks", "topic": "t",
          "partition": "0"}
    first = inputs[:4]
    assert value(metrics, "firehose_delivery_records_total", **p0) == 4
    assert value(metrics, "firehose_delivery_bytes_total", **p0) == sum(len(r.value or b"")
                                                                       for r in first)
    assert value(metrics, "firehose_delivery_requests_total", **p0) == 2  # 503, then OK
    assert value(metrics, "firehose_delivery_objects_total", **p0) == 1
    assert value(metrics, "firehose_delivery_attempted_records_total", **p0) == 8
    assert value(metrics, "firehose_partition_count", delivery_stream="ticks-s3") == 2

    # freshness: now minus the oldest undelivered Kafka timestamp, per partition
    assert value(metrics, "firehose_delivery_data_freshness_seconds", **p0) == pytest.approx(
        (wall.now - min(r.timestamp_ms for r in inputs[4:6])) / 1000)
    p1 = dict(p0, partition="1")
    assert value(metrics, "firehose_delivery_data_freshness_seconds", **p1) == pytest.approx(
        (wall.now - (T0 + 500)) / 1000)
    wall.now += 2_500  # time passes, nothing delivered: the age grows with the clock
    assert value(metrics, "firehose_delivery_data_freshness_seconds", **p1) == pytest.approx(
        (wall.now - (T0 + 500)) / 1000)

    asyncio.run(core.flush(core.drain()))
    assert value(metrics, "firehose_delivery_records_total", **p0) == 6
    assert value(metrics, "firehose_delivery_objects_total", **p0) == 2
    assert value(metrics, "firehose_delivery_records_total", **p1) == 3
    assert value(metrics, "firehose_delivery_bytes_total", **p1) == sum(
        len(r.value or b"") for r in inputs[6:])
    assert sum(len(b) for b in dest.sent) == 8 + 2 + 3  # what the destination saw
    for labels in (p0, p1):
        assert value(metrics, "firehose_delivery_data_freshness_seconds", **labels) == 0
    # one encode per request
    total = sum(value(metrics, "firehose_delivery_requests_total", **lb) or 0 for lb in (p0, p1))
    assert value(metrics, "firehose_execute_processing_total", delivery_stream="ticks-s3",
                 destination="s3://ticks", outcome="success") == total == len(dest.sent)
    assert value(metrics, "firehose_execute_processing_duration_seconds_count",
                 delivery_stream="ticks-s3", destination="s3://ticks") == total

    core.mark_committed(core.committable())
    assert value(metrics, "firehose_committed_offset", delivery_stream="ticks-s3", topic="t",
                 partition="0") == 6


def reject(*offsets: int):
    def outcome(batch: Batch) -> DontRetry:
        return DontRetry(tuple(Rejected(r, "mapper_parsing_exception", "bad")
                               for r in batch.records if r.offset in offsets), "rejected")
    return outcome


def test_backups_are_counted_under_the_backup_destination() -> None:
    metrics = PrometheusMetrics(clock=ManualClock(T0))
    backup = MemoryDestination(name="s3://errors/")
    dest = MemoryDestination(name="elasticsearch/ticks", script=[reject(1, 2)])
    core = make(dest, metrics, backup)
    inputs = [rec(o, b"v" * (o + 1)) for o in range(4)]
    for r in inputs:
        core.add(r)
    asyncio.run(core.flush(core.due()))
    d = {"delivery_stream": "ticks-s3", "destination": "elasticsearch/ticks", "topic": "t",
         "partition": "0"}
    b = dict(d, destination="s3://errors/")
    delivered = [r for r in inputs if r.offset not in (1, 2)]
    assert value(metrics, "firehose_delivery_records_total", **d) == len(delivered)
    assert value(metrics, "firehose_delivery_bytes_total", **d) == sum(
        len(r.value or b"") for r in delivered)
    # DeliveryToElasticsearch.Success = records / attempted records
    assert value(metrics, "firehose_delivery_attempted_records_total", **d) == 4
    assert value(metrics, "firehose_backup_records_total", **b) == 2
    assert value(metrics, "firehose_backup_bytes_total", **b) == sum(
        len(r.value or b"") for batch in backup.sent for r in batch.records)
    assert value(metrics, "firehose_backup_objects_total", **b) == 1
    assert value(metrics, "firehose_backup_requests_total", **b) == 1
    assert value(metrics, "firehose_backup_data_freshness_seconds", **b) == 0


def test_an_undeliverable_batch_keeps_ageing() -> None:
    wall = ManualClock(T0 + 60_000)
    metrics = PrometheusMetrics(clock=wall)
    core = make(MemoryDestination(name="s3://ticks", script=[reject(0)]), metrics)
    for o in range(4):
        core.add(rec(o, ts=T0 + 1_000 * o))
    with pytest.raises(PermanentDeliveryError):
        asyncio.run(core.flush(core.due()))
    labels = {"delivery_stream": "ticks-s3", "destination": "s3://ticks", "topic": "t",
              "partition": "0"}
    assert value(metrics, "firehose_delivery_records_total", **labels) == 3
    assert value(metrics, "firehose_delivery_data_freshness_seconds", **labels) == 60.0
    wall.now += 1_000
    assert value(metrics, "firehose_delivery_data_freshness_seconds", **labels) == 61.0
    core.add(rec(4, ts=T0 + 30_000))  # newer records buffered behind it: still the oldest
    assert value(metrics, "firehose_delivery_data_freshness_seconds", **labels) == 61.0


def test_encode_duration_and_failure_from_an_injected_timer() -> None:
    timer = ManualClock(0)
    seen: list[tuple[float, bool]] = []

    class SlowEncode(MemoryDestination):
        def encode(self, batch: Batch) -> Batch:
            timer.now += 3 * len(batch)
            if batch.records[0].value == b"boom":
                raise ValueError("cannot encode")
            return batch

    batch = Batch.of([rec(o) for o in range(5)])
    result = asyncio.run(deliver_batch(SlowEncode(), batch, RETRY, sleep=no_sleep,
                                       on_encode=lambda s, ok: seen.append((s, ok)),
                                       timer=timer))
    assert seen == [(15, True)] and result.writes == 1 and result.attempted_records == 5
    with pytest.raises(ValueError):
        asyncio.run(deliver_batch(SlowEncode(), Batch.of([rec(0, b"boom")]), RETRY,
                                  sleep=no_sleep, on_encode=lambda s, ok: seen.append((s, ok)),
                                  timer=timer))
    assert seen[-1] == (3, False)


def test_registries_are_per_instance_and_logging_keeps_its_totals() -> None:
    a, b = PrometheusMetrics(), PrometheusMetrics()
    logging_metrics = LoggingMetrics()
    core = make(MemoryDestination(name="s3://ticks"), FanoutMetrics(logging_metrics, a))  # type: ignore[arg-type]
    for o in range(4):
        core.add(rec(o, b"abc"))
    asyncio.run(core.flush(core.due()))
    labels = {"delivery_stream": "ticks-s3", "destination": "s3://ticks", "topic": "t",
              "partition": "0"}
    assert value(a, "firehose_delivery_records_total", **labels) == 4
    assert value(b, "firehose_delivery_records_total", **labels) is None
    assert (logging_metrics.records, logging_metrics.bytes, logging_metrics.flushes) == (4, 12, 1)


def test_the_worker_reports_incoming_once_per_poll_and_partition() -> None:
    clock = ManualClock()
    calls: list[tuple[str, int, int, int]] = []

    class Recording(PrometheusMetrics):
        def on_incoming(self, delivery: str, topic: str, partition: int, records: int,
                        bytes_: int) -> None:
            calls.append((topic, partition, records, bytes_))
            super().on_incoming(delivery, topic, partition, records, bytes_)

    metrics = Recording(clock=ManualClock(T0))
    core = DeliveryCore("d", MemoryDestination(), hints=HINTS, retry=RETRY, clock=clock,
                        sleep=no_sleep, metrics=metrics)
    polls = [msgs(0, range(0, 3)) + msgs(1, range(0, 2)), msgs(0, range(3, 5))]
    expected_bytes = {p: sum(len(m.value()) for poll in polls for m in poll if m.partition() == p)
                      for p in (0, 1)}
    DeliveryWorker(core, FakeConsumer(clock, polls), "t").run(until_idle_ms=300)
    assert [c[:3] for c in calls] == [("t", 0, 3), ("t", 1, 2), ("t", 0, 2)]
    for p in (0, 1):
        base = {"delivery_stream": "d", "topic": "t", "partition": str(p)}
        assert value(metrics, "firehose_incoming_bytes_total", **base) == expected_bytes[p]
        assert value(metrics, "firehose_delivery_records_total", destination="memory",
                     **base) == (5 if p == 0 else 2)
