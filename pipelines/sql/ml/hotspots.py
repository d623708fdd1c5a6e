"""Density-based hotspots over a sliding window of records, KDA's ``HOTSPOTS`` (no I/O here).

KDA (SQL Reference, ``HOTSPOTS``): a *hotspot* is "a small region of space that is relatively
dense with data points"; ``windowSize`` (100–1000) is "the number of records that are
considered for each timestep by the sliding window over the stream", ``scanRadius`` "the
typical distance between a hotspot point and its nearest neighbors … analogous to the epsilon
value in the DBSCAN algorithm", ``minimumNumberOfPointsInAHotspot`` the number of records
needed to form one. For each record the function returns the hotspots of the window that ends
with it, as JSON: ``{"hotspots": [{"density": …, "minValues": […], "maxValues": […]}, …]}``
(the guide's viewer reads exactly these fields).

Here a window's hotspots are its DBSCAN clusters (Ester, Kriegel, Sander, Xu, KDD 1996) with
``eps = scanRadius`` (Euclidean) and ``minPts = minimumNumberOfPointsInAHotspot``: a point is a
*core* when at least ``minPts`` window points (itself included) lie within ``eps``; cores
within ``eps`` of each other are in one hotspot; a non-core point within ``eps`` of a core
joins the hotspot of its oldest such core (DBSCAN leaves that choice to visiting order; the
oldest makes it deterministic). ``minValues``/``maxValues`` bound the hotspot's points per
column, and ``density`` is its point count divided by the volume of that box, a side of
width 0 (all points equal in a column) counting as ``scanRadius``. Hotspots are listed
densest first.

The neighbour relation is kept incrementally: a record entering or leaving the window costs
one vectorised distance computation against the window, and counts per point are updated in
place; clustering then only looks at the core points. The result depends only on the window's
points in order, so a detector rebuilt from them (:meth:`HotspotDetector.restore`) continues
exactly as the original.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson

__all__ = [
    "Hotspot",
    "HotspotDetector",
    "HotspotParams",
    "WINDOW_SIZE_RANGE",
    "hotspots_json",
]

#: KDA's range of ``windowSize``, inclusive.
WINDOW_SIZE_RANGE = (100, 1000)


@dataclass(frozen=True, slots=True)
class HotspotParams:
    """``HOTSPOTS``' arguments, validated (``ValueError`` names the KDA parameter)."""

    dimensions: int
    window_size: int
    scan_radius: float
    min_points: int

    def __post_init__(self) -> None:
        low, high = WINDOW_SIZE_RANGE
        if not low <= self.window_size <= high:
            raise ValueError(f"windowSize must be between {low} and {high}, got {self.window_size}")
        if not (math.isfinite(self.scan_radius) and self.scan_radius > 0):
            raise ValueError(f"scanRadius must be a positive number, got {self.scan_radius}")
        if not 2 <= self.min_points <= self.window_size:
            raise ValueError(
                "minimumNumberOfPointsInAHotspot must be between 2 and windowSize "
                f"({self.window_size}), got {self.min_points}"
            )
        if self.dimensions < 1:
            raise ValueError("HOTSPOTS needs at least one numeric column")


@dataclass(frozen=True, slots=True)
class Hotspot:
    density: float
    min_values: tuple[float, ...]
    max_values: tuple[float, ...]
    count: int


