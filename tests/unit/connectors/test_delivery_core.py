import asyncio
import json

import pytest

from connectors.core import (
    BufferingHints,
    DeliveryCore,
    DontRetry,
    Rejected,
    RetryOptions,
    RetryPartial,
)
from ground.errors import PermanentDeliveryError
from tests.unit.connectors.helpers import ManualClock, MemoryDestination, no_sleep, rec

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


def test_permanent_failure_without_backup_stops_and_commits_nothing() -> None:
    c = make(MemoryDestination(script=[reject_offsets(2)]))
    for o in range(4):
        c.add(rec(o))
    with pytest.raises(PermanentDeliveryError, match="offset 2: mapper_parsing_exception"):
        asyncio.run(c.flush(c.due()))
    assert c.committable() == {}


def test_permanent_failures_go_to_the_backup_then_commit() -> None:
    backup = MemoryDestination(name="backup")
    c = make(MemoryDestination(script=[reject_offsets(1, 3)]), backup)
    for o in range(4):
        c.add(rec(o, b"raw-" + str(o).encode()))
    asyncio.run(c.flush(c.due()))
    assert backup.offsets == [1, 3]
    doc = json.loads(backup.sent[0].records[0].value)
    assert doc["errorCode"] == "mapper_parsing_exception"
    assert doc["attemptsMade"] == 1 and doc["attemptEndingTimestamp"] == 42
    assert doc["rawData"] == "cmF3LTE="  # base64 of raw-1
    assert c.committable() == {("t", 0): 4}


def test_a_failing_backup_stops_without_commit() -> None:
    backup = MemoryDestination(name="backup", script=[reject_offsets(1)])
    c = make(MemoryDestination(script=[reject_offsets(1)]), backup)
    for o in range(4):
        c.add(rec(o))
    with pytest.raises(PermanentDeliveryError, match="backup"):
        asyncio.run(c.flush(c.due()))
    assert c.committable() == {}


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
