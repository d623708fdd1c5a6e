from connectors.core import BufferingHints, DeliveryCore, RetryOptions
from tests.unit.connectors.helpers import MemoryDestination, rec
from tests.unit.fakes import ManualClock


def core(hints: BufferingHints, clock: ManualClock) -> DeliveryCore:
    return DeliveryCore("d", MemoryDestination(), hints=hints, retry=RetryOptions(), clock=clock)


def offsets(batches) -> list[list[int]]:
    return [[r.offset for r in b.records] for b in batches]


def test_max_records_cuts_a_batch() -> None:
    clock = ManualClock()
    c = core(BufferingHints(size_bytes=10**6, max_records=3, interval_ms=60_000), clock)
    for o in range(7):
        c.add(rec(o))
    assert offsets(c.due()) == [[0, 1, 2], [3, 4, 5]]
    assert c.buffered == 1
    assert c.due() == []


def test_size_is_a_maximum_the_record_that_would_exceed_starts_a_new_batch() -> None:
    clock = ManualClock()
    c = core(BufferingHints(size_bytes=25, interval_ms=60_000), clock)
    for o in range(5):
        c.add(rec(o, b"x" * 10))
    # 10 + 10 = 20 fits, a third would make 30 > 25
    assert offsets(c.due()) == [[0, 1], [2, 3]]
    assert [b.size_bytes for b in c.drain()] == [10]


def test_a_record_larger_than_the_size_hint_goes_alone() -> None:
    c = core(BufferingHints(size_bytes=5, interval_ms=60_000), ManualClock())
    c.add(rec(0, b"x" * 50))
    c.add(rec(1, b"y"))
    assert offsets(c.due()) == [[0]]


def test_interval_counts_from_the_oldest_buffered_record() -> None:
    clock = ManualClock(1_000)
    c = core(BufferingHints(size_bytes=10**6, interval_ms=500), clock)
    c.add(rec(0))
    clock.now = 1_400
    c.add(rec(1))
    assert c.due() == []
    assert c.next_due_ms(clock.now) == 100
    clock.now = 1_500
    assert offsets(c.due()) == [[0, 1]]
    clock.now = 5_000
    assert c.due() == []  # empty buffers never expire
    c.add(rec(2))
    assert c.due() == []


def test_partitions_are_buffered_separately() -> None:
    c = core(BufferingHints(size_bytes=10**6, max_records=2, interval_ms=60_000), ManualClock())
    for o in range(3):
        c.add(rec(o, partition=0))
        c.add(rec(o, partition=1))
    batches = c.due()
    assert sorted((b.partition, [r.offset for r in b.records]) for b in batches) == [
        (0, [0, 1]), (1, [0, 1])]
    assert sorted(b.partition for b in c.drain()) == [0, 1]


def test_interval_zero_flushes_on_the_next_check() -> None:
    c = core(BufferingHints(size_bytes=10**6, interval_ms=0), ManualClock())
    c.add(rec(0))
    assert offsets(c.due()) == [[0]]
