"""PartitionWindows against a brute-force recomputation, including lateness and crash replay."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from pipelines.stats import PriceStats
from pipelines.tumbling import Admission, PartitionWindows, Progress

SIZE = 1_000
GRACE = 200


def make_stream(seed: int, n: int, disorder: int) -> list[tuple[int, str, int, float]]:
    """(offset, key, event time, price); event times jitter by up to ``disorder`` ms."""
    rnd = random.Random(seed)
    t = 10_000
    out = []
    for off in range(n):
        t += rnd.randint(0, 30)
        ts = max(0, t - rnd.randint(0, disorder))
        out.append((off, rnd.choice("ABCD"), ts, round(rnd.uniform(1, 100), 2)))
    return out


def brute_force(records, late_offsets=frozenset()):
    groups = defaultdict(list)
    for off, key, ts, price in records:
        if off not in late_offsets:
            groups[(key, ts // SIZE * SIZE)].append(price)
    return {k: (len(v), min(v), max(v), sum(v)) for k, v in groups.items()}


def as_result(cw) -> tuple:
    s: PriceStats = cw.state
    return (cw.key, cw.window.start_ms), (s.count, s.min, s.max, s.sum)


def run(records, batch: int, pw: PartitionWindows | None = None):
    pw = pw or PartitionWindows(SIZE, GRACE, PriceStats)
    results, late = {}, set()
    for i in range(0, len(records), batch):
        for off, key, ts, price in records[i : i + batch]:
            adm, state = pw.add(key, ts, off, off)
            if adm is Admission.ACCEPTED:
                state.add(price)
            elif adm is Admission.LATE:
                late.add(off)
        for cw in pw.close_due():
            k, v = as_result(cw)
            assert k not in results, f"window {k} emitted twice"
            results[k] = v
    for cw in pw.close_all():
        k, v = as_result(cw)
        assert k not in results
        results[k] = v
    return results, late


@pytest.mark.parametrize("seed", range(5))
def test_in_order_within_grace_matches_brute_force(seed: int) -> None:
    records = make_stream(seed, 3_000, disorder=GRACE)
    results, late = run(records, batch=97)
    assert late == set()
    expected = brute_force(records)
    assert results.keys() == expected.keys()
    for k, (n, lo, hi, total) in expected.items():
        assert results[k][:3] == (n, lo, hi)
        assert results[k][3] == pytest.approx(total)


@pytest.mark.parametrize("seed", range(3))
def test_late_records_do_not_depend_on_batching(seed: int) -> None:
    records = make_stream(seed, 3_000, disorder=3 * GRACE)
    r1, late1 = run(records, batch=1)
    r2, late2 = run(records, batch=500)
    assert late1, "this stream is meant to contain late records"
    assert late1 == late2
    assert r1 == r2
    # every record is in a result or in the late set, exactly once
    assert sum(v[0] for v in r1.values()) + len(late1) == len(records)
    expected = brute_force(records, late1)
    assert {k: v[:3] for k, v in r1.items()} == {k: v[:3] for k, v in expected.items()}


def test_late_record_is_reported_not_counted() -> None:
    pw = PartitionWindows(SIZE, 0, PriceStats)
    assert pw.add("A", 500, 0, "t0")[0] is Admission.ACCEPTED
    assert pw.add("A", 1_500, 1, "t1")[0] is Admission.ACCEPTED
    closed = pw.close_due()
    assert [(c.key, c.window.start_ms, c.tokens) for c in closed] == [("A", 0, ["t0"])]
    assert pw.add("A", 999, 2, "t2") == (Admission.LATE, None)
    assert pw.watermark_ms == 1_500


def test_close_all_moves_watermark_past_closed_windows() -> None:
    pw = PartitionWindows(SIZE, GRACE, PriceStats)
    pw.add("A", 100, 0, 0)
    pw.add("B", 1_100, 1, 1)
    closed = pw.close_all()
    assert sorted((c.key, c.window.start_ms) for c in closed) == [("A", 0), ("B", 1_000)]
    assert pw.open_count == 0
    assert pw.add("B", 1_999, 2, 2)[0] is Admission.LATE
    assert pw.add("B", 2_000, 3, 3)[0] is Admission.ACCEPTED


@pytest.mark.parametrize("seed", range(8))
def test_crash_and_replay_emits_every_window_exactly_once(seed: int) -> None:
    """Crash at a random point; restart from the committed offset (the lowest held record)
    with the last saved progress. Before + after must equal the uninterrupted run."""
    records = make_stream(seed, 2_000, disorder=GRACE)
    reference, _ = run(records, batch=50)

    rnd = random.Random(seed)
    crash_at = rnd.randrange(100, len(records) - 100)
    pw = PartitionWindows(SIZE, GRACE, PriceStats)
    emitted: dict = {}
    saved: Progress | None = None
    held: dict[int, int] = {}  # offset -> held until its window closes
    acked: set[int] = set()
    for i in range(0, crash_at, 50):
        for off, key, ts, price in records[i : min(i + 50, crash_at)]:
            adm, state = pw.add(key, ts, off, off)
            if adm is Admission.ACCEPTED:
                state.add(price)
                held[off] = off
            else:
                acked.add(off)
        closed = pw.close_due()
        if closed:
            for cw in closed:
                k, v = as_result(cw)
                emitted[k] = v
                for tok in cw.tokens:
                    held.pop(tok)
                    acked.add(tok)
            saved = pw.progress()
    # committed offset: contiguous acked prefix
    committed = 0
    while committed in acked:
        committed += 1
    assert committed <= crash_at

    replay = PartitionWindows(SIZE, GRACE, PriceStats, saved)
    after, late = run(records[committed:], batch=50, pw=replay)
    assert late == set()
    overlap = emitted.keys() & after.keys()
    assert not overlap, f"windows emitted twice: {sorted(overlap)[:3]}"
    combined = {**emitted, **after}
    assert combined.keys() == reference.keys()
    for k in reference:
        assert combined[k][:3] == reference[k][:3]
        assert combined[k][3] == pytest.approx(reference[k][3])


def test_progress_round_trips() -> None:
    p = Progress(closed_through_ms=120_000, next_offset=42)
    assert Progress.from_json(p.to_json()) == p


def test_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        PartitionWindows(0, 0, PriceStats)
    with pytest.raises(ValueError):
        PartitionWindows(1_000, -1, PriceStats)


def test_redelivered_offsets_are_not_counted_twice_and_stay_held() -> None:
    """Faust may deliver an offset twice after its start-up seek."""
    pw = PartitionWindows(SIZE, 0, PriceStats)
    adm, state = pw.add("A", 100, 0, "first-0")
    state.add(1.0)
    pw.add("A", 200, 1, "first-1")[1].add(2.0)
    adm, state = pw.add("A", 100, 0, "second-0")
    assert adm is Admission.DUPLICATE
    assert state is not None  # window open: the second copy is held with it
    pw.add("A", 1_000, 2, "next")
    (closed,) = pw.close_due()
    assert closed.state.count == 2
    assert sorted(closed.tokens) == ["first-0", "first-1", "second-0"]
    # once the window is closed, a late redelivery is neither counted nor held
    assert pw.add("A", 200, 1, "third-1") == (Admission.DUPLICATE, None)


def test_stale_batch_then_replay_from_an_earlier_offset_counts_each_record_once() -> None:
    """After a rebalance, records fetched before it (offsets 10-19) can be followed by the
    replay from the committed offset (5). Offsets 5-9 are new; 10-19 are duplicates."""
    pw = PartitionWindows(SIZE, 0, PriceStats)
    for off in range(10, 20):
        adm, state = pw.add("A", 100 + off, off, f"stale-{off}")
        assert adm is Admission.ACCEPTED
        state.add(1.0)
    for off in range(5, 20):
        adm, state = pw.add("A", 100 + off, off, f"replay-{off}")
        if off < 10:
            assert adm is Admission.ACCEPTED
            state.add(1.0)
        else:
            assert adm is Admission.DUPLICATE
    pw.add("B", 5_000, 20, "next")
    (closed,) = [c for c in pw.close_due() if c.key == "A"]
    assert closed.state.count == 15
