"""pipelines/sql/window_functions.py: LAG, NTH_VALUE and EXP_AVG over a window's rows, checked
against DuckDB's window functions (LAG, NTH_VALUE with and without IGNORE NULLS) and against a
direct recomputation of the reference page's weighting (EXP_AVG)."""

from __future__ import annotations

import random
from typing import Any

import duckdb
import pytest

from ground.errors import RowError
from pipelines.sql.window_functions import ExpAvg, Lag, NthValue

N = 300


def _values(seed: int) -> list[int | None]:
    r = random.Random(seed)
    return [None if r.random() < 0.25 else r.randint(-50, 50) for _ in range(N)]


def _rows(values: list[Any], upto: int, times: list[int] | None = None) -> list[Any]:
    """The window of an unbounded frame ending at row ``upto`` (inclusive)."""
    return [(times[i] if times else i, 0, (v,)) for i, v in enumerate(values[: upto + 1])]


def _duck(values: list[Any], expr: str) -> list[Any]:
    con = duckdb.connect()
    sql = (
        f"SELECT {expr} OVER (ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) "
        "FROM (SELECT unnest(?::INTEGER[]) AS x, unnest(range(?)) AS i) ORDER BY i"
    )
    return [r[0] for r in con.execute(sql, [values, len(values)]).fetchall()]


@pytest.mark.parametrize("offset", [1, 2, 5])
def test_lag_matches_duckdb(offset: int) -> None:
    values = _values(offset)
    lag = Lag(offset, default=lambda row: -1)
    ours = [lag.evaluate(_rows(values, i), 0, ()) for i in range(N)]
    assert ours == _duck(values, f"lag(x, {offset}, -1)")


@pytest.mark.parametrize("offset", [1, 3])
def test_lag_ignore_nulls_matches_duckdb(offset: int) -> None:
    values = _values(10 + offset)
    lag = Lag(offset, ignore_nulls=True)
    ours = [lag.evaluate(_rows(values, i), 0, ()) for i in range(N)]
    assert ours == _duck(values, f"lag(x, {offset} IGNORE NULLS)")


def test_lag_default_is_for_a_missing_row_not_a_null_value() -> None:
    # sql-reference-lag.html: "defaultExpr doesn't replace actual null values"
    lag = Lag(1, default=lambda row: row[0] * 10)
    rows = [(0, 0, (None,)), (1, 0, (7,))]
    assert lag.evaluate(rows, 0, (3,)) is None
    assert lag.evaluate(rows[:1], 0, (3,)) == 30  # no row before: the default, on the current row


@pytest.mark.parametrize("n", [1, 2, 4])
def test_nth_value_matches_duckdb(n: int) -> None:
    values = _values(20 + n)
    ours = [NthValue(n).evaluate(_rows(values, i), 0, ()) for i in range(N)]
    assert ours == _duck(values, f"nth_value(x, {n})")
    ignoring = [NthValue(n, ignore_nulls=True).evaluate(_rows(values, i), 0, ()) for i in range(N)]
    assert ignoring == _duck(values, f"nth_value(x, {n} IGNORE NULLS)")


def test_nth_value_from_last_counts_back_from_the_current_row() -> None:
    values = _values(30)
    for i in range(N):
        window = values[: i + 1]
        for n in (1, 2, 3):
            want = window[-n] if len(window) >= n else None
            assert NthValue(n, from_last=True).evaluate(_rows(values, i), 0, ()) == want
            present = [v for v in window if v is not None]
            want = present[-n] if len(present) >= n else None
            got = NthValue(n, from_last=True, ignore_nulls=True).evaluate(_rows(values, i), 0, ())
            assert got == want


def test_exp_avg_weights_halve_per_interval() -> None:
    # sql-reference-exp-avg.html: a 10-second interval over a 30-second window; the latest 10
    # seconds weigh twice the middle 10 and four times the oldest.
    rows = [(0, 0, (4.0,)), (12_000, 0, (2.0,)), (25_000, 0, (1.0,)), (29_000, 0, (None,))]
    # ages at 29 s: 29 s → 2 intervals back (¼), 17 s → 1 (½), 4 s → 0 (1)
    want = (4.0 * 0.25 + 2.0 * 0.5 + 1.0 * 1) / (0.25 + 0.5 + 1)
    assert ExpAvg(10_000).evaluate(rows, 0, ()) == pytest.approx(want, rel=1e-15)


def test_exp_avg_matches_a_direct_recomputation() -> None:
    r = random.Random(5)
    times = sorted(r.randrange(0, 100_000) for _ in range(N))
    values = [None if r.random() < 0.1 else r.uniform(-100, 100) for _ in range(N)]
    f = ExpAvg(7_000)
    for i in range(0, N, 7):
        now = times[i]
        pairs = [
            (t, v) for t, v in zip(times[: i + 1], values[: i + 1], strict=True) if v is not None
        ]
        if not pairs:
            assert f.evaluate(_rows(values, i, times), 0, ()) is None
            continue
        weights = [2.0 ** -((now - t) // 7_000) for t, _ in pairs]
        want = sum(w * v for w, (_, v) in zip(weights, pairs, strict=True)) / sum(weights)
        assert f.evaluate(_rows(values, i, times), 0, ()) == pytest.approx(want, rel=1e-12)


def test_exp_avg_refuses_text() -> None:
    with pytest.raises(RowError):
        ExpAvg(1000).evaluate([(0, 0, ("x",))], 0, ())
