import random

from pipelines.offsets import OffsetSet


def test_in_order_offsets_make_one_interval() -> None:
    s = OffsetSet()
    assert all(s.add(o) for o in range(100))
    assert s.intervals() == [(0, 100)]
    assert not s.add(50)
    assert 99 in s and 100 not in s and -1 not in s


def test_gaps_and_merges() -> None:
    s = OffsetSet()
    for o in (10, 11, 12, 20, 5):
        assert s.add(o)
    assert s.intervals() == [(5, 6), (10, 13), (20, 21)]
    for o in range(6, 10):
        s.add(o)
    assert s.intervals() == [(5, 13), (20, 21)]
    for o in range(13, 20):
        s.add(o)
    assert s.intervals() == [(5, 21)]


def test_random_order_matches_a_python_set() -> None:
    rnd = random.Random(3)
    s, ref = OffsetSet(), set()
    for _ in range(5_000):
        o = rnd.randrange(0, 800)
        assert s.add(o) == (o not in ref)
        ref.add(o)
    assert all((o in s) == (o in ref) for o in range(-5, 810))
    covered = {o for a, b in s.intervals() for o in range(a, b)}
    assert covered == ref