class HotspotDetector:
    """The last ``window_size`` points and their hotspots."""

    __slots__ = (
        "params", "_points", "_seq", "_valid", "_adj", "_counts", "_core", "_core_nb",
        "_next", "_order", "_cached",
    )  # fmt: skip

    def __init__(self, params: HotspotParams) -> None:
        self.params = params
        n, d = params.window_size, params.dimensions
        self._points = np.zeros((n, d), dtype=np.float64)
        self._seq = np.zeros(n, dtype=np.int64)  # arrival number of the point in each slot
        self._valid = np.zeros(n, dtype=bool)
        self._adj = np.zeros((n, n), dtype=bool)  # within scanRadius (a point of itself)
        self._counts = np.zeros(n, dtype=np.int64)  # neighbours per point, itself included
        self._core = np.zeros(n, dtype=bool)
        self._core_nb = np.zeros(n, dtype=np.int64)  # core neighbours, itself included
        self._next = 0  # arrival number of the next point
        self._order: deque[int] = deque()  # slots, oldest first
        self._cached: list[Hotspot] | None = []  # None: the window's hotspots changed

    def __len__(self) -> int:
        return len(self._order)

    @property
    def arrivals(self) -> int:
        """Points added since the start (the next one's arrival number)."""
        return self._next

    def window(self) -> list[tuple[float, ...]]:
        """The window's points, oldest first."""
        return [tuple(self._points[s].tolist()) for s in self._order]

    def add(self, point: Sequence[float]) -> list[Hotspot]:
        """Slide the window over ``point``; the hotspots of the window that ends with it."""
        values = np.asarray(point, dtype=np.float64)
        if values.shape != (self.params.dimensions,):
            raise ValueError(f"expected {self.params.dimensions} values, got {len(point)}")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"values must be finite, got {list(point)!r}")
        if len(self._order) == self.params.window_size:
            self._evict(self._order.popleft())
        self._insert(int(np.flatnonzero(~self._valid)[0]), values)
        return self.hotspots()

    def _insert(self, slot: int, values: np.ndarray) -> None:
        diff = self._points - values
        near = np.einsum("ij,ij->i", diff, diff) <= self.params.scan_radius**2
        near &= self._valid
        if near.any() and (near & self._core).any():
            self._cached = None  # a core's hotspot gains a point
        near[slot] = True
        self._points[slot] = values
        self._seq[slot] = self._next
        self._next += 1
        self._valid[slot] = True
        self._adj[slot, :] = near
        self._adj[:, slot] = near
        self._counts += near
        self._counts[slot] = int(near.sum())
        self._core_nb[slot] = int((near & self._core).sum())
        self._order.append(slot)
        self._recheck_cores()

    def _evict(self, slot: int) -> None:
        near = self._adj[slot].copy()
        if self._core[slot]:
            self._core_nb -= near
            self._core[slot] = False
            self._cached = None
        elif self._core_nb[slot]:
            self._cached = None  # a hotspot loses a border point
        self._counts -= near
        self._adj[slot, :] = False
        self._adj[:, slot] = False
        self._valid[slot] = False
        self._counts[slot] = 0
        self._core_nb[slot] = 0
        self._recheck_cores()

    def _recheck_cores(self) -> None:
        core = self._valid & (self._counts >= self.params.min_points)
        flipped = np.flatnonzero(core != self._core)
        if len(flipped):
            self._cached = None
            for slot in flipped.tolist():
                if core[slot]:
                    self._core_nb += self._adj[slot]
                else:
                    self._core_nb -= self._adj[slot]
            self._core = core

    def hotspots(self) -> list[Hotspot]:
        if self._cached is not None:
            return self._cached
        params = self.params
        core_slots = np.flatnonzero(self._core)
        out: list[Hotspot] = []
        if len(core_slots):
            labels = _components(self._adj[np.ix_(core_slots, core_slots)])
            cluster = np.full(len(self._valid), -1, dtype=np.int64)  # per slot: its hotspot
            cluster[core_slots] = labels
            borders = np.flatnonzero(~self._core & (self._core_nb > 0))
            if len(borders):
                links = self._adj[np.ix_(borders, core_slots)]
                never = np.iinfo(np.int64).max
                ages = np.where(links, self._seq[core_slots][None, :], never)
                cluster[borders] = labels[ages.argmin(axis=1)]
            for label in np.unique(labels).tolist():
                pts = self._points[cluster == label]
                low, high = pts.min(axis=0), pts.max(axis=0)
                sides = np.where(high > low, high - low, params.scan_radius)
                out.append(
                    Hotspot(
                        len(pts) / float(np.prod(sides)),
                        tuple(low.tolist()),
                        tuple(high.tolist()),
                        len(pts),
                    )
                )
            out.sort(key=lambda h: (-h.density, h.min_values, h.max_values))
        self._cached = out
        return out

    @classmethod
    def restore(
        cls, params: HotspotParams, window: Sequence[Sequence[float]], arrivals: int
    ) -> HotspotDetector:
        """A detector whose window holds ``window`` (oldest first) after ``arrivals`` points."""
        detector = cls(params)
        points = list(window)[-params.window_size :]
        detector._next = arrivals - len(points)
        for point in points:
            slot = int(np.flatnonzero(~detector._valid)[0])
            detector._insert(slot, np.asarray(point, dtype=np.float64))
        return detector


def _components(adjacency: np.ndarray) -> np.ndarray:
    """Connected components of a symmetric boolean matrix: each node's smallest member index
    (label propagation with pointer jumping)."""
    k = adjacency.shape[0]
    labels = np.arange(k)
    while True:
        spread = np.where(adjacency, labels[None, :], k).min(axis=1)
        new = np.minimum(labels, spread)
        new = new[new]
        if np.array_equal(new, labels):
            return labels
        labels = new


def hotspots_json(hotspots: Sequence[Hotspot]) -> str:
    """KDA's ``HOTSPOTS_RESULT`` text."""
    return orjson.dumps(
        {
            "hotspots": [
                {
                    "density": h.density,
                    "minValues": list(h.min_values),
                    "maxValues": list(h.max_values),
                }
                for h in hotspots
            ]
        }
    ).decode()
