"""The per-window aggregate of the ticker pipeline: count, min, max, sum → average."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PriceStats"]


@dataclass(slots=True)
class PriceStats:
    count: int = 0
    min: float = float("inf")
    max: float = float("-inf")
    sum: float = 0.0

    def add(self, price: float) -> None:
        self.count += 1
        self.sum += price
        if price < self.min:
            self.min = price
        if price > self.max:
            self.max = price

    @property
    def avg(self) -> float:
        if self.count == 0:
            raise ValueError("average of an empty window")
        return self.sum / self.count
