"""Comparing result rows with an oracle's: exact for everything but floats.

Engines and DuckDB may add floating-point numbers in another order, so a float matches within
a relative tolerance; every other value (strings, integers, timestamps as integers, NULL)
must be equal. Failures name a few of the rows that differ, not just a count.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

__all__ = ["assert_same_rows", "assert_same_sequence", "rows_equal"]

Row = Sequence[Any]


def _exact(row: Row) -> tuple[Any, ...]:
    return tuple(None if isinstance(v, float) else v for v in row)


def _close(a: Any, b: Any, rel_tol: float) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-12)
    return bool(a == b)


def rows_equal(got: Row, want: Row, *, rel_tol: float = 1e-9) -> bool:
    if len(got) != len(want):
        return False
    return all(_close(a, b, rel_tol) for a, b in zip(got, want, strict=True))


def assert_same_rows(
    got: Sequence[Row], expected: Sequence[Row], *, rel_tol: float = 1e-9, what: str = "rows"
) -> None:
    """The same multiset of rows (order does not matter)."""
    got_exact = Counter(_exact(r) for r in got)
    want_exact = Counter(_exact(r) for r in expected)
    missing = want_exact - got_exact
    extra = got_exact - want_exact
    assert not (missing or extra), (
        f"{what}: {len(got)} got, {len(expected)} expected; "
        f"{sum(missing.values())} missing, e.g. {sorted(missing, key=repr)[:3]}; "
        f"{sum(extra.values())} unexpected, e.g. {sorted(extra, key=repr)[:3]}"
    )

    def order(r: Row) -> tuple[str, tuple[float, ...]]:
        return repr(_exact(r)), tuple(v for v in r if isinstance(v, float))

    wrong = [
        (g, w)
        for g, w in zip(sorted(got, key=order), sorted(expected, key=order), strict=True)
        if not rows_equal(g, w, rel_tol=rel_tol)
    ]
    assert not wrong, f"{what}: {len(wrong)} rows differ in a float, e.g. {wrong[:3]}"


def assert_same_sequence(
    got: Sequence[Row], expected: Sequence[Row], *, rel_tol: float = 1e-9, what: str = "rows"
) -> None:
    """The same rows in the same order."""
    first = next(
        (
            i
            for i, (g, w) in enumerate(zip(got, expected, strict=False))
            if not rows_equal(g, w, rel_tol=rel_tol)
        ),
        None,
    )
    assert first is None, (
        f"{what}: row {first} differs: got {got[first]}, expected {expected[first]}"
        if first is not None
        else ""
    )
    assert len(got) == len(expected), f"{what}: {len(got)} got, {len(expected)} expected"
