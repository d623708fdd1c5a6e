"""Robust Random Cut Forest, the model behind KDA's ``RANDOM_CUT_FOREST`` and
``RANDOM_CUT_FOREST_WITH_EXPLANATION`` (no I/O here).

The algorithm is Guha, Mishra, Roy, Schrijvers, *Robust Random Cut Forest Based Anomaly
Detection on Streams* (ICML 2016), as AWS implements it in ``random-cut-forest-by-aws``: a
forest of random cut trees, each over a time-decayed reservoir sample of the stream; a point's
score averages over the trees how much it would displace the tree (near 1 for a typical
point, larger for an outlier — KDA's guide shows ~0.7 for normal rows and 3.9 for an
anomaly), and the attribution splits the score per dimension into the part due to the value
being too high and the part due to it being too low.

The forest is ``krcf``, the Python binding of AWS's own Rust implementation, chosen over:

* ``rrcf`` / ``newrrcf`` / ``pysad`` — pure Python/NumPy, about 100x slower with 100 trees,
  and they score with CoDisp, not the AWS score KDA returns (a different scale);
* ``rcf3`` — an independent Rust re-implementation (not AWS's code), slower here
  (≈14,000 vs ≈18,000 score+update/s of CPU at KDA's defaults on one column);
* ``jrcf`` — AWS's Java library through a JVM bridge.

``krcf`` gives what KDA's functions need: the score and the directional attribution
(``DiVector``: high/low per dimension), internal shingling, time decay (``lambda``), a random
seed, and a state that serialises to msgpack and back *bit for bit*: a forest restored from
:meth:`RandomCutForest.to_bytes` continues with exactly the scores of one that never stopped
(its random generators are in the state). Scoring does not change the forest, so replaying the
updates alone rebuilds it (the operator's changelog relies on both).

KDA's parameters (SQL Reference, ``RANDOM_CUT_FOREST``) map onto it as: ``numberOfTrees`` →
trees; ``subSampleSize`` → each tree's sample size; ``timeDecay`` (how many recent records
the model remembers) → the sampler's decay ``lambda = 1 / timeDecay``; ``shingleSize`` → the
number of consecutive records concatenated into one point. The score is 0 until the forest has
seen ``1 + subSampleSize / 4`` points ("you first see rows with an anomaly score equal to zero
… during the initial learning phase", the guide's anomaly-detection example).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from krcf import RandomCutForest as _Forest

__all__ = [
    "DEFAULT_NUMBER_OF_TREES",
    "DEFAULT_SHINGLE_SIZE",
    "DEFAULT_SUB_SAMPLE_SIZE",
    "DEFAULT_TIME_DECAY",
    "NUMBER_OF_TREES_RANGE",
    "RandomCutForest",
    "RcfParams",
    "SHINGLE_SIZE_RANGE",
    "SUB_SAMPLE_SIZE_RANGE",
    "explanation_json",
]

#: KDA's defaults (SQL Reference, RANDOM_CUT_FOREST: "numberOfTrees … default 100",
#: "subSampleSize … default 256", "timeDecay … default 100,000", "shingleSize … default 1").
DEFAULT_NUMBER_OF_TREES = 100
DEFAULT_SUB_SAMPLE_SIZE = 256
DEFAULT_TIME_DECAY = 100_000
DEFAULT_SHINGLE_SIZE = 1
#: KDA's ranges, inclusive. ``subSampleSize`` must also be below ``timeDecay``.
NUMBER_OF_TREES_RANGE = (1, 1000)
SUB_SAMPLE_SIZE_RANGE = (10, 1000)
SHINGLE_SIZE_RANGE = (1, 30)
#: zlib level of a serialised forest: level 1 takes a third off for a few tens of ms.
_ZLIB_LEVEL = 1


@dataclass(frozen=True, slots=True)
class RcfParams:
    """One forest's parameters, validated against KDA's ranges (``ValueError`` names the
    KDA parameter)."""

    dimensions: int
    number_of_trees: int = DEFAULT_NUMBER_OF_TREES
    sub_sample_size: int = DEFAULT_SUB_SAMPLE_SIZE
    time_decay: int = DEFAULT_TIME_DECAY
    shingle_size: int = DEFAULT_SHINGLE_SIZE
    seed: int = 0

    def __post_init__(self) -> None:
        for name, value, (low, high) in (
            ("numberOfTrees", self.number_of_trees, NUMBER_OF_TREES_RANGE),
            ("subSampleSize", self.sub_sample_size, SUB_SAMPLE_SIZE_RANGE),
            ("shingleSize", self.shingle_size, SHINGLE_SIZE_RANGE),
        ):
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}, got {value}")
        if self.time_decay <= self.sub_sample_size:
            raise ValueError(
                f"timeDecay must be greater than subSampleSize ({self.sub_sample_size}), "
                f"got {self.time_decay}"
            )
        if self.dimensions < 1:
            raise ValueError("RANDOM_CUT_FOREST needs at least one numeric column")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be a non-negative 64-bit integer, got {self.seed}")

    def options(self) -> dict[str, Any]:
        """The forest's ``krcf`` options."""
        return {
            "dimensions": self.dimensions,
            "shingle_size": self.shingle_size,
            "internal_shingling": True,
            "num_trees": self.number_of_trees,
            "sample_size": self.sub_sample_size,
            "lambda": 1.0 / self.time_decay,
            "random_seed": self.seed,
            # one thread: the same order of floating-point sums on every run
            "parallel_execution_enabled": False,
        }


