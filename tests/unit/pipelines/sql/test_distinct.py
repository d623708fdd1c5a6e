"""DISTINCT over windows, against DuckDB: ``SELECT STREAM DISTINCT`` over the results of a
GROUP BY, a stagger window and OVER, and aggregates of distinct values (``AVG(DISTINCT x)``,
``STDDEV_POP(DISTINCT x)`` …) in tumbling, stagger and sliding windows.

KDA's pages: SELECT DISTINCT needs a non-constant monotonic item in the SELECT list and
ignores ROWTIME for duplicates (*SELECT ALL and SELECT DISTINCT*); SUM, AVG, VAR_* and
STDDEV_* take ``[DISTINCT | ALL]`` (their pages); COUNT DISTINCT is the aggregate pages' own
business (see ``docs/sql.md``).
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

import pytest

from tests.unit.pipelines.sql.corpus import (
    assert_rows_close,
    input_table,
    norm,
    run,
    ticker_records,
)

SRC = '"SOURCE_SQL_STREAM_001"'
STEP = f"STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND)"
RECORDS = ticker_records(4000, seed=23)

CODE = f"""
CREATE OR REPLACE STREAM "GROUPED" (ws TIMESTAMP, sector VARCHAR(16), high BOOLEAN);
CREATE OR REPLACE PUMP "GROUPED_PUMP" AS INSERT INTO "GROUPED"
SELECT STREAM DISTINCT {STEP}, sector, MAX(price) > 100
FROM {SRC} GROUP BY ticker_symbol, sector, {STEP};

CREATE OR REPLACE STREAM "BY_ROWTIME" (t TIMESTAMP, sector VARCHAR(16), busy BOOLEAN);
CREATE OR REPLACE PUMP "BY_ROWTIME_PUMP" AS INSERT INTO "BY_ROWTIME"
SELECT STREAM DISTINCT ROWTIME, sector, COUNT(*) > 4
FROM {SRC} GROUP BY ticker_symbol, sector, {STEP}
HAVING MAX(change) > 0;

CREATE OR REPLACE STREAM "STAGGERED" (closed TIMESTAMP, minute TIMESTAMP, busy BOOLEAN);
CREATE OR REPLACE PUMP "STAGGER_PUMP" AS INSERT INTO "STAGGERED"
SELECT STREAM DISTINCT FLOOR(ROWTIME TO MINUTE), FLOOR(event_time TO MINUTE), COUNT(*) > 3
FROM {SRC}
WINDOWED BY STAGGER (
    PARTITION BY FLOOR(event_time TO MINUTE), ticker_symbol RANGE INTERVAL '1' MINUTE);

CREATE OR REPLACE STREAM "SLID" (second TIMESTAMP, sector VARCHAR(16), high BOOLEAN);
CREATE OR REPLACE PUMP "SLID_PUMP" AS INSERT INTO "SLID"
SELECT STREAM DISTINCT FLOOR({SRC}.ROWTIME TO SECOND), sector, MAX(price) OVER W > 100
FROM {SRC} WINDOW W AS (PARTITION BY sector ROWS 5 PRECEDING);

CREATE OR REPLACE STREAM "TUMBLING_AGGS" (sector VARCHAR(16), ws TIMESTAMP, n BIGINT,
    s DOUBLE, a DOUBLE, sd DOUBLE, v DOUBLE, tickers BIGINT);
CREATE OR REPLACE PUMP "TUMBLING_AGGS_PUMP" AS INSERT INTO "TUMBLING_AGGS"
SELECT STREAM sector, {STEP}, COUNT(*), SUM(DISTINCT ROUND(price)), AVG(DISTINCT ROUND(price)),
       STDDEV_POP(DISTINCT ROUND(price)), VAR_SAMP(DISTINCT ROUND(price)),
       COUNT(DISTINCT ticker_symbol)
FROM {SRC} GROUP BY sector, {STEP};

