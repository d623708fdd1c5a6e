"""Cost of one ``add`` (and one sliding ``add`` + ``remove``) per accumulator and sketch;
prints numbers, asserts nothing.

    .venv/bin/python benchmarks/aggregates_micro.py --values 200000

Values are seeded ticker-like prices (DOUBLE, two decimals); COUNT_DISTINCT and TOP_K get
ticker symbols. Each figure is the best of three runs, in nanoseconds per call.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

from pipelines.sql.aggregates import AGGREGATES
from pipelines.sql.sketches import CountDistinctItems, TopKItems

WINDOW = 1_000


def best_of(runs: int, fn: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        best = min(best, time.perf_counter_ns() - start)
    return best


def tumbling(create: Callable[[], Any], values: list[Any]) -> Callable[[], None]:
    def run() -> None:
        acc = create()
        add = acc.add
        for v in values:
            add(v)
        acc.result()

    return run


def sliding(create: Callable[[], Any], values: list[Any]) -> Callable[[], None]:
    def run() -> None:
        acc = create()
        add, remove = acc.add, acc.remove
        for i, v in enumerate(values):
            add(v)
            if i >= WINDOW:
                remove(values[i - WINDOW])

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--values", type=int, default=200_000)
    args = ap.parse_args()
    r = random.Random(42)
    prices = [round(r.uniform(10, 500), 2) for _ in range(args.values)]
    symbols = [f"T{r.randrange(5_000):04d}" for _ in range(args.values)]
    n = args.values

    print(f"{'accumulator':<28}{'add ns':>10}{'add+remove ns':>16}")
    for name, spec in AGGREGATES.items():
        values = symbols if name == "COUNT_DISTINCT" else prices
        add_ns = best_of(3, tumbling(spec.create, values)) / n
        slide_ns = best_of(3, sliding(spec.create, values)) / n
        print(f"{name:<28}{add_ns:>10.0f}{slide_ns:>16.0f}")
    for label, create in (
        ("COUNT_DISTINCT_ITEMS", CountDistinctItems),
        ("COUNT_DISTINCT_ITEMS (HLL)", lambda: _past_exact()),
        ("TOP_K_ITEMS k=10", lambda: TopKItems(10)),
        ("TOP_K_ITEMS k=10 cap=1000", lambda: TopKItems(10, capacity=1_000)),
    ):
        ns = best_of(3, tumbling(create, symbols)) / n
        print(f"{label:<28}{ns:>10.0f}{'-':>16}")


def _past_exact() -> CountDistinctItems:
    sketch = CountDistinctItems()
    for i in range(10_001):
        sketch.add(f"warm-{i}")
    return sketch


if __name__ == "__main__":
    main()
