"""MIN and MAX: strings and timestamps against DuckDB, heaps that stay bounded."""

from __future__ import annotations

import random
from collections import deque

import duckdb

from pipelines.sql import aggregates as A
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.aggregates.groups import (
    GROUPS,
    SEED,
    run_groups,
    run_ours,
)


def test_string_and_timestamp_min_max_match_duckdb(duck: duckdb.DuckDBPyConnection) -> None:
    r = random.Random(SEED)
    words = [
        (r.randrange(GROUPS), "".join(r.choices("abcXYZ", k=r.randint(0, 5)))) for _ in range(2000)
    ]
    assert run_ours("MIN", words) == run_groups(duck, "VARCHAR", words, "min(x)")
    assert run_ours("MAX", words) == run_groups(duck, "VARCHAR", words, "max(x)")
    ts = [(r.randrange(GROUPS), r.randint(-(10**12), 4 * 10**12)) for _ in range(2000)]
    tagged = [(g, Timestamp(t)) for g, t in ts]
    assert run_ours("MAX", tagged) == run_groups(duck, "BIGINT", ts, "max(x)")
    assert all(type(v) is Timestamp for v in run_ours("MAX", tagged))
    assert all(type(v) is Timestamp for v in run_ours("MIN", tagged))


def test_min_max_heaps_stay_bounded() -> None:
    for cls in (A.Min, A.Max):
        acc = cls()
        window: deque[int] = deque()
        for i in range(20_000):  # decreasing then increasing: worst cases for a heap
            v = -i if i < 10_000 else i
            window.append(v)
            acc.add(v)
            if len(window) > 100:
                acc.remove(window.popleft())
            assert acc.result() == (min(window) if cls is A.Min else max(window))
        assert len(acc.heap) <= 2 * len(acc.counts) + 32
