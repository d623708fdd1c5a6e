"""VAR_POP, VAR_SAMP, STDDEV_POP and STDDEV_SAMP.

Welford's update and its inverse for ``remove``; VARIANCE and STDDEV are the sample forms.
They return DOUBLE; empty ones are NULL, and the sample forms are NULL for fewer than two
values.
"""

from __future__ import annotations

import math
from typing import Any

from pipelines.sql.state_codec import decode_value, encode_value

__all__ = ["StddevPop", "StddevSamp", "VarPop", "VarSamp"]


class VarPop:
    """VAR_POP(x) by Welford's online update; ``remove`` applies the update backwards."""

    __slots__ = ("n", "mean", "m2")

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, value: Any) -> None:
        if value is None:
            return
        x = float(value)
        n = self.n + 1
        self.n = n
        d = x - self.mean
        self.mean += d / n
        self.m2 += d * (x - self.mean)

    def remove(self, value: Any) -> None:
        if value is None:
            return
        n = self.n - 1
        if n <= 0:
            self.n, self.mean, self.m2 = 0, 0.0, 0.0
            return
        x = float(value)
        self.n = n
        d = x - self.mean
        self.mean -= d / n
        self.m2 -= d * (x - self.mean)
        if n == 1 or self.m2 < 0.0:  # one value has no spread; never let residue go negative
            self.m2 = 0.0

    def _var(self, ddof: int) -> float | None:
        if self.n <= ddof:
            return None
        return self.m2 / (self.n - ddof)

    def result(self) -> float | None:
        return self._var(0)

    def state(self) -> Any:
        return [self.n, encode_value(self.mean), encode_value(self.m2)]

    @classmethod
    def restore(cls, state: Any) -> Any:
        acc = cls()
        n, mean, m2 = state
        acc.n, acc.mean, acc.m2 = n, decode_value(mean), decode_value(m2)
        return acc


class VarSamp(VarPop):
    __slots__ = ()

    def result(self) -> float | None:
        return self._var(1)


class StddevPop(VarPop):
    __slots__ = ()

    def result(self) -> float | None:
        v = self._var(0)
        return None if v is None else math.sqrt(v)


class StddevSamp(VarPop):
    __slots__ = ()

    def result(self) -> float | None:
        v = self._var(1)
        return None if v is None else math.sqrt(v)