class RandomCutForest:
    """A streaming forest over points of ``params.dimensions`` floats (one record each).

    ``score(p)`` then ``update(p)`` for each record, as KDA does: the record is scored
    against the model before it joins it. With ``shingleSize`` > 1 the forest keeps the last
    records itself and scores the shingle the new record completes.
    """

    __slots__ = ("params", "_forest", "_dims")

    def __init__(self, params: RcfParams, forest: _Forest | None = None) -> None:
        self.params = params
        # krcf's options TypedDict cannot declare its "lambda" key for mypy
        self._forest = forest if forest is not None else _Forest(params.options())  # type: ignore[arg-type]
        self._dims = params.dimensions

    def _check(self, point: Sequence[float]) -> None:
        if len(point) != self._dims:
            raise ValueError(f"expected {self._dims} values, got {len(point)}")
        for value in point:
            if not math.isfinite(value):
                raise ValueError(f"values must be finite, got {value!r}")

    def observe(
        self, point: Sequence[float], *, explain: bool = False
    ) -> tuple[float, list[tuple[float, float]] | None]:
        """Score ``point`` (and attribute it when ``explain``), then add it to the forest:
        what the operator does per record, with one check of the point."""
        self._check(point)
        forest = self._forest
        score = float(forest.score(point))
        attribution = self._attribution(point) if explain else None
        forest.update(point)
        return score, attribution

    def observe_many(self, points: Sequence[Sequence[float]]) -> list[float]:
        """:meth:`observe` of each point in turn (score, then update), without explanation:
        the scores. The operator's batch path; the points were checked by its cursor (each
        of ``dimensions`` finite floats)."""
        score, update = self._forest.score, self._forest.update
        scores: list[float] = []
        append = scores.append
        for point in points:
            append(score(point))
            update(point)
        return scores

    def score(self, point: Sequence[float]) -> float:
        self._check(point)
        return float(self._forest.score(point))

    def attribution(self, point: Sequence[float]) -> list[tuple[float, float]]:
        """``(high, low)`` per input column, summed over the shingle's records; the sum of
        all is the score."""
        self._check(point)
        return self._attribution(point)

    def _attribution(self, point: Sequence[float]) -> list[tuple[float, float]]:
        divector = self._forest.attribution(point)
        high, low = divector["high"], divector["low"]
        dims = self._dims
        out = []
        for column in range(dims):
            out.append(
                (
                    math.fsum(high[column::dims]),
                    math.fsum(low[column::dims]),
                )
            )
        return out

    def update(self, point: Sequence[float]) -> None:
        self._check(point)
        self._forest.update(point)

    @property
    def entries_seen(self) -> int:
        """Points that reached the trees (records less the first ``shingleSize - 1``)."""
        return int(self._forest.entries_seen())

    # -- state ----------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The whole forest (trees, samples, random generators, shingle) as compressed bytes."""
        return zlib.compress(self._forest.to_msgpack(), _ZLIB_LEVEL)

    @classmethod
    def from_bytes(cls, params: RcfParams, data: bytes) -> RandomCutForest:
        forest = _Forest.from_msgpack(zlib.decompress(data))
        restored = forest.options()
        for key, value in params.options().items():
            if restored.get(key) != value:
                raise ValueError(f"a saved forest with {key}={restored.get(key)!r} for {value!r}")
        return cls(params, forest)


def explanation_json(
    columns: Sequence[str],
    attribution: Sequence[tuple[float, float]],
    *,
    with_directionality: bool,
) -> str:
    """KDA's ``ANOMALY_EXPLANATION``: per numeric column, in the cursor's order,
    ``{"ATTRIBUTION_SCORE": "0.3792"}`` — or with directionality
    ``{"DIRECTION": "HIGH"|"LOW", "STRENGTH": "0.0922", "ATTRIBUTION_SCORE": "0.3792"}`` —
    numbers as text with four decimals, as the guide's example output shows them.

    ``ATTRIBUTION_SCORE`` is the column's share of the anomaly score (high + low; the shares
    add up to ``ANOMALY_SCORE``). ``DIRECTION`` is the side with the larger share (HIGH on a
    tie) and ``STRENGTH`` the imbalance ``|high - low|``: 0 when the column is as anomalous
    upwards as downwards, its whole attribution when it is anomalous in one direction only.
    """
    out: dict[str, dict[str, str]] = {}
    for name, (high, low) in zip(columns, attribution, strict=True):
        entry: dict[str, str] = {}
        if with_directionality:
            entry["DIRECTION"] = "HIGH" if high >= low else "LOW"
            entry["STRENGTH"] = f"{abs(high - low):.4f}"
        entry["ATTRIBUTION_SCORE"] = f"{high + low:.4f}"
        out[name] = entry
    return orjson.dumps(out).decode()
