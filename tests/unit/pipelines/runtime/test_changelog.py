import random

from hypothesis import given
from hypothesis import strategies as st

from pipelines.runtime import latest_values

keys = st.sampled_from([b"a", b"b", b"c", None])
values = st.one_of(st.none(), st.binary(max_size=3))


@given(st.lists(st.tuples(keys, values), max_size=60))
def test_latest_value_per_key_matches_last_entry_lookup(entries) -> None:
    # Independent: for each key, look at its last entry only.
    expected = {}
    for key in {k for k, _ in entries if k is not None}:
        last = [v for k, v in entries if k == key][-1]
        if last is not None:
            expected[key] = last
    assert latest_values(entries) == expected


def test_tombstone_then_rewrite_and_fold_into_existing() -> None:
    state = latest_values([(b"k", b"1"), (b"k", None), (b"j", b"2")])
    assert state == {b"j": b"2"}
    latest_values([(b"k", b"3"), (b"j", None)], into=state)
    assert state == {b"k": b"3"}


def test_large_random_log() -> None:
    rnd = random.Random(7)
    log = [(b"k%d" % rnd.randrange(100), None if rnd.random() < 0.1 else b"%d" % i)
           for i in range(20_000)]  # fmt: skip
    expected = {}
    for i in range(len(log) - 1, -1, -1):
        k, v = log[i]
        if k not in expected:
            expected[k] = v
    assert latest_values(log) == {k: v for k, v in expected.items() if v is not None}