CREATE OR REPLACE STREAM "SLIDING_AGGS" (t VARCHAR(4), p REAL, s DOUBLE, a DOUBLE,
    sd DOUBLE, v DOUBLE);
CREATE OR REPLACE PUMP "SLIDING_AGGS_PUMP" AS INSERT INTO "SLIDING_AGGS"
SELECT STREAM ticker_symbol, price, SUM(DISTINCT ROUND(price)) OVER W,
       AVG(DISTINCT ROUND(price)) OVER W, STDDEV_SAMP(DISTINCT ROUND(price)) OVER W,
       VAR_POP(DISTINCT ROUND(price)) OVER W
FROM {SRC} WINDOW W AS (PARTITION BY sector ROWS 20 PRECEDING);

CREATE OR REPLACE STREAM "STAGGER_AGGS" (ticker VARCHAR(4), minute TIMESTAMP, n BIGINT,
    a DOUBLE, sd DOUBLE);
CREATE OR REPLACE PUMP "STAGGER_AGGS_PUMP" AS INSERT INTO "STAGGER_AGGS"
SELECT STREAM ticker_symbol, FLOOR(event_time TO MINUTE), COUNT(*),
       AVG(DISTINCT ROUND(price)), STDDEV_POP(DISTINCT ROUND(price))
FROM {SRC}
WINDOWED BY STAGGER (
    PARTITION BY FLOOR(event_time TO MINUTE), ticker_symbol RANGE INTERVAL '1' MINUTE);
