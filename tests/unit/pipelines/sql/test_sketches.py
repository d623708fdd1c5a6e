"""COUNT_DISTINCT_ITEMS and TOP_K sketches against exact counts."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import orjson
import pytest

from pipelines.sql import sketches as S
from pipelines.sql.types import Timestamp


def round_trip(state: Any) -> Any:
    return orjson.loads(orjson.dumps(state))


def test_output_columns() -> None:
    assert S.TOP_K_COLUMNS == ("ITEM", "ITEM_COUNT")
    assert S.COUNT_DISTINCT_COLUMNS == ("NUMBER_OF_DISTINCT_ITEMS",)
    assert sorted(S.__all__) == S.__all__


def test_count_distinct_is_exact_up_to_the_limit() -> None:
    r = random.Random(1)
    sketch = S.CountDistinctItems()
    seen: set[Any] = set()
    while len(seen) < S.EXACT_DISTINCT_LIMIT:
        item = r.choice([f"k{r.randrange(20_000)}", r.randrange(20_000), None])
        sketch.add(item)
        if item is not None:
            seen.add(item)
        assert sketch.result() == len(seen)
    assert sketch.is_exact and sketch.result() == S.EXACT_DISTINCT_LIMIT
    restored = S.CountDistinctItems.restore(round_trip(sketch.state()))
    assert restored.is_exact and restored.result() == len(seen)
    sketch.add("one more, never seen")
    assert not sketch.is_exact


@pytest.mark.parametrize("n", [15_000, 200_000])
def test_count_distinct_estimate_within_three_standard_errors(n: int) -> None:
    sketch = S.CountDistinctItems()
    for i in range(n):
        sketch.add(f"user-{i}")
        if i % 3 == 0:
            sketch.add(f"user-{i}")  # duplicates do not count
    estimate = sketch.result()
    assert abs(estimate - n) / n <= 3 * S.HLL_STANDARD_ERROR, estimate
    restored = S.CountDistinctItems.restore(round_trip(sketch.state()))
    assert restored.result() == estimate
    for i in range(n, n + 1000):
        sketch.add(f"user-{i}")
        restored.add(f"user-{i}")
    assert restored.result() == sketch.result()


def test_count_distinct_items_of_other_types() -> None:
    sketch = S.CountDistinctItems()
    for v in (Timestamp(5), Timestamp(5), 1.5, None, "x"):
        sketch.add(v)
    assert sketch.result() == 3
    restored = S.CountDistinctItems.restore(round_trip(sketch.state()))
    assert restored.result() == 3


def zipf_stream(r: random.Random, n: int, distinct: int) -> list[str]:
    weights = [1 / (i + 1) ** 1.1 for i in range(distinct)]
    return [f"i{x}" for x in r.choices(range(distinct), weights=weights, k=n)]


def expected_top(counter: Counter[Any], k: int) -> list[tuple[Any, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


def test_top_k_is_exact_within_capacity() -> None:
    r = random.Random(2)
    stream = zipf_stream(r, 30_000, 500) + [None] * 10
    sketch = S.TopKItems(10)
    for item in stream:
        sketch.add(item)
    assert sketch.is_exact
    assert sketch.result() == expected_top(Counter(x for x in stream if x is not None), 10)
    restored = S.TopKItems.restore(round_trip(sketch.state()))
    assert restored.result() == sketch.result()


def test_top_k_ties_break_by_item() -> None:
    sketch = S.TopKItems(3)
    for item in ("b", "a", "c", "d", "c"):
        sketch.add(item)
    assert sketch.result() == [("c", 2), ("a", 1), ("b", 1)]


def test_space_saving_guarantee_above_capacity() -> None:
    r = random.Random(3)
    n, capacity = 60_000, 200
    stream = zipf_stream(r, n, 5_000)
    sketch = S.TopKItems(10, capacity=capacity)
    for item in stream[: n // 2]:
        sketch.add(item)
    # snapshot mid-stream; the restored sketch must evolve identically
    sketch = S.TopKItems.restore(round_trip(sketch.state()))
    for item in stream[n // 2 :]:
        sketch.add(item)
    assert not sketch.is_exact
    truth = Counter(stream)
    bound = n / capacity
    assert sketch.max_overestimate() <= bound
    for item, reported in sketch.counts.items():
        assert truth[item] <= reported <= truth[item] + sketch.max_overestimate()
    for item, count in truth.items():
        if count > bound:
            assert item in sketch.counts, item  # every heavy hitter is kept
    top = sketch.result()
    assert len(top) == 10
    assert {item for item, _ in top[:3]} == {item for item, _ in expected_top(truth, 3)}


def test_top_k_restore_is_deterministic_in_space_saving_mode() -> None:
    r = random.Random(4)
    stream = zipf_stream(r, 20_000, 3_000)
    a = S.TopKItems(5, capacity=100)
    for item in stream[:10_000]:
        a.add(item)
    b = S.TopKItems.restore(round_trip(a.state()))
    for item in stream[10_000:]:
        a.add(item)
        b.add(item)
    assert a.result() == b.result() and a.counts == b.counts


def test_top_k_rejects_bad_k() -> None:
    for k in (0, S.TOP_K_MAX + 1):
        with pytest.raises(ValueError):
            S.TopKItems(k)
    with pytest.raises(ValueError):
        S.TopKItems(10, capacity=5)
    assert S.TopKItems(10).capacity == 10_000
    assert S.TopKItems(5000).capacity == 50_000


# -- merging (the two phases of a global window) ------------------------------------------
def _split(items: list[Any], parts: int, seed: int) -> list[list[Any]]:
    r = random.Random(seed)
    out: list[list[Any]] = [[] for _ in range(parts)]
    for item in items:
        out[r.randrange(parts)].append(item)
    return out


def test_count_distinct_merge_is_exact_while_the_union_is_small() -> None:
    r = random.Random(3)
    items = [f"k{r.randrange(3_000)}" for _ in range(20_000)]
    sketches = []
    for part in _split(items, 4, 3):
        s = S.CountDistinctItems()
        for item in part:
            s.add(item)
        sketches.append(S.CountDistinctItems.restore(round_trip(s.state())))
    merged = sketches[0]
    for s in sketches[1:]:
        merged.merge(s)
    assert merged.is_exact and merged.result() == len(set(items))


def test_count_distinct_merge_of_sketches_is_the_sketch_of_the_union() -> None:
    r = random.Random(4)
    items = [r.randrange(60_000) for _ in range(80_000)]
    whole = S.CountDistinctItems()
    for item in items:
        whole.add(item)
    parts = []
    for part in _split(items, 3, 4):
        s = S.CountDistinctItems()
        for item in part:
            s.add(item)
        parts.append(S.CountDistinctItems.restore(round_trip(s.state())))
    small = S.CountDistinctItems()
    small.add(-1)  # an exact side merged into a sketch
    merged = parts[0]
    for s in [*parts[1:], small]:
        merged.merge(s)
    assert not merged.is_exact
    # HyperLogLog registers merge by maximum: the same registers as one sketch of everything
    whole.add(-1)
    assert merged.result() == whole.result()
    exact = len(set(items)) + 1
    assert abs(merged.result() - exact) <= 3 * S.HLL_STANDARD_ERROR * exact


def test_top_k_merge_is_exact_within_capacity() -> None:
    r = random.Random(5)
    items = [f"t{min(r.randrange(50), r.randrange(50))}" for _ in range(5_000)]
    parts = []
    for part in _split(items, 4, 5):
        s = S.TopKItems(5)
        for item in part:
            s.add(item)
        parts.append(S.TopKItems.restore(round_trip(s.state())))
    merged = parts[0]
    for s in parts[1:]:
        merged.merge(s)
    exact = sorted(Counter(items).items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert merged.is_exact and merged.result() == exact and merged.n == len(items)


def test_top_k_merge_above_capacity_keeps_the_space_saving_guarantee() -> None:
    r = random.Random(6)
    capacity = 50
    items = [f"h{r.randrange(10)}" if r.random() < 0.5 else f"t{r.randrange(2_000)}"
             for _ in range(20_000)]  # fmt: skip
    parts = []
    for part in _split(items, 3, 6):
        s = S.TopKItems(3, capacity)
        for item in part:
            s.add(item)
        parts.append(s)
    merged = parts[0]
    for s in parts[1:]:
        merged.merge(s)
    truth = Counter(items)
    assert not merged.is_exact and len(merged.counts) <= capacity
    bound = len(items) * 3 // capacity  # each part overestimates by at most its N / capacity
    for item, count in merged.counts.items():
        assert truth[item] <= count <= truth[item] + bound
    heavy = {item for item, c in truth.items() if c > bound}
    assert heavy <= set(merged.counts)
    assert {item for item, _ in merged.result()} <= {f"h{i}" for i in range(10)}
