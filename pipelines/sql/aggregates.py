"""Aggregate accumulators for tumbling (GROUP BY) and sliding (OVER) windows.

One mutable class per aggregate, all with ``add(value)``, ``remove(value)`` (sliding windows),
``result()`` and ``state()`` (a JSON-safe snapshot that :data:`AGGREGATES`' ``restore`` turns
back into an equal accumulator). NULL values are ignored by ``add``/``remove`` — except by
FIRST_VALUE/LAST_VALUE, which see every row — and COUNT(*) is fed ``True`` for each row.
Empty SUM/AVG/MIN/MAX/VAR/STDDEV give NULL; empty COUNT gives 0.

Semantics (KDA SQL reference pages in brackets):

* SUM keeps the input type: integers → ``int``, DOUBLE → ``float`` (Neumaier-compensated, so
  adding and removing many values does not drift), DECIMAL → ``Decimal``, INTERVAL → INTERVAL.
* AVG keeps the input type too, as SQLstream does (its type system comes from the
  Farrago/Calcite line, where AVG(INTEGER) is INTEGER): an average of integers is truncated
  toward zero; ``CAST(x AS DOUBLE)`` first for a fraction. [sql-reference-avg.html does not
  state the type; this is the one place KDA and DuckDB, which returns DOUBLE, part ways.]
* MIN/MAX support arbitrary removal: a count per distinct value plus a lazily cleaned heap.
* FIRST_VALUE/LAST_VALUE take rows in arrival order and RESPECT NULLS by default
  [sql-reference-first-value.html]; ``remove`` drops the oldest row (FIFO), which is how a
  sliding window expires rows. The ``*_IGNORE_NULLS`` entries skip NULLs in the result.
* VAR_POP/VAR_SAMP/STDDEV_POP/STDDEV_SAMP use Welford's update and its inverse for ``remove``;
  VARIANCE and STDDEV are the sample forms. They return DOUBLE; the sample forms are NULL for
  fewer than two values.
* COUNT_DISTINCT (``COUNT(DISTINCT x)``) and SUM_DISTINCT count distinct non-NULL values.
* ANY and EVERY take BOOLEANs [sql-reference-any.html, sql-reference-every.html]: ANY is true
  when some value is true, EVERY when every value is; NULLs are ignored, and with no non-NULL
  value both are NULL, as SQL's SOME/EVERY. They count trues and falses, so rows can leave.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol

from ground.errors import RowError
from pipelines.sql.state_codec import decode_value, encode_value
from pipelines.sql.types import COERCION_ERROR, Interval, SqlType, TypeKind

__all__ = [
    "ADD_ONLY",
    "AGGREGATES",
    "Accumulator",
    "AddOnlyMax",
    "AddOnlyMin",
    "AggregateSpec",
    "Avg",
    "BoolAny",
    "BoolEvery",
    "Count",
    "CountDistinct",
    "FirstValue",
    "LastValue",
    "Max",
    "Min",
    "StddevPop",
    "StddevSamp",
    "Sum",
    "SumDistinct",
    "VarPop",
    "VarSamp",
]


class Accumulator(Protocol):
    def add(self, value: Any) -> None: ...

    def remove(self, value: Any) -> None: ...

    def result(self) -> Any: ...

    def state(self) -> Any: ...


# ---------------------------------------------------------------- COUNT


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


# ---------------------------------------------------------------- SUM / AVG


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


# ---------------------------------------------------------------- MIN / MAX


class _Desc:
    """Reverses the order of a non-numeric value for the MAX heap."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.v < self.v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.v == other.v

    __hash__ = None  # type: ignore[assignment]


class Min:
    """MIN(x) with removal: ``counts`` per distinct value and a heap cleaned lazily; the heap
    gets one entry per value that becomes present, and is rebuilt when stale entries dominate."""

    __slots__ = ("counts", "heap")

    def __init__(self) -> None:
        self.counts: dict[Any, int] = {}
        self.heap: list[Any] = []

    def _key(self, value: Any) -> Any:
        return value

    def add(self, value: Any) -> None:
        if value is None:
            return
        counts = self.counts
        n = counts.get(value)
        if n is None:
            counts[value] = 1
            heapq.heappush(self.heap, self._key(value))
        else:
            counts[value] = n + 1

    def remove(self, value: Any) -> None:
        if value is None:
            return
        counts = self.counts
        n = counts[value]
        if n > 1:
            counts[value] = n - 1
            return
        del counts[value]
        if len(self.heap) > 2 * len(counts) + 32:
            self.heap = [self._key(v) for v in counts]
            heapq.heapify(self.heap)

    def _value(self, entry: Any) -> Any:
        return entry

    def result(self) -> Any:
        heap, counts = self.heap, self.counts
        while heap:
            value = self._value(heap[0])
            if value in counts:
                return value
            heapq.heappop(heap)
        return None

    def state(self) -> Any:
        return [[encode_value(v), n] for v, n in self.counts.items()]

    @classmethod
    def restore(cls, state: Any) -> Any:
        acc = cls()
        acc.counts = {decode_value(v): n for v, n in state}
        acc.heap = [acc._key(v) for v in acc.counts]
        heapq.heapify(acc.heap)
        return acc


