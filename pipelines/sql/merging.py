"""Merging two accumulators of the same aggregate: the second phase of a two-phase window.

A windowed aggregation whose groups span input partitions runs in two phases around a
repartition (:mod:`pipelines.sql.operators.two_phase`): each partition aggregates its own rows
and sends the accumulators' snapshots when its window closes; the stage behind the
repartition restores them and merges them into one. :func:`merge_into` is that merge, one
rule per accumulator class of :mod:`pipelines.sql.aggregates`; the result is the accumulator
of all the rows of both, as :meth:`result` sees it:

* COUNT adds counts; SUM and AVG add counts and compensated sums (exact for integers and
  DECIMAL); MIN and MAX keep the smaller / larger value.
* VAR_* and STDDEV_* combine Welford's states with Chan, Golub and LeVeque's pairwise
  formula (count, mean and sum of squared deviations).
* COUNT(DISTINCT), SUM(DISTINCT) and the other aggregates of DISTINCT values (AVG, VAR_*,
  STDDEV_*) add their per-value counts: the merged set is the union, exactly.

FIRST_VALUE and LAST_VALUE take rows in arrival order, which rows of different partitions do
not have: they have no merge, and :func:`mergeable` says so (the planner refuses them in a
window whose groups span partitions, naming the aggregate).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from pipelines.sql.aggregates import (
    AddOnlyMax,
    AddOnlyMin,
    AggregateSpec,
    Avg,
    Count,
    CountDistinct,
    Max,
    Min,
    OverDistinct,
    StddevPop,
    StddevSamp,
    Sum,
    SumDistinct,
    VarPop,
    VarSamp,
)

__all__ = ["merge_into", "mergeable"]


def _count(a: Count, b: Count) -> None:
    a.n += b.n


def _sum(a: Sum, b: Sum) -> None:
    if b.n == 0:
        return
    if a.n == 0:
        a.n, a.s, a.c, a.interval = b.n, b.s, b.c, b.interval
        a.odd = None if b.odd is None else list(b.odd)
        return
    a.n += b.n
    a.interval = a.interval or b.interval
    if b.odd is not None:
        a.odd = [x + y for x, y in zip(a.odd or [0, 0, 0], b.odd, strict=True)]
    if type(a.s) is float or type(b.s) is float:
        s, t = float(a.s), float(b.s)
        total = s + t  # Neumaier's step for the two running sums, then both residues
        if abs(s) >= abs(t):
            a.c += (s - total) + t
        else:
            a.c += (t - total) + s
        a.c += b.c
        a.s = total
    else:
        a.s = a.s + b.s


def _add_only(a: AddOnlyMin, b: AddOnlyMin) -> None:
    if b.v is not None:
        a.add(b.v)


def _min_max(a: Min, b: Min) -> None:
    for value, n in b.counts.items():
        have = a.counts.get(value)
        if have is None:
            a.counts[value] = n
            heapq.heappush(a.heap, a._key(value))
        else:
            a.counts[value] = have + n


def _welford(a: VarPop, b: VarPop) -> None:
    if b.n == 0:
        return
    if a.n == 0:
        a.n, a.mean, a.m2 = b.n, b.mean, b.m2
        return
    n = a.n + b.n
    delta = b.mean - a.mean
    a.mean += delta * b.n / n
    a.m2 += b.m2 + delta * delta * a.n * b.n / n
    a.n = n


def _distinct(a: CountDistinct, b: CountDistinct) -> None:
    counts = a.counts
    for value, n in b.counts.items():
        counts[value] = counts.get(value, 0) + n


def _over_distinct(a: OverDistinct, b: OverDistinct) -> None:
    _distinct(a, b)
    a.changed()


_MERGES: dict[type, Callable[[Any, Any], None]] = {
    Count: _count,
    Sum: _sum,
    Avg: _sum,
    AddOnlyMin: _add_only,
    AddOnlyMax: _add_only,
    Min: _min_max,
    Max: _min_max,
    VarPop: _welford,
    VarSamp: _welford,
    StddevPop: _welford,
    StddevSamp: _welford,
    CountDistinct: _distinct,
    SumDistinct: _distinct,
    OverDistinct: _over_distinct,
}


def mergeable(spec: AggregateSpec) -> bool:
    """Whether accumulators of ``spec`` can be merged (see the module's list)."""
    return type(spec.create()) in _MERGES


def merge_into(a: Any, b: Any) -> None:
    """Fold accumulator ``b`` into ``a`` (same aggregate): ``a`` then holds both's rows."""
    merge = _MERGES.get(type(a))
    if merge is None or type(b) is not type(a):
        raise TypeError(f"cannot merge {type(b).__name__} into {type(a).__name__}")
    merge(a, b)
