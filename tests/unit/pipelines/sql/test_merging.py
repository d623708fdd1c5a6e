"""Merging accumulators (the second phase of a two-phase window): the merge of two
accumulators gives what one accumulator of all their values gives, through snapshots."""

from __future__ import annotations

import math
import random
from decimal import Decimal
from typing import Any

import pytest

from pipelines.sql.aggregates import ADD_ONLY, AGGREGATES
from pipelines.sql.merging import merge_into, mergeable
from pipelines.sql.types import Interval

MERGEABLE = [
    "COUNT", "SUM", "AVG", "MIN", "MAX", "VAR_POP", "VAR_SAMP", "VARIANCE", "STDDEV_POP",
    "STDDEV_SAMP", "STDDEV", "COUNT_DISTINCT", "SUM_DISTINCT",
]  # fmt: skip
VALUES: dict[str, Any] = {
    "floats": lambda rng: rng.choice([None, rng.uniform(-1e6, 1e6), rng.uniform(-1, 1)]),
    "ints": lambda rng: rng.choice([None, rng.randrange(-10**12, 10**12)]),
    "decimals": lambda rng: rng.choice([None, Decimal(rng.randrange(-10**6, 10**6)) / 100]),
    "few": lambda rng: rng.choice([None, 1, 2, 3]),
}


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


@pytest.mark.parametrize("name", MERGEABLE)
@pytest.mark.parametrize("kind", sorted(VALUES))
@pytest.mark.parametrize("add_only", [False, True])
def test_a_merge_equals_one_accumulator_of_all_values(name: str, kind: str, add_only: bool) -> None:
    spec = ADD_ONLY.get(name, AGGREGATES[name]) if add_only else AGGREGATES[name]
    assert mergeable(spec)
    rng = random.Random(f"{name}-{kind}")
    for split in (0, 1, 17, 40):
        values = [VALUES[kind](rng) for _ in range(40)]
        whole, left, right = spec.create(), spec.create(), spec.create()
        for i, v in enumerate(values):
            whole.add(v)
            (left if i < split else right).add(v)
        # the partial crosses the repartition as a snapshot
        merged = spec.restore(left.state())
        merge_into(merged, spec.restore(right.state()))
        assert _close(merged.result(), whole.result()), (split, merged.result(), whole.result())


def test_sums_of_intervals_and_non_finite_floats_merge() -> None:
    spec = AGGREGATES["SUM"]
    a, b = spec.create(), spec.create()
    a.add(Interval(1_000))
    b.add(Interval(2_500))
    merge_into(a, b)
    assert a.result() == Interval(3_500) and type(a.result()) is Interval
    x, y = spec.create(), spec.create()
    x.add(1.0)
    y.add(math.inf)
    merge_into(x, spec.restore(y.state()))
    assert x.result() == math.inf


def test_arrival_order_aggregates_do_not_merge() -> None:
    for name in ("FIRST_VALUE", "LAST_VALUE", "FIRST_VALUE_IGNORE_NULLS"):
        assert not mergeable(AGGREGATES[name])
    with pytest.raises(TypeError):
        merge_into(AGGREGATES["FIRST_VALUE"].create(), AGGREGATES["FIRST_VALUE"].create())
    with pytest.raises(TypeError):
        merge_into(AGGREGATES["SUM"].create(), AGGREGATES["COUNT"].create())