class Max(Min):
    """MAX(x) with removal; heap entries are ``(−x, x)`` for numbers, ``(_Desc(x), x)``
    otherwise."""

    __slots__ = ()

    def _key(self, value: Any) -> Any:
        t = type(value)
        if t is str or t is bytes or t is bool:
            return (_Desc(value), value)
        return (-value, value)

    def _value(self, entry: Any) -> Any:
        return entry[1]


class AddOnlyMin:
    """MIN(x) for windows that only grow (tumbling, stagger): the smallest value so far.

    ``state()`` has :class:`Min`'s form (``[[value, count]]``, here one entry), so the two
    restore each other's snapshots. A value replaces the current one only if it is smaller,
    which for totally ordered values gives :class:`Min`'s result (with NaN, neither order is
    meaningful)."""

    __slots__ = ("v",)

    def __init__(self) -> None:
        self.v: Any = None

    def add(self, value: Any) -> None:
        if value is not None and (self.v is None or value < self.v):
            self.v = value

    def remove(self, value: Any) -> None:
        raise TypeError("an add-only MIN cannot remove values")

    def result(self) -> Any:
        return self.v

    def state(self) -> Any:
        return [] if self.v is None else [[encode_value(self.v), 1]]

    @classmethod
    def restore(cls, state: Any) -> Any:
        acc = cls()
        for v, _n in state:
            acc.add(decode_value(v))
        return acc


class AddOnlyMax(AddOnlyMin):
    """MAX(x) for windows that only grow; see :class:`AddOnlyMin`."""

    __slots__ = ()

    def add(self, value: Any) -> None:
        if value is not None and (self.v is None or value > self.v):
            self.v = value


# ---------------------------------------------------------------- FIRST_VALUE / LAST_VALUE


class FirstValue:
    """FIRST_VALUE(x): arrival order, RESPECT NULLS unless ``ignore_nulls``; ``remove`` drops the
    oldest row whatever ``value`` it is given (FIFO, as a sliding window expires rows)."""

    __slots__ = ("rows", "ignore_nulls")

    def __init__(self, ignore_nulls: bool = False) -> None:
        self.rows: deque[Any] = deque()
        self.ignore_nulls = ignore_nulls

    def add(self, value: Any) -> None:
        self.rows.append(value)

    def remove(self, value: Any) -> None:
        if self.rows:
            self.rows.popleft()

    def result(self) -> Any:
        if not self.ignore_nulls:
            return self.rows[0] if self.rows else None
        return next((v for v in self.rows if v is not None), None)

    def state(self) -> Any:
        return [self.ignore_nulls, [encode_value(v) for v in self.rows]]

    @classmethod
    def restore(cls, state: Any) -> Any:
        ignore, rows = state
        acc = cls(ignore)
        acc.rows.extend(decode_value(v) for v in rows)
        return acc


class LastValue(FirstValue):
    """LAST_VALUE(x): the newest row still in the window."""

    __slots__ = ()

    def result(self) -> Any:
        if not self.ignore_nulls:
            return self.rows[-1] if self.rows else None
        return next((v for v in reversed(self.rows) if v is not None), None)


# ---------------------------------------------------------------- VARIANCE / STDDEV


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


# ---------------------------------------------------------------- DISTINCT


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


# ---------------------------------------------------------------- ANY / EVERY


class BoolAny:
    """ANY(b): true if some non-NULL value is true, false if none is, NULL without values."""

    __slots__ = ("true", "false")

    def __init__(self) -> None:
        self.true = 0
        self.false = 0

    def add(self, value: Any) -> None:
        if value is True:
            self.true += 1
        elif value is False:
            self.false += 1
        elif value is not None:
            raise RowError(COERCION_ERROR, f"ANY/EVERY needs a BOOLEAN, got {value!r}")

    def remove(self, value: Any) -> None:
        if value is True:
            self.true -= 1
        elif value is False:
            self.false -= 1

    def result(self) -> bool | None:
        if not self.true and not self.false:
            return None
        return self.true > 0

    def state(self) -> Any:
        return [self.true, self.false]

    @classmethod
    def restore(cls, state: Any) -> Any:
        acc = cls()
        acc.true, acc.false = state
        return acc


