from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectors.core import (
    BufferingHints,
    DeliveryCore,
    DontRetry,
    Rejected,
    RetryOptions,
    RetryPartial,
)
from connectors.core.metrics import FlushReport, LoggingMetrics
from connectors.core.partition import RECORD_OVERHEAD_BYTES
from ground.errors import PermanentDeliveryError
from tests.unit.connectors.helpers import MemoryDestination, no_sleep, rec
from tests.unit.fakes import ManualClock

HINTS = BufferingHints(size_bytes=10**6, max_records=4, interval_ms=1_000)
RETRY = RetryOptions(duration_ms=10_000, max_attempts=3)


def make(dest: MemoryDestination, backup: MemoryDestination | None = None) -> DeliveryCore:
    return DeliveryCore("d", dest, hints=HINTS, retry=RETRY, backup=backup, clock=ManualClock(),
                        wall_clock=lambda: 42, sleep=no_sleep)


def reject_offsets(*offsets: int):
    def outcome(batch):
        return DontRetry(tuple(Rejected(r, "mapper_parsing_exception", "bad field")
                               for r in batch.records if r.offset in offsets), "rejected")
    return outcome


def test_commit_is_last_delivered_plus_one_only_after_delivery() -> None:
    dest = MemoryDestination()
    c = make(dest)
    for o in range(6):
        c.add(rec(o))
    assert c.committable() == {}
    asyncio.run(c.flush(c.due()))
    assert dest.offsets == [0, 1, 2, 3]
    assert c.committable() == {("t", 0): 4}
    c.mark_committed(c.committable())
    assert c.committable() == {}
    asyncio.run(c.flush(c.drain()))
    assert c.committable() == {("t", 0): 6}


def test_one_failing_partition_does_not_block_the_commit_of_another() -> None:
    def fail_partition_1(batch):
        if batch.partition == 1:
            return reject_offsets(*[r.offset for r in batch.records])(batch)
        return RetryPartial((), "none")

    c = make(MemoryDestination(script=[fail_partition_1, fail_partition_1]))
    for o in range(4):
        c.add(rec(o, partition=0))
        c.add(rec(o, partition=1))
    with pytest.raises(PermanentDeliveryError):
        asyncio.run(c.flush(c.due()))
    assert c.committable() == {("t", 0): 4}


def test_revoked_partitions_are_forgotten() -> None:
    c = make(MemoryDestination())
    c.add(rec(0, partition=0))
    c.add(rec(0, partition=1))
    assert c.forget([("t", 1)]) == 1
    assert [b.partition for b in c.drain()] == [0]


# -- memory held (what the memory cap reads and cuts) -----------------------------------------

VALUE = b"x" * 100


COST = len(VALUE) + RECORD_OVERHEAD_BYTES


class Reports(LoggingMetrics):
    def __init__(self) -> None:
        super().__init__()
        self.reports: list[FlushReport] = []

    def on_flush(self, report: FlushReport) -> None:
        self.reports.append(report)


def held_core(dest: Any, clock: Any = None, metrics: Any = None,
         hints: BufferingHints | None = None) -> DeliveryCore:
    return DeliveryCore("d", dest, hints=hints or BufferingHints(10**6, None, 10**6),
                        retry=RetryOptions(duration_ms=1_000, max_attempts=2),
                        clock=clock or ManualClock(), sleep=no_sleep, metrics=metrics)


def test_held_bytes_count_buffered_and_in_flight_until_acked() -> None:
    dest = MemoryDestination()
    c = held_core(dest)
    for o in range(5):
        c.add(rec(o, VALUE, partition=o % 2))
    assert c.held_bytes == 5 * COST  # independent: value bytes + overhead per record
    assert c.held_by_partition() == {("t", 0): 3 * COST, ("t", 1): 2 * COST}
    asyncio.run(c.flush(c.drain([("t", 0)])))
    assert c.held_bytes == 2 * COST
    assert c.forget([("t", 1)]) == 2 and c.held_bytes == 0


def test_cut_largest_cuts_the_biggest_buffers_first_and_marks_them_forced() -> None:
    dest, metrics = MemoryDestination(), Reports()
    c = held_core(dest, metrics=metrics)
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
