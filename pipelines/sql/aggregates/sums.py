"""SUM and AVG.

* SUM keeps the input type: integers → ``int``, DOUBLE → ``float`` (Neumaier-compensated, so
  adding and removing many values does not drift), DECIMAL → ``Decimal``, INTERVAL → INTERVAL.
* AVG keeps the input type too, as SQLstream does (its type system comes from the
  Farrago/Calcite line, where AVG(INTEGER) is INTEGER): an average of integers is truncated
  toward zero; ``CAST(x AS DOUBLE)`` first for a fraction. [sql-reference-avg.html does not
  state the type; this is the one place KDA and DuckDB, which returns DOUBLE, part ways.]

Both are NULL over no value.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from pipelines.sql.state_codec import decode_value, encode_value
from pipelines.sql.types import Interval

__all__ = ["Avg", "Sum"]


class Sum:
    """SUM(x): exact for integers and DECIMAL, compensated for DOUBLE. Infinities and NaN are
    counted aside, so removing them restores a finite sum."""

    __slots__ = ("n", "s", "c", "interval", "odd")

    def __init__(self) -> None:
        self.n = 0
        self.s: Any = 0
        self.c = 0.0  # Neumaier compensation, floats only
        self.interval = False
        self.odd: list[int] | None = None  # counts of +inf, -inf, NaN

    def add(self, value: Any) -> None:
        if value is None:
            return
        self.n += 1
        if type(value) is float:
            if value - value != 0.0:
                self._odd(value, 1)
                return
            s = self.s
            t = s + value
            if abs(s) >= abs(value):
                self.c += (s - t) + value
            else:
                self.c += (value - t) + s
            self.s = t
        elif type(value) is Interval:
            self.interval = True
            self.s += value
        else:
            self.s += value

    def _odd(self, value: float, delta: int) -> None:
        if self.odd is None:
            self.odd = [0, 0, 0]
        self.odd[0 if value > 0 else 1 if value < 0 else 2] += delta
        if type(self.s) is int:
            self.s = float(self.s)

    def remove(self, value: Any) -> None:
        if value is None:
            return
        self.n -= 1
        if self.n == 0:  # forget any rounding residue with the last value
            self.s, self.c, self.odd = 0, 0.0, None
            return
        if type(value) is float:
            if value - value != 0.0:
                self._odd(value, -1)
                return
            s = self.s
            t = s - value
            if abs(s) >= abs(value):
                self.c += (s - t) - value
            else:
                self.c += (-value - t) + s
            self.s = t
        else:
            self.s -= value

    def _total(self) -> Any:
        s = self.s
        if type(s) is float:
            odd = self.odd
            if odd is not None and any(odd):
                if odd[2] or (odd[0] and odd[1]):
                    return math.nan
                return math.inf if odd[0] else -math.inf
            return s + self.c
        if self.interval:
            return Interval(s)
        return s

    def result(self) -> Any:
        return None if self.n == 0 else self._total()

    def state(self) -> Any:
        return [self.n, encode_value(self.s), encode_value(self.c), self.interval, self.odd]

    @classmethod
    def restore(cls, state: Any) -> Any:
        acc = cls()
        n, s, c, interval, odd = state
        acc.n, acc.s, acc.c, acc.interval, acc.odd = (
            n,
            decode_value(s),
            decode_value(c),
            interval,
            odd,
        )
        return acc


class Avg(Sum):
    """AVG(x) in the input type: integer averages truncate toward zero (see module doc)."""

    __slots__ = ()

    def result(self) -> Any:
        n = self.n
        if n == 0:
            return None
        total = self._total()
        t = type(total)
        if t is float or t is Decimal:
            return total / n
        q = abs(int(total)) // n
        q = q if total >= 0 else -q
        return Interval(q) if t is Interval else q