class BoolEvery(BoolAny):
    """EVERY(b): true if every non-NULL value is true, NULL without values."""

    __slots__ = ()

    def result(self) -> bool | None:
        if not self.true and not self.false:
            return None
        return self.false == 0


# ---------------------------------------------------------------- registry


@dataclass(frozen=True)
class AggregateSpec:
    """How the compiler builds one aggregate: ``create()`` a fresh accumulator,
    ``restore(state)`` one from a snapshot, whether ``remove`` is supported (``invertible``),
    and the result type from the argument type (``None`` = unknown)."""

    name: str
    create: Callable[[], Accumulator]
    restore: Callable[[Any], Accumulator]
    invertible: bool
    returns: Callable[[SqlType | None], SqlType | None]
    #: The accumulator is fed NULL values too (FIRST_VALUE/LAST_VALUE see every row);
    #: operators skip NULLs for the others, which ignore them anyway.
    sees_nulls: bool = False


BIGINT = SqlType(TypeKind.BIGINT)
DOUBLE = SqlType(TypeKind.DOUBLE)
BOOLEAN = SqlType(TypeKind.BOOLEAN)


def _same(t: SqlType | None) -> SqlType | None:
    return t


def _bigint(t: SqlType | None) -> SqlType | None:
    return BIGINT


def _double(t: SqlType | None) -> SqlType | None:
    return DOUBLE


def _boolean(t: SqlType | None) -> SqlType | None:
    return BOOLEAN


def _sum_type(t: SqlType | None) -> SqlType | None:
    """Integer sums widen to BIGINT (the accumulator never overflows; the column may);
    REAL widens to DOUBLE; DECIMAL and INTERVAL keep their type."""
    if t is None:
        return None
    if t.is_integer:
        return BIGINT
    if t.kind is TypeKind.REAL:
        return DOUBLE
    return t


def _spec(
    name: str,
    cls: Any,
    returns: Callable[[SqlType | None], SqlType | None],
    **kwargs: Any,
) -> tuple[str, AggregateSpec]:
    sees_nulls = issubclass(cls, FirstValue)
    if kwargs:
        return name, AggregateSpec(
            name, lambda: cls(**kwargs), cls.restore, True, returns, sees_nulls
        )
    return name, AggregateSpec(name, cls, cls.restore, True, returns, sees_nulls)


AGGREGATES: Mapping[str, AggregateSpec] = MappingProxyType(
    dict(
        [
            _spec("COUNT", Count, _bigint),
            _spec("SUM", Sum, _sum_type),
            _spec("AVG", Avg, _same),
            _spec("MIN", Min, _same),
            _spec("MAX", Max, _same),
            _spec("FIRST_VALUE", FirstValue, _same),
            _spec("LAST_VALUE", LastValue, _same),
            _spec("FIRST_VALUE_IGNORE_NULLS", FirstValue, _same, ignore_nulls=True),
            _spec("LAST_VALUE_IGNORE_NULLS", LastValue, _same, ignore_nulls=True),
            _spec("VAR_POP", VarPop, _double),
            _spec("VAR_SAMP", VarSamp, _double),
            _spec("VARIANCE", VarSamp, _double),
            _spec("STDDEV_POP", StddevPop, _double),
            _spec("STDDEV_SAMP", StddevSamp, _double),
            _spec("STDDEV", StddevSamp, _double),
            _spec("COUNT_DISTINCT", CountDistinct, _bigint),
            _spec("SUM_DISTINCT", SumDistinct, _sum_type),
            _spec("ANY", BoolAny, _boolean),
            _spec("EVERY", BoolEvery, _boolean),
        ]
    )
)

#: Cheaper accumulators for windows that never remove values (tumbling): same results and
#: snapshot forms as the :data:`AGGREGATES` entry of the same name.
ADD_ONLY: Mapping[str, AggregateSpec] = MappingProxyType(
    {
        "MIN": AggregateSpec("MIN", AddOnlyMin, AddOnlyMin.restore, False, _same),
        "MAX": AggregateSpec("MAX", AddOnlyMax, AddOnlyMax.restore, False, _same),
    }
)
