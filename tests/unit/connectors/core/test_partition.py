"""One partition's state: records placed by the hints, or exactly at a replay's cut point."""

from __future__ import annotations

from connectors.core import BufferingHints, PartitionBuffer, PartitionState
from connectors.core.partition import RECORD_OVERHEAD_BYTES, held_cost
from tests.unit.connectors.helpers import rec


def state(max_records: int) -> PartitionState:
    return PartitionState(PartitionBuffer(BufferingHints(10**6, max_records, 1_000)))


def cuts(s: PartitionState) -> list[tuple[int, int]]:
    return [(b.start_offset, b.end_offset) for b in s.take_ready()]


def test_records_are_cut_by_the_hints() -> None:
    s = state(3)
    for o in range(7):
        s.place(rec(o), 0)
    assert cuts(s) == [(0, 2), (3, 5)] and len(s.buffer) == 1
    assert s.take_ready() == []


def test_align_to_cuts_exactly_there_and_holds_the_hints_until_then() -> None:
    s = state(2)
    s.align_to = 4
    for o in range(7):
        s.place(rec(o), 0)
    assert cuts(s) == [(0, 4), (5, 6)] and s.align_to is None


def test_a_gap_before_the_cut_point_ends_the_aligned_batch() -> None:
    s = state(10)
    s.align_to = 3
    for o in (0, 1, 5, 6):  # 2..4 were transaction markers
        s.place(rec(o), 0)
    s.cut()
    assert cuts(s) == [(0, 1), (5, 6)]


def test_put_back_rebuffers_with_what_came_since_and_recuts() -> None:
    s = state(3)
    for o in range(8):
        s.place(rec(o), 0)
    first, second = s.take_ready()  # 0..2 and 3..5 cut, 6..7 buffered
    s.ready.append(second)  # cut meanwhile, not flushed yet
    s.put_back([first], 3, 0)
    assert cuts(s) == [(0, 3), (4, 6)] and len(s.buffer) == 1


def test_delivered_acks_and_frees_what_the_batch_held() -> None:
    s = state(2)
    for o in range(2):
        s.offsets.track(o)
        s.held_bytes += held_cost(1, len(b'{"a":1}'))
        s.place(rec(o), 0)
    [batch] = s.take_ready()
    assert s.oldest_pending_ms() == 1_700_000_000_000
    s.delivered(batch)
    assert s.offsets.committable() == 2 and s.held_bytes == 0
    assert s.oldest_pending_ms() is None
    assert held_cost(2, 10) == 10 + 2 * RECORD_OVERHEAD_BYTES
