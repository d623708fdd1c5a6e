"""Approximate per-window sketches behind KDA's ``COUNT_DISTINCT_ITEMS_TUMBLING`` and
``TOP_K_ITEMS_TUMBLING``.

:class:`CountDistinctItems` is exact up to :data:`EXACT_DISTINCT_LIMIT` (10,000) distinct
items, as KDA promises (count-distinct-items.html: "When there are less than or equal to
10,000 items in the window, the function returns an exact count"), then HyperLogLog++ from
``datasketch`` with precision ``p`` = 14: relative standard error 1.04 / √2¹⁴ ≈ 0.81 %, so
about 99.7 % of estimates fall within ±2.4 % (three standard errors).

:class:`TopKItems` counts exactly while at most ``capacity`` distinct items have been seen
(default ``max(10·k, 10,000)``), then switches to Space-Saving (Metwally, Agrawal, El Abbadi
2005) with ``capacity`` counters. A reported count never underestimates and overestimates by
at most the smallest counter, which is ≤ N / capacity for N items added; every item whose true
count exceeds N / capacity is present.

Items may be any SQL value (str, int, float, Decimal, bool, bytes, Timestamp/Date/Time/Interval);
NULL is ignored. Values that compare equal count as one item (1 and 1.0), which cannot happen
within one typed column.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from pipelines.sql.state_codec import decode_value, encode_value

if TYPE_CHECKING:
    from datasketch import HyperLogLogPlusPlus

__all__ = [
    "COUNT_DISTINCT_COLUMNS",
    "CountDistinctItems",
    "EXACT_DISTINCT_LIMIT",
    "HLL_PRECISION",
    "HLL_STANDARD_ERROR",
    "TOP_K_COLUMNS",
    "TOP_K_MAX",
    "TopKItems",
]

#: Output columns of ``TOP_K_ITEMS_TUMBLING``, in order (KDA developer guide, "Most
#: Frequently Occurring Values": ``ITEM VARCHAR(1024), ITEM_COUNT DOUBLE``, plus ROWTIME).
TOP_K_COLUMNS = ("ITEM", "ITEM_COUNT")
#: Output column of ``COUNT_DISTINCT_ITEMS_TUMBLING`` (``NUMBER_OF_DISTINCT_ITEMS BIGINT``).
COUNT_DISTINCT_COLUMNS = ("NUMBER_OF_DISTINCT_ITEMS",)
#: KDA's limit on K (top-k.html: 1 ≤ K ≤ 100,000).
TOP_K_MAX = 100_000
EXACT_DISTINCT_LIMIT = 10_000
HLL_PRECISION = 14
HLL_STANDARD_ERROR = 1.04 / (2**HLL_PRECISION) ** 0.5


def _item_bytes(item: Any) -> bytes:
    """A stable byte form of an item (type-tagged, so '1' and 1 differ)."""
    return orjson.dumps(encode_value(item) if type(item) is not str else ["S", item])


def _order(item: Any) -> tuple[str, Any]:
    """A sort key that orders items of one column (and never compares two types)."""
    return (type(item).__name__, item)


def _hash64(data: bytes) -> int:
    """64-bit hash for HyperLogLog++: the first 8 bytes of SHA-1, as datasketch's default."""
    return int(struct.unpack("<Q", hashlib.sha1(data).digest()[:8])[0])



def _hll_class() -> type[HyperLogLogPlusPlus]:
    """``datasketch``'s HyperLogLog++, imported when a count first outgrows its exact set:
    the import (scipy with it) costs about half a second of every SQL worker's start."""
    from datasketch import HyperLogLogPlusPlus

    return HyperLogLogPlusPlus

class CountDistinctItems:
    """Distinct count of a window's items: exact to 10,000 distinct, then HyperLogLog++."""

    __slots__ = ("_exact", "_hll")

    def __init__(self) -> None:
        self._exact: set[Any] | None = set()
        self._hll: HyperLogLogPlusPlus | None = None

    def add(self, item: Any) -> None:
        if item is None:
            return
        exact = self._exact
        if exact is not None:
            exact.add(item)
            if len(exact) > EXACT_DISTINCT_LIMIT:
                self._to_sketch()
            return
        assert self._hll is not None
        self._hll.update(_item_bytes(item))

    def _to_sketch(self) -> None:
        hll = _hll_class()(p=HLL_PRECISION, hashfunc=_hash64)
        assert self._exact is not None
        for item in self._exact:
            hll.update(_item_bytes(item))
        self._hll, self._exact = hll, None

    @property
    def is_exact(self) -> bool:
        return self._exact is not None

    def merge(self, other: CountDistinctItems) -> None:
        """Make this the distinct count of both windows' items (the two phases of a global
        window): exact while their union has at most 10,000 items, then the union of the
        HyperLogLog++ sketches (the maximum of each register)."""
        if other._exact is not None:
            for item in other._exact:
                self.add(item)
            return
        assert other._hll is not None
        if self._exact is not None:
            self._to_sketch()
        assert self._hll is not None
        self._hll.merge(other._hll)

    def result(self) -> int:
        if self._exact is not None:
            return len(self._exact)
        assert self._hll is not None
        return round(self._hll.count())

    def state(self) -> Any:
        if self._exact is not None:
            return {"exact": [encode_value(v) for v in self._exact]}
        assert self._hll is not None
        registers = np.asarray(self._hll.reg, dtype=np.int8).tobytes()
        return {"p": HLL_PRECISION, "registers": base64.b64encode(registers).decode("ascii")}

    @classmethod
    def restore(cls, state: Any) -> CountDistinctItems:
        acc = cls()
        if "exact" in state:
            acc._exact = {decode_value(v) for v in state["exact"]}
            return acc
        registers = np.frombuffer(base64.b64decode(state["registers"]), dtype=np.int8).copy()
        acc._hll = _hll_class()(p=state["p"], reg=registers, hashfunc=_hash64)
        acc._exact = None
        return acc


