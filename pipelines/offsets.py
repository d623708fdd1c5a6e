"""A set of offsets kept as sorted, disjoint ``[start, end)`` intervals.

Records mostly arrive in offset order, so the set is usually one interval that grows at
its end; a replay from an earlier offset adds a second one until the two meet.
"""

from __future__ import annotations

from bisect import bisect_right

__all__ = ["OffsetSet"]


class OffsetSet:
    __slots__ = ("_ends", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def __contains__(self, offset: object) -> bool:
        if not isinstance(offset, int):
            return False
        i = bisect_right(self._starts, offset) - 1
        return i >= 0 and offset < self._ends[i]

    def add(self, offset: int) -> bool:
        """Add ``offset``; False if it was already in the set."""
        starts, ends = self._starts, self._ends
        if ends and offset == ends[-1]:  # the common case: the next offset
            ends[-1] = offset + 1
            return True
        i = bisect_right(starts, offset) - 1
        if i >= 0 and offset < ends[i]:
            return False
        joins_left = i >= 0 and ends[i] == offset
        joins_right = i + 1 < len(starts) and starts[i + 1] == offset + 1
        if joins_left and joins_right:
            ends[i] = ends[i + 1]
            del starts[i + 1], ends[i + 1]
        elif joins_left:
            ends[i] = offset + 1
        elif joins_right:
            starts[i + 1] = offset
        else:
            starts.insert(i + 1, offset)
            ends.insert(i + 1, offset + 1)
        return True

    def intervals(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))
