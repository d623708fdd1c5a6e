"""A delivery's backups: the failure backup (records refused for good, as failure documents)
and the source backup (S3BackupMode AllDocuments / Enabled: every batch goes to both
destinations, offsets are acked only when both wrote it)."""

import asyncio
import json

import pytest

from connectors.core import (
    BufferingHints,
    DeliveryCore,
    DontRetry,
    Rejected,
    RetryOptions,
)
from ground.errors import PermanentDeliveryError
from tests.unit.connectors.helpers import MemoryDestination, no_sleep, rec
from tests.unit.fakes import ManualClock

HINTS = BufferingHints(size_bytes=10**6, max_records=4, interval_ms=1_000)
RETRY = RetryOptions(duration_ms=10_000, max_attempts=3)


def make(dest, source_backup, backup=None) -> DeliveryCore:
    return DeliveryCore("d", dest, hints=HINTS, retry=RETRY, backup=backup,
                        source_backup=source_backup, clock=ManualClock(),
                        wall_clock=lambda: 42, sleep=no_sleep)


# -- the source backup ------------------------------------------------------------------------

def refuse_all(batch):
    return DontRetry(tuple(Rejected(r, "AccessDenied", "no") for r in batch.records), "refused")


def test_every_record_goes_to_both_and_is_committed() -> None:
    dest, source = MemoryDestination(), MemoryDestination(name="source")
    core = make(dest, source)
    for o in range(6):
        core.add(rec(o))
    asyncio.run(core.flush(core.drain()))
    assert dest.offsets == source.offsets == list(range(6))
    assert core.committable() == {("t", 0): 6}


def test_failed_documents_still_go_to_the_failure_backup() -> None:
    def reject_1(batch):
        return DontRetry(tuple(Rejected(r, "mapper_parsing_exception", "bad")
                               for r in batch.records if r.offset == 1), "rejected")
    dest, source, failed = (MemoryDestination(script=[reject_1]), MemoryDestination(name="s"),
                            MemoryDestination(name="failed"))
    core = make(dest, source, failed)
    for o in range(3):
        core.add(rec(o))
    asyncio.run(core.flush(core.drain()))
    assert source.offsets == [0, 1, 2]
    assert len(failed.sent) == 1 and len(failed.sent[0].records) == 1
    assert core.committable() == {("t", 0): 3}


def test_a_failing_source_backup_stops_without_commit() -> None:
    dest = MemoryDestination()
    source = MemoryDestination(name="source", script=[refuse_all])
    core = make(dest, source)
    for o in range(3):
        core.add(rec(o))
    with pytest.raises(PermanentDeliveryError, match="source backup to source failed"):
        asyncio.run(core.flush(core.drain()))
    assert dest.offsets == [0, 1, 2]  # the main write happened (idempotent on replay)
    assert core.committable() == {}


# -- the failure backup -----------------------------------------------------------------------

def reject_offsets(*offsets: int):
    def outcome(batch):
        return DontRetry(tuple(Rejected(r, "mapper_parsing_exception", "bad field")
                               for r in batch.records if r.offset in offsets), "rejected")
    return outcome


def make_with_backup(dest: MemoryDestination, backup: MemoryDestination | None = None
                     ) -> DeliveryCore:
    return DeliveryCore("d", dest, hints=HINTS, retry=RETRY, backup=backup, clock=ManualClock(),
                        wall_clock=lambda: 42, sleep=no_sleep)


def test_permanent_failure_without_backup_stops_and_commits_nothing() -> None:
    c = make_with_backup(MemoryDestination(script=[reject_offsets(2)]))
    for o in range(4):
        c.add(rec(o))
    with pytest.raises(PermanentDeliveryError, match="offset 2: mapper_parsing_exception"):
        asyncio.run(c.flush(c.due()))
    assert c.committable() == {}


def test_permanent_failures_go_to_the_backup_then_commit() -> None:
    backup = MemoryDestination(name="backup")
    c = make_with_backup(MemoryDestination(script=[reject_offsets(1, 3)]), backup)
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
    c = make_with_backup(MemoryDestination(script=[reject_offsets(1)]), backup)
    for o in range(4):
        c.add(rec(o))
    with pytest.raises(PermanentDeliveryError, match="backup"):
        asyncio.run(c.flush(c.due()))
    assert c.committable() == {}
