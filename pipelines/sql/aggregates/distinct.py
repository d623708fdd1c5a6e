"""An aggregate over the distinct values: ``AVG(DISTINCT x)``, ``VAR_POP(DISTINCT x)``,
``STDDEV_SAMP(DISTINCT x)`` … (KDA's pages of these functions: "DISTINCT: excludes duplicate
values in the input set").

The state is the set of distinct non-NULL values, each with how many rows carry it, as for
COUNT(DISTINCT) (:class:`~pipelines.sql.aggregates.counts.CountDistinct`): rows can leave a
sliding window, and two partial states merge exactly (their counts add). The result is the
aggregate of the set, fed in sorted order: the same set gives the same result to the last
bit, whatever order its rows came in, how they were split across partitions, or whether the
state was restored from a changelog in between. It is computed again only when the set
changed.
"""

from __future__ import annotations

from typing import Any

from pipelines.sql.aggregates.counts import CountDistinct

__all__ = ["OverDistinct"]


class OverDistinct(CountDistinct):
    """The aggregate ``of`` (a class with ``add`` and ``result``) over the distinct non-NULL
    values added (and not removed)."""

    __slots__ = ("of", "_cached")

    def __init__(self, of: type) -> None:
        super().__init__()
        self.of = of
        self._cached: tuple[Any] | None = None

    def add(self, value: Any) -> None:
        # the result changes only when the set does: a value not there yet
        if value is not None and value not in self.counts:
            self._cached = None
        super().add(value)

    def remove(self, value: Any) -> None:
        # ... or the last row of a value leaving
        if value is not None and self.counts.get(value) == 1:
            self._cached = None
        super().remove(value)

    def changed(self) -> None:
        """The counts were changed from outside (a merge): forget the result."""
        self._cached = None

    def result(self) -> Any:
        cached = self._cached
        if cached is None:
            acc = self.of()
            for value in sorted(self.counts):
                acc.add(value)
            cached = self._cached = (acc.result(),)
        return cached[0]

    @classmethod
    def restore_of(cls, of: type, state: Any) -> OverDistinct:
        """The accumulator of ``of`` whose :meth:`state` was ``state``."""
        acc = cls(of)
        acc.counts = CountDistinct.restore(state).counts
        return acc