"""


@pytest.fixture(scope="module", params=[1, 89, 4000], ids=lambda n: f"batch-{n}")
def streams(request: pytest.FixtureRequest) -> dict[str, list[tuple[Any, ...]]]:
    out, failures = run(CODE, RECORDS, batch_size=request.param)
    assert failures == []
    return dict(out)


@pytest.fixture(scope="module")
def duck():
    return input_table(RECORDS)


def _counts(rows: Any) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(norm(v) for v in row) for row in rows)


def test_distinct_over_group_by_keeps_one_of_equal_rows_per_window(streams, duck) -> None:
    """Each window's results are distinct (several tickers of a sector give one row); the
    row's ROWTIME is the window's end."""
    want = duck.execute(
        """SELECT DISTINCT ws + 10000, ws, sector, high FROM (
             SELECT rowtime - rowtime % 10000 AS ws, sector, max(price) > 100 AS high
             FROM s GROUP BY ticker, sector, ws)"""
    ).fetchall()
    got = _counts(streams["GROUPED"])
    assert got == _counts(want)
    assert max(got.values()) == 1
    grouped = duck.execute("SELECT count(DISTINCT (ticker, rowtime - rowtime % 10000)) FROM s")
    assert len(want) < 0.6 * grouped.fetchone()[0]  # the data has duplicates to drop


def test_distinct_on_rowtime_with_having(streams, duck) -> None:
    """``DISTINCT ROWTIME, …``: ROWTIME (the window's end) is the monotonic item; HAVING
    filters before DISTINCT."""
    want = duck.execute(
        """SELECT DISTINCT ws + 10000, ws + 10000, sector, busy FROM (
             SELECT rowtime - rowtime % 10000 AS ws, sector, count(*) > 4 AS busy
             FROM s GROUP BY ticker, sector, ws HAVING max(change) > 0)"""
    ).fetchall()
    assert _counts(streams["BY_ROWTIME"]) == _counts(want)
    assert len(want) > 50


def _stagger_windows(duck) -> list[tuple[str, int, int, list[float]]]:
    """Stagger windows per (minute of event time, ticker): opened by a row at t0, holding
    the rows before t0 + 60 s; a later row opens the next. ``(ticker, minute, close, rounded
    prices)``."""
    rows = duck.execute(
        "SELECT ticker, event_ms - event_ms % 60000, rowtime, round(price) FROM s ORDER BY seq"
    ).fetchall()
    open_at: dict[tuple[str, int], int] = {}
    windows: dict[tuple[str, int, int], list[float]] = {}
    for ticker, minute, rowtime, price in rows:
        key = (ticker, minute)
        if key not in open_at or rowtime >= open_at[key] + 60_000:
            open_at[key] = rowtime
        windows.setdefault((ticker, minute, open_at[key]), []).append(price)
    return [(t, m, start + 60_000, p) for (t, m, start), p in windows.items()]


def test_distinct_over_a_stagger_window(streams, duck) -> None:
    """``DISTINCT FLOOR(ROWTIME TO MINUTE), …``: windows that close in the same minute with
    equal rows give one, at the close (ROWTIME) of the first."""
    windows = sorted(_stagger_windows(duck), key=lambda w: w[2])
    first: dict[tuple[int, int, bool], int] = {}
    for _, minute, close, prices in windows:
        first.setdefault((close - close % 60_000, minute, len(prices) > 3), close)
    want = Counter((close, *row) for row, close in first.items())
    got = _counts(streams["STAGGERED"])
    assert got == want
    assert len(want) < len(windows) / 2


def test_distinct_over_a_sliding_window(streams, duck) -> None:
    want = duck.execute(
        """SELECT DISTINCT rowtime, rowtime - rowtime % 1000, sector, high FROM (
             SELECT rowtime, sector, max(price) OVER (PARTITION BY sector ORDER BY seq
                 ROWS BETWEEN 5 PRECEDING AND CURRENT ROW) > 100 AS high FROM s)"""
    ).fetchall()
    got = streams["SLID"]
    # the first of equal rows of a second comes out, at its own ROWTIME: compare without it
    assert _counts(r[1:] for r in got) == _counts(
        {(second, sector, high) for _, second, sector, high in want}
    )
    assert len(got) < len(RECORDS) / 2


def test_distinct_aggregates_in_tumbling_windows(streams, duck) -> None:
    want = duck.execute(
        """SELECT sector, rowtime - rowtime % 10000 AS ws, count(*),
             sum(DISTINCT round(price)), avg(DISTINCT round(price)),
             stddev_pop(DISTINCT round(price)), var_samp(DISTINCT round(price)),
             count(DISTINCT ticker)
           FROM s GROUP BY ALL"""
    ).fetchall()
    got = [(r[1], int(r[2]), *r[3:]) for r in streams["TUMBLING_AGGS"]]
    assert_rows_close(got, want)
    # duplicates were there to drop
    assert duck.execute(
        "SELECT count(*) FROM (SELECT count(round(price)) - count(DISTINCT round(price)) AS d "
        "FROM s GROUP BY sector, rowtime - rowtime % 10000) WHERE d > 5"
    ).fetchone()[0] > 50


def test_distinct_aggregates_in_sliding_windows(streams, duck) -> None:
    want = duck.execute(
        """SELECT ticker, price, sum(DISTINCT round(price)) OVER w,
             avg(DISTINCT round(price)) OVER w, stddev_samp(DISTINCT round(price)) OVER w,
             var_pop(DISTINCT round(price)) OVER w
           FROM s WINDOW w AS (PARTITION BY sector ORDER BY seq
                               ROWS BETWEEN 20 PRECEDING AND CURRENT ROW)
           ORDER BY seq"""
    ).fetchall()
    got = [r[1:] for r in streams["SLIDING_AGGS"]]
    assert len(got) == len(want) == len(RECORDS)
    for g, w in zip(got, want, strict=True):
        assert_rows_close([g], [w])


def test_distinct_aggregates_in_stagger_windows(streams, duck) -> None:
    want = []
    for ticker, minute, _close, prices in _stagger_windows(duck):
        values = sorted(set(prices))
        want.append((ticker, minute, len(prices), statistics.fmean(values),
                     statistics.pstdev(values)))  # fmt: skip
    got = [(r[1], int(r[2]), *r[3:]) for r in streams["STAGGER_AGGS"]]
    assert_rows_close(got, want)
