"""Replay alignment: a worker that replays from the committed offset re-cuts its batches where
the crashed worker cut them, so content-keyed objects are rewritten, never duplicated."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from connectors.core import (
    Batch,
    BufferingHints,
    DeliveryCore,
    Destination,
    RetryOptions,
    Successful,
)
from connectors.core.outcome import NoOutput, NotWritten, Outcome, Probe, Written
from ground.errors import KeyCollisionError
from tests.unit.connectors.helpers import MemoryDestination, no_sleep, rec
from tests.unit.fakes import ManualClock

RETRY = RetryOptions(duration_ms=10_000, max_attempts=3)


@dataclass
class ObjectStore:
    """Objects keyed by their first offset, like S3 keys; a write to an existing key with other
    content is a collision (what the conditional PUT detects)."""

    objects: dict[int, tuple[int, ...]] = field(default_factory=dict)
    cuts: dict[int, tuple[int, int]] = field(default_factory=dict)
    probes: int = 0


@dataclass
class StoreDestination(Destination):
    store: ObjectStore
    name: str = "store"

    def encode(self, batch: Batch) -> Batch:
        return batch

    async def send(self, batch: Batch) -> None:
        kept = tuple(r.offset for r in batch.records if r.value is not None)
        if not kept:
            return
        first = kept[0]
        if first in self.store.objects and self.store.objects[first] != kept:
            raise KeyCollisionError(f"key {first}: {self.store.objects[first]} vs {kept}")
        self.store.objects[first] = kept
        self.store.cuts[first] = batch.cut_range

    def classify(self, batch: Batch, request: Batch, response: None) -> Outcome:
        return Successful()

    async def written(self, batch: Batch) -> Probe:
        self.store.probes += 1
        kept = [r.offset for r in batch.records if r.value is not None]
        if not kept:
            return NoOutput()
        if kept[0] in self.store.cuts:
            return Written(*self.store.cuts[kept[0]])
        return NotWritten()


def core(store: ObjectStore, max_records: int, clock: ManualClock | None = None) -> DeliveryCore:
    hints = BufferingHints(size_bytes=10**9, max_records=max_records, interval_ms=1_000)
    return DeliveryCore("d", StoreDestination(store), hints=hints, retry=RETRY,
                        clock=clock or ManualClock(), sleep=no_sleep)


def feed(c: DeliveryCore, offsets: range | list[int], *, tombstones: frozenset[int] = frozenset()
         ) -> None:
    for o in offsets:
        c.add(rec(o, None if o in tombstones else b'{"a":1}'))


def flush_all(c: DeliveryCore) -> None:
    for _ in range(100):  # a held batch comes back cut with the next flush
        batches = c.due()
        if not batches:
            batches = c.drain()
            if not batches:
                return
        asyncio.run(c.flush(batches))
    raise AssertionError("never settled")


def committed_after_some(store: ObjectStore, n: int, max_records: int, batches: int) -> int:
    """Run 1: deliver ``batches`` batches of ``max_records`` but commit only the first; returns
    the committed offset (the crash loses the rest of the commits)."""
    c = core(store, max_records)
    feed(c, range(n))
    due = c.due()
    asyncio.run(c.flush(due[:1]))
    commit = c.committable()[("t", 0)]
    asyncio.run(c.flush(due[1:batches]))
    return commit


def every_offset_once(store: ObjectStore, n: int, *, missing: frozenset[int] = frozenset()
                      ) -> None:
    seen = sorted(o for kept in store.objects.values() for o in kept)
    assert seen == [o for o in range(n) if o not in missing]


@pytest.mark.parametrize(("first_cut", "second_cut"), [(4, 4), (4, 3), (4, 7), (3, 10), (7, 2)])
def test_a_replay_with_other_cuts_rewrites_the_same_objects(first_cut: int, second_cut: int
                                                            ) -> None:
    store = ObjectStore()
    commit = committed_after_some(store, 40, first_cut, batches=4)
    before = dict(store.objects)
    c = core(store, second_cut)
    feed(c, range(commit, 40))
    flush_all(c)
    every_offset_once(store, 40)
    for first, kept in before.items():  # the objects written before are still exactly there
        assert store.objects[first] == kept
    assert c.committable() == {("t", 0): 40}


def test_a_shorter_batch_is_held_until_the_previous_end_arrives() -> None:
    store = ObjectStore()
    commit = committed_after_some(store, 20, 8, batches=2)  # wrote 0..7 (committed), 8..15
    c = core(store, 3)
    feed(c, range(commit, commit + 5))  # 8..12: the replay has not reached 15 yet
    asyncio.run(c.flush(c.due()))  # 8..10 would be cut by the count: held instead
    assert c.committable() == {}
    assert c.due() == []  # neither the count nor the interval cuts while aligning
    feed(c, range(commit + 5, 20))
    flush_all(c)
    every_offset_once(store, 20)
    assert store.objects[8] == tuple(range(8, 16))


def test_the_first_batch_nobody_wrote_ends_the_probing() -> None:
    store = ObjectStore()
    commit = committed_after_some(store, 30, 5, batches=3)  # 0..4 committed; 5..9, 10..14
    store.probes = 0
    c = core(store, 4)
    feed(c, range(commit, 30))
    flush_all(c)
    every_offset_once(store, 30)
    # probes: 5..8 (→ re-cut), 5..9, 10..13 (→ re-cut), 10..14, 15..18 (nobody): then none
    assert store.probes == 5


def test_a_batch_without_output_keeps_probing() -> None:
    store = ObjectStore()
    # Run 1 wrote 0..5 as one object; 0..2 are tombstones, so the object starts at 3.
    tomb = frozenset({0, 1, 2})
    c1 = core(store, 6)
    feed(c1, range(6), tombstones=tomb)
    asyncio.run(c1.flush(c1.due()))
    assert store.objects == {3: (3, 4, 5)}
    # Run 2 starts at 0 with batches of 2: 0..1 has no output and must not end the probing.
    c2 = core(store, 2)
    feed(c2, range(8), tombstones=tomb)
    flush_all(c2)
    assert sorted(o for kept in store.objects.values() for o in kept) == [3, 4, 5, 6, 7]
    assert store.objects[3] == (3, 4, 5)


def test_revoking_a_held_partition_drops_it_uncommitted() -> None:
    store = ObjectStore()
    commit = committed_after_some(store, 20, 8, batches=2)
    c = core(store, 3)
    feed(c, range(commit, commit + 4))
    asyncio.run(c.flush(c.due()))
    assert c.forget([("t", 0)]) == 4
    assert c.committable() == {}


def crash_and_replay(rng: random.Random, n: int, transform: Any = None) -> ObjectStore:
    """Deliver offsets 0..n-1 in runs that each crash (stop, keeping only what was
    committed) after a random number of flushes, each run with its own max_records."""
    store = ObjectStore()
    committed = 0
    for _run in range(200):
        if committed >= n:
            return store
        hints = BufferingHints(size_bytes=10**9, max_records=rng.randint(1, 9), interval_ms=1_000)
        c = DeliveryCore("d", StoreDestination(store), hints=hints, retry=RETRY,
                         clock=ManualClock(), sleep=no_sleep, transform=transform)
        feed(c, range(committed, n))
        for _round in range(rng.randint(1, 5)):
            batches = c.due() or c.drain()
            if not batches:
                break
            asyncio.run(c.flush(batches))
            if rng.random() < 0.5:
                committed = c.committable().get(("t", 0), committed)
    raise AssertionError(f"never committed all {n} offsets")


def test_random_crashes_and_cuts_never_duplicate() -> None:
    rng = random.Random(7)
    for _ in range(60):
        n = rng.randint(5, 80)
        every_offset_once(crash_and_replay(rng, n), n)


def _drop_every_third(records: list[dict[str, object]]) -> list[dict[str, object]]:
    """A processing hook: drops the records whose offset is a multiple of 3."""
    return [{"recordId": r["recordId"],
             "result": "Dropped" if int(str(r["recordId"]).split(":")[2]) % 3 == 0 else "Ok",
             "data": r["data"]} for r in records]


def test_with_a_transform_stage_the_replay_aligns_on_its_output() -> None:
    from connectors.transform import ProcessingHook, TransformStage

    rng = random.Random(11)
    for _ in range(30):
        n = rng.randint(5, 60)
        stage = TransformStage(hook=ProcessingHook(_drop_every_third))
        store = crash_and_replay(rng, n, stage)
        seen = sorted(o for kept in store.objects.values() for o in kept)
        assert seen == [o for o in range(n) if o % 3]


# -- asking the source backup when the destination cannot tell --------------------------------

HINTS = BufferingHints(size_bytes=10**6, max_records=4, interval_ms=1_000)


def make_with_source_backup(dest, source_backup, backup=None) -> DeliveryCore:
    return DeliveryCore("d", dest, hints=HINTS, retry=RETRY, backup=backup,
                        source_backup=source_backup, clock=ManualClock(),
                        wall_clock=lambda: 42, sleep=no_sleep)


class ProbedBackup(MemoryDestination):
    """A source backup that says a previous owner wrote offsets 0..1."""

    async def written(self, batch: Batch):
        if batch.start_offset == 0:
            return Written(0, 1)
        return NotWritten()


def test_replay_alignment_asks_the_source_backup_when_the_destination_cannot_tell() -> None:
    dest, source = MemoryDestination(), ProbedBackup(name="source")
    core = make_with_source_backup(dest, source)
    for o in range(4):
        core.add(rec(o))
    asyncio.run(core.flush(core.drain()))  # 0..3 is put back and re-cut at 1
    assert dest.offsets == []
    asyncio.run(core.flush(core.drain()))
    assert [[r.offset for r in b.records] for b in source.sent] == [[0, 1], [2, 3]]
    assert dest.offsets == [0, 1, 2, 3]
    assert core.committable() == {("t", 0): 4}
