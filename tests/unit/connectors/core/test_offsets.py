import pytest

from connectors.core import OffsetTracker


def test_nothing_committable_until_the_first_offset_is_acked() -> None:
    t = OffsetTracker()
    for o in range(5):
        t.track(o)
    t.ack([1, 2, 3])
    assert t.committable() is None
    t.ack([0])
    assert t.committable() == 4  # last delivered (3) + 1


def test_out_of_order_acks_commit_only_the_contiguous_prefix() -> None:
    t = OffsetTracker()
    for o in range(10):
        t.track(o)
    t.ack([0, 1, 5, 6, 7])
    assert t.committable() == 2
    t.ack([2, 3])
    assert t.committable() == 4
    t.ack([4])
    assert t.committable() == 8
    assert t.outstanding == 2


def test_gaps_between_consumed_offsets_do_not_block() -> None:
    t = OffsetTracker()
    for o in (10, 11, 14, 20):  # compaction / transaction markers leave holes
        t.track(o)
    t.ack([10, 11, 14])
    assert t.committable() == 15
    t.ack([20])
    assert t.committable() == 21


def test_offsets_must_be_tracked_in_order() -> None:
    t = OffsetTracker()
    t.track(5)
    with pytest.raises(ValueError):
        t.track(5)
