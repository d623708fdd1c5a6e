"""SUM and AVG: integer averages truncate, infinities recover on removal, intervals."""

from __future__ import annotations

import math
from decimal import Decimal

from pipelines.sql import aggregates as A
from pipelines.sql.types import Interval


def test_avg_of_integers_truncates_toward_zero() -> None:
    acc = A.Avg()
    for v in (1, 2):
        acc.add(v)
    assert acc.result() == 1
    neg = A.Avg()
    for v in (-1, -2):
        neg.add(v)
    assert neg.result() == -1
    d = A.Avg()
    for v in (Decimal("1"), Decimal("2")):
        d.add(v)
    assert d.result() == Decimal("1.5")


def test_sum_of_infinities_recovers_on_removal() -> None:
    s = A.Sum()
    for v in (1.5, math.inf, 2.0):
        s.add(v)
    assert s.result() == math.inf
    s.add(-math.inf)
    assert math.isnan(s.result())
    s.remove(math.inf)
    s.remove(-math.inf)
    assert s.result() == 3.5


def test_count_star_and_sum_of_intervals() -> None:
    star = A.AGGREGATES["COUNT"].create()
    for _ in range(3):
        star.add(True)
    assert star.result() == 3
    s = A.Sum()
    s.add(Interval(5))
    s.add(Interval(7))
    assert s.result() == Interval(12) and type(s.result()) is Interval
