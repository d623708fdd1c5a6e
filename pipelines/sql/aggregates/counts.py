"""COUNT, COUNT(DISTINCT x) and SUM(DISTINCT x).

COUNT(*) is fed ``True`` for each row; empty COUNT gives 0. COUNT_DISTINCT and SUM_DISTINCT
count distinct non-NULL values (a count per value, so rows can leave).
"""

from __future__ import annotations

import math
from typing import Any

from pipelines.sql.state_codec import decode_value, encode_value
from pipelines.sql.types import Interval

__all__ = ["Count", "CountDistinct", "SumDistinct"]


class Count:
    """COUNT(x) (non-NULL values) and COUNT(*) (the compiler feeds ``True``)."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def add(self, value: Any) -> None:
        if value is not None:
            self.n += 1

    def remove(self, value: Any) -> None:
        if value is not None:
            self.n -= 1

    def result(self) -> int:
        return self.n

    def state(self) -> Any:
        return self.n

    @classmethod
    def restore(cls, state: Any) -> Count:
        acc = cls()
        acc.n = state
        return acc


class CountDistinct:
    """COUNT(DISTINCT x): exact, one count per distinct non-NULL value (removal supported)."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[Any, int] = {}

    def add(self, value: Any) -> None:
        if value is not None:
            counts = self.counts
            counts[value] = counts.get(value, 0) + 1

    def remove(self, value: Any) -> None:
        if value is None:
            return
        counts = self.counts
        n = counts[value]
        if n > 1:
            counts[value] = n - 1
        else:
            del counts[value]

    def result(self) -> Any:
        return len(self.counts)

    def state(self) -> Any:
        return [[encode_value(v), n] for v, n in self.counts.items()]

    @classmethod
    def restore(cls, state: Any) -> Any:
        acc = cls()
        acc.counts = {decode_value(v): n for v, n in state}
        return acc


class SumDistinct(CountDistinct):
    """SUM(DISTINCT x): the sum of the distinct non-NULL values (NULL when there are none)."""

    __slots__ = ()

    def result(self) -> Any:
        if not self.counts:
            return None
        values = list(self.counts)
        if type(values[0]) is float:
            return math.fsum(values)
        total = sum(values)
        return Interval(total) if type(values[0]) is Interval else total
