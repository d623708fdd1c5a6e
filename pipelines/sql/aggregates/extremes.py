"""MIN and MAX.

:class:`Min`/:class:`Max` support arbitrary removal: a count per distinct value plus a lazily
cleaned heap. :class:`AddOnlyMin`/:class:`AddOnlyMax` serve windows that only grow. Empty MIN
and MAX give NULL.
"""

from __future__ import annotations

import heapq
from typing import Any

from pipelines.sql.state_codec import decode_value, encode_value

__all__ = ["AddOnlyMax", "AddOnlyMin", "Max", "Min"]


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
