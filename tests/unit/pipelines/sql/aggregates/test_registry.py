"""Every aggregate by name: grouped results against DuckDB, sliding add/remove sequences
against a recomputation from the window's multiset, snapshots through orjson, the specs.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import deque
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import duckdb
import orjson
import pytest

from pipelines.sql import aggregates as A
from pipelines.sql.types import Date, Interval, SqlType, Timestamp, TypeKind, parse_type
from tests.unit.pipelines.sql.aggregates.groups import (
    GROUPS,
    SEED,
    price_rows,
    run_groups,
    run_ours,
)


@pytest.mark.parametrize(
    ("name", "sql"),
    [
        ("COUNT", "count(x)"),
        ("SUM", "sum(x)"),
        ("AVG", "avg(x)"),
        ("MIN", "min(x)"),
        ("MAX", "max(x)"),
        ("VAR_POP", "var_pop(x)"),
        ("VAR_SAMP", "var_samp(x)"),
        ("VARIANCE", "variance(x)"),
        ("STDDEV_POP", "stddev_pop(x)"),
        ("STDDEV_SAMP", "stddev_samp(x)"),
        ("STDDEV", "stddev(x)"),
        ("COUNT_DISTINCT", "count(DISTINCT x)"),
        ("SUM_DISTINCT", "sum(DISTINCT x)"),
        ("AVG_DISTINCT", "avg(DISTINCT x)"),
        ("VAR_POP_DISTINCT", "var_pop(DISTINCT x)"),
        ("VAR_SAMP_DISTINCT", "var_samp(DISTINCT x)"),
        ("VARIANCE_DISTINCT", "variance(DISTINCT x)"),
        ("STDDEV_POP_DISTINCT", "stddev_pop(DISTINCT x)"),
        ("STDDEV_SAMP_DISTINCT", "stddev_samp(DISTINCT x)"),
        ("STDDEV_DISTINCT", "stddev(DISTINCT x)"),
        ("FIRST_VALUE", "first(x ORDER BY i)"),
        ("LAST_VALUE", "last(x ORDER BY i)"),
        ("FIRST_VALUE_IGNORE_NULLS", "first(x ORDER BY i) FILTER (WHERE x IS NOT NULL)"),
        ("LAST_VALUE_IGNORE_NULLS", "last(x ORDER BY i) FILTER (WHERE x IS NOT NULL)"),
    ],
)
def test_double_aggregates_match_duckdb(
    duck: duckdb.DuckDBPyConnection, name: str, sql: str
) -> None:
    rows = price_rows(random.Random(SEED))
    rows += [(GROUPS, None), (GROUPS + 1, 42.5)]  # an all-NULL group and a single value
    want = run_groups(duck, "DOUBLE", rows, sql)
    got = run_ours(name, rows)
    assert len(got) == len(want)
    for ours, theirs in zip(got, want, strict=True):
        if theirs is None or ours is None:
            assert ours == theirs
        else:
            assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def test_integer_aggregates_match_duckdb(duck: duckdb.DuckDBPyConnection) -> None:
    r = random.Random(SEED)
    rows = [
        (r.randrange(GROUPS), r.choice([None, r.randint(-(10**12), 10**12)])) for _ in range(3000)
    ]
    for name, sql in (("SUM", "sum(x)::HUGEINT"), ("MIN", "min(x)"), ("MAX", "max(x)")):
        got = run_ours(name, rows)
        assert got == run_groups(duck, "BIGINT", rows, sql), name
        assert all(type(v) is int for v in got)
    # AVG keeps the integer type and truncates toward zero (see the sums module doc);
    # DuckDB returns DOUBLE, so compare with its exact sum / count.
    sums = run_groups(duck, "BIGINT", rows, "sum(x)::HUGEINT")
    counts = run_groups(duck, "BIGINT", rows, "count(x)")
    want = [int(Fraction(s, c)) for s, c in zip(sums, counts, strict=True)]
    assert run_ours("AVG", rows) == want


def test_empty_results() -> None:
    for name, spec in A.AGGREGATES.items():
        acc = spec.create()
        want = 0 if name in ("COUNT", "COUNT_DISTINCT") else None
        assert acc.result() == want, name
        acc.add(None)
        if not name.startswith(("FIRST", "LAST")):
            assert acc.result() == want, name


# ---------------------------------------------------------------- sliding windows


def oracle_result(name: str, window: Sequence[Any]) -> Any:
    """Independent recomputation from the window's contents (arrival order)."""
    values = [v for v in window if v is not None]
    if name == "COUNT":
        return len(values)
    if name.startswith("FIRST_VALUE"):
        pool = values if name.endswith("IGNORE_NULLS") else list(window)
        return pool[0] if pool else None
    if name.startswith("LAST_VALUE"):
        pool = values if name.endswith("IGNORE_NULLS") else list(window)
        return pool[-1] if pool else None
    if name == "COUNT_DISTINCT":
        return len(set(values))
    if name.endswith("_DISTINCT") and name != "SUM_DISTINCT":  # AVG, VAR_*, STDDEV_*
        return oracle_result(name.removesuffix("_DISTINCT"), sorted(set(values)))
    if not values:
        return None
    if name == "ANY":
        return any(values)
    if name == "EVERY":
        return all(values)
    if name == "SUM":
        return math.fsum(values) if type(values[0]) is float else sum(values)
    if name == "SUM_DISTINCT":
        return math.fsum(set(values))
    if name == "AVG":
        return math.fsum(values) / len(values)
    if name == "MIN":
        return min(values)
    if name == "MAX":
        return max(values)
    exact = [Fraction(v) for v in values]
    sample = name in ("VAR_SAMP", "VARIANCE", "STDDEV_SAMP", "STDDEV")
    if sample and len(exact) < 2:
        return None
    var = float(statistics.variance(exact) if sample else statistics.pvariance(exact))
    return math.sqrt(var) if name.startswith("STDDEV") else var