class TopKItems:
    """The ``k`` most frequent items of a window with their counts (exact, then Space-Saving)."""

    __slots__ = ("k", "capacity", "n", "counts", "errors", "buckets", "min_count")

    def __init__(self, k: int, capacity: int | None = None) -> None:
        if not 1 <= k <= TOP_K_MAX:
            raise ValueError(f"K must be between 1 and {TOP_K_MAX}, got {k}")
        self.k = k
        self.capacity = max(10 * k, EXACT_DISTINCT_LIMIT) if capacity is None else capacity
        if self.capacity < k:
            raise ValueError(f"capacity {self.capacity} is below K = {k}")
        self.n = 0
        self.counts: dict[Any, int] = {}
        self.errors: dict[Any, int] | None = None  # None while exact
        # Space-Saving only: count → items with that count, oldest first; the smallest count
        self.buckets: dict[int, dict[Any, None]] = {}
        self.min_count = 0

    @property
    def is_exact(self) -> bool:
        return self.errors is None

    def add(self, item: Any) -> None:
        if item is None:
            return
        self.n += 1
        counts = self.counts
        c = counts.get(item)
        if self.errors is None:
            if c is not None:
                counts[item] = c + 1
                return
            if len(counts) < self.capacity:
                counts[item] = 1
                return
            self._to_space_saving()
        if c is not None:
            self._move(item, c)
            counts[item] = c + 1
            return
        # replace the oldest item with the smallest count
        low = self.min_count
        bucket = self.buckets[low]
        victim = next(iter(bucket))
        del bucket[victim]
        del counts[victim]
        assert self.errors is not None
        del self.errors[victim]
        counts[item] = low
        self.errors[item] = low
        bucket[item] = None
        self._move(item, low)
        counts[item] = low + 1

    def _move(self, item: Any, c: int) -> None:
        """Move ``item`` from the bucket of count ``c`` to ``c + 1``."""
        buckets = self.buckets
        bucket = buckets[c]
        del bucket[item]
        if not bucket:
            del buckets[c]
            if c == self.min_count:
                self.min_count = c + 1  # the item just moved there, so that bucket exists
        nxt = buckets.get(c + 1)
        if nxt is None:
            buckets[c + 1] = {item: None}
        else:
            nxt[item] = None

    def _to_space_saving(self) -> None:
        self.errors = dict.fromkeys(self.counts, 0)
        self._rebuild_buckets()

    def _rebuild_buckets(self) -> None:
        buckets: dict[int, dict[Any, None]] = {}
        for item, c in self.counts.items():
            buckets.setdefault(c, {})[item] = None
        self.buckets = buckets
        self.min_count = min(buckets) if buckets else 0

    def merge(self, other: TopKItems) -> None:
        """Make this the summary of both windows' items (the two phases of a global window).

        Exact counts add while the union has at most ``capacity`` items. Otherwise the two
        are merged as Space-Saving summaries (Agarwal et al., "Mergeable Summaries", 2012): an
        item one side does not hold gets that side's smallest counter as its count and its
        error (0 for an exact side), the counts add, and the ``capacity`` largest are kept;
        a count still overestimates by at most the sum of both bounds, ≤ N / capacity."""
        counts = self.counts
        if self.errors is None and other.errors is None:
            union = len(counts) + sum(1 for item in other.counts if item not in counts)
            if union <= self.capacity:
                for item, c in other.counts.items():
                    counts[item] = counts.get(item, 0) + c
                self.n += other.n
                return
        own_floor, other_floor = self.max_overestimate(), other.max_overestimate()
        own_errors, other_errors = self.errors or {}, other.errors or {}
        merged: dict[Any, tuple[int, int]] = {}
        for item in {**counts, **other.counts}:
            a, b = counts.get(item), other.counts.get(item)
            count_a = own_floor if a is None else a
            error_a = own_floor if a is None else own_errors.get(item, 0)
            count_b = other_floor if b is None else b
            error_b = other_floor if b is None else other_errors.get(item, 0)
            merged[item] = (count_a + count_b, error_a + error_b)
        kept = sorted(merged.items(), key=lambda kv: (-kv[1][0], _order(kv[0])))[: self.capacity]
        self.n += other.n
        self.counts = {item: c for item, (c, _) in kept}
        self.errors = {item: e for item, (_, e) in kept}
        self._rebuild_buckets()

    def max_overestimate(self) -> int:
        """Upper bound of ``reported − true`` for any item (0 while exact)."""
        return 0 if self.errors is None else self.min_count

    def result(self) -> list[tuple[Any, int]]:
        """``[(item, count), …]``: at most ``k`` items, count descending, then item ascending."""
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[: self.k]

    def state(self) -> Any:
        errors = self.errors
        if errors is None:
            items = [[encode_value(item), c, None] for item, c in self.counts.items()]
        else:  # bucket order, so a restored sketch evicts the same items
            items = [
                [encode_value(item), c, errors[item]]
                for c in sorted(self.buckets)
                for item in self.buckets[c]
            ]
        return {"k": self.k, "capacity": self.capacity, "n": self.n, "items": items}

    @classmethod
    def restore(cls, state: Any) -> TopKItems:
        acc = cls(state["k"], state["capacity"])
        acc.n = state["n"]
        items = [(decode_value(v), c, e) for v, c, e in state["items"]]
        acc.counts = {item: c for item, c, _ in items}
        if items and items[0][2] is not None:
            acc.errors = {item: e for item, _, e in items}
            acc._rebuild_buckets()
        return acc
