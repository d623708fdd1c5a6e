"""The core's source backup (S3BackupMode AllDocuments / Enabled): every batch goes to both
destinations, offsets are acked only when both wrote it."""

import asyncio

import pytest

from connectors.core import BufferingHints, DeliveryCore, DontRetry, Rejected, RetryOptions
from connectors.core.outcome import NotWritten, Written
from connectors.core.records import Batch
from ground.errors import PermanentDeliveryError
from tests.unit.connectors.helpers import ManualClock, MemoryDestination, no_sleep, rec

HINTS = BufferingHints(size_bytes=10**6, max_records=4, interval_ms=1_000)
RETRY = RetryOptions(duration_ms=10_000, max_attempts=3)


def make(dest, source_backup, backup=None) -> DeliveryCore:
    return DeliveryCore("d", dest, hints=HINTS, retry=RETRY, backup=backup,
                        source_backup=source_backup, clock=ManualClock(),
                        wall_clock=lambda: 42, sleep=no_sleep)


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


class ProbedBackup(MemoryDestination):
    """A source backup that says a previous owner wrote offsets 0..1."""

    async def written(self, batch: Batch):
        if batch.start_offset == 0:
            return Written(0, 1)
        return NotWritten()


def test_replay_alignment_asks_the_source_backup_when_the_destination_cannot_tell() -> None:
    dest, source = MemoryDestination(), ProbedBackup(name="source")
    core = make(dest, source)
    for o in range(4):
        core.add(rec(o))
    asyncio.run(core.flush(core.drain()))  # 0..3 is put back and re-cut at 1
    assert dest.offsets == []
    asyncio.run(core.flush(core.drain()))
    assert [[r.offset for r in b.records] for b in source.sent] == [[0, 1], [2, 3]]
    assert dest.offsets == [0, 1, 2, 3]
    assert core.committable() == {("t", 0): 4}