def close(ours: Any, want: Any, scale: float) -> bool:
    if want is None or ours is None:
        return ours is want
    if type(want) is float:
        return math.isclose(ours, want, rel_tol=1e-9, abs_tol=1e-9 * scale)
    return bool(ours == want)


@pytest.mark.parametrize("name", sorted(A.AGGREGATES))
def test_sliding_window_add_remove_matches_recomputation(name: str) -> None:
    """FIFO expiry, as a sliding window does, with snapshots restored mid-stream."""
    r = random.Random(hash(name) % 1000)
    acc = A.AGGREGATES[name].create()
    window: deque[Any] = deque()
    for step in range(3000):
        if window and (len(window) > 60 or r.random() < 0.45):
            old = window.popleft()
            acc.remove(old)
        else:
            if name in ("ANY", "EVERY"):  # BOOLEAN aggregates; mostly one value, to flip
                v = None if r.random() < 0.2 else r.random() < (0.9 if name == "EVERY" else 0.1)
            else:
                v = None if r.random() < 0.1 else round(r.uniform(90, 110), 2)
            window.append(v)
            acc.add(v)
        want = oracle_result(name, window)
        assert close(acc.result(), want, 100.0), (name, step, acc.result(), want)
        if step % 250 == 0:
            acc = A.AGGREGATES[name].restore(orjson.loads(orjson.dumps(acc.state())))


@pytest.mark.parametrize(
    "name",
    ["MIN", "MAX", "COUNT", "SUM", "COUNT_DISTINCT", "VAR_POP", "AVG", "VAR_POP_DISTINCT"],
)
def test_arbitrary_removal_matches_recomputation(name: str) -> None:
    """Remove any value present (not only the oldest): MIN/MAX must not assume monotonic
    expiry. Small integers force many duplicates."""
    r = random.Random(11)
    acc = A.AGGREGATES[name].create()
    bag: list[Any] = []
    for step in range(4000):
        if bag and (len(bag) > 80 or r.random() < 0.5):
            v = bag.pop(r.randrange(len(bag)))
            acc.remove(v)
        else:
            v = r.randint(-20, 20) if name[:3] != "VAR" else float(r.randint(-20, 20))
            bag.append(v)
            acc.add(v)
        want = oracle_result(name, bag)
        if name == "AVG" and want is not None:
            want = int(Fraction(sum(bag), len(bag)))  # integer AVG truncates
        assert close(acc.result(), want, 20.0), (name, step)


# ---------------------------------------------------------------- snapshots


SNAPSHOT_VALUES: list[list[Any]] = [
    [1, 2, 3, 2**70],
    [1.5, float("inf"), -0.0, 2.25],
    [Decimal("1.10"), Decimal("-3.5"), Decimal("2")],
    ["b", "a", "é", ""],
    [Timestamp(-5), Timestamp(10**12), Timestamp(7)],
    [Date(0), Date(86_400_000)],
    [Interval(5), Interval(-3)],
    [b"\x00\xff", b"a"],
    [True, False, True],
]


@pytest.mark.parametrize("values", SNAPSHOT_VALUES, ids=lambda v: type(v[0]).__name__)
def test_state_round_trips_through_orjson(values: list[Any]) -> None:
    for name, spec in A.AGGREGATES.items():
        acc = spec.create()
        try:
            for v in values + [None] + values[:1]:
                acc.add(v)
            expected = acc.result()
        except (TypeError, ValueError):
            continue  # e.g. SUM or VAR of strings: not valid SQL either
        restored = spec.restore(orjson.loads(orjson.dumps(acc.state())))
        result = restored.result()
        assert result == expected or (result != result and expected != expected), name
        assert type(result) is type(expected), name
        assert restored.state() == acc.state(), name
        restored.remove(values[0])
        acc.remove(values[0])
        after = restored.result()
        assert after == acc.result() or after != after or name.startswith(("VAR", "STDDEV"))


def test_aggregate_specs() -> None:
    names = {
        "COUNT", "SUM", "AVG", "MIN", "MAX", "FIRST_VALUE", "LAST_VALUE", "STDDEV_POP",
        "STDDEV_SAMP", "STDDEV", "VAR_POP", "VAR_SAMP", "VARIANCE", "COUNT_DISTINCT",
    }  # fmt: skip
    assert names <= set(A.AGGREGATES)
    integer, real = parse_type("INTEGER"), parse_type("REAL")
    assert A.AGGREGATES["COUNT"].returns(real) == SqlType(TypeKind.BIGINT)
    assert A.AGGREGATES["SUM"].returns(integer) == SqlType(TypeKind.BIGINT)
    assert A.AGGREGATES["SUM"].returns(real) == SqlType(TypeKind.DOUBLE)
    assert A.AGGREGATES["AVG"].returns(integer) == integer
    assert A.AGGREGATES["STDDEV"].returns(integer) == SqlType(TypeKind.DOUBLE)
    assert A.AGGREGATES["MAX"].returns(None) is None
    for name, spec in A.AGGREGATES.items():
        assert spec.name == name and spec.invertible
    assert sorted(A.__all__) == A.__all__
