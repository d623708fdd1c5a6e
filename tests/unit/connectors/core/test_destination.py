"""The destination contract: three calls to write, and hooks that do nothing unless a
destination has the capability."""

from __future__ import annotations

import asyncio

import pytest

from connectors.core import (
    BufferingHints,
    DeliveryCore,
    Destination,
    NotWritten,
    Outcome,
    RetryOptions,
    Successful,
)
from connectors.core.records import Batch, TopicPartition
from tests.unit.connectors.helpers import MemoryDestination, no_sleep, rec
from tests.unit.fakes import ManualClock


def test_the_three_calls_are_required() -> None:
    class Incomplete(Destination):
        name = "incomplete"

        def encode(self, batch: Batch) -> Batch:
            return batch

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]


def test_the_hooks_do_nothing_by_default() -> None:
    dest = MemoryDestination()

    async def hooks() -> tuple[int, object]:
        await dest.open()
        cleaned = await dest.prepare([("t", 0)])
        probe = await dest.written(Batch.of([rec(0)]))
        await dest.close()
        return cleaned, probe

    assert asyncio.run(hooks()) == (0, None)


class Recording(MemoryDestination):
    """Records the hooks the core calls, and tells what was written (nothing)."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name)
        self.calls: list[str] = []

    async def open(self) -> None:
        self.calls.append("open")

    async def close(self) -> None:
        self.calls.append("close")

    async def prepare(self, partitions: list[TopicPartition]) -> int:
        self.calls.append(f"prepare {partitions}")
        return 0

    async def written(self, batch: Batch) -> NotWritten:
        self.calls.append(f"written {batch.start_offset}")
        return NotWritten()

    def classify(self, batch: Batch, request: Batch, response: Batch) -> Outcome:
        return Successful()


def test_the_core_calls_the_hooks_of_the_destination_and_its_backups() -> None:
    dest, backup, source = Recording("dest"), Recording("backup"), Recording("source")
    core = DeliveryCore("d", dest, hints=BufferingHints(10**6, 2, 1_000), retry=RetryOptions(),
                        backup=backup, source_backup=source, clock=ManualClock(), sleep=no_sleep)

    async def life() -> None:
        await core.open()
        await core.prepare([("t", 0)])
        await core.prepare([])  # nothing assigned: nobody is asked
        for o in range(4):
            core.add(rec(o))
        await core.flush(core.due())
        await core.close()

    asyncio.run(life())
    # The destination tells what was written: asked about the first batch, which nobody wrote.
    assert dest.calls == ["open", "prepare [('t', 0)]", "written 0", "close"]
    assert backup.calls == ["open", "prepare [('t', 0)]", "close"]
    assert source.calls == ["open", "prepare [('t', 0)]", "close"]
    assert dest.offsets == [0, 1, 2, 3]


def test_a_destination_that_cannot_tell_is_asked_once_per_partition() -> None:
    """written() answering None (the default): replay alignment ends for the partition."""

    class Counting(MemoryDestination):
        asked = 0

        async def written(self, batch: Batch) -> None:
            Counting.asked += 1
            return None

    dest = Counting()
    core = DeliveryCore("d", dest, hints=BufferingHints(10**6, 2, 1_000), retry=RetryOptions(),
                        clock=ManualClock(), sleep=no_sleep)
    for o in range(6):
        core.add(rec(o, partition=o % 2))
    asyncio.run(core.flush(core.due()))
    asyncio.run(core.flush(core.drain()))
    assert Counting.asked == 2  # one per partition
    assert sorted(dest.offsets) == [0, 1, 2, 3, 4, 5]
    assert core.committable() == {("t", 0): 5, ("t", 1): 6}
