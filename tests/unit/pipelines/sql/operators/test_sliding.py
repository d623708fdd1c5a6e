"""Sliding (OVER) windows with RANGE, MIN/MAX/AVG/COUNT and LAG, against DuckDB."""

from __future__ import annotations

import math

from tests.unit.pipelines.sql.corpus import SLIDING, input_table, run, ticker_records

RECORDS = ticker_records(6000)


def test_sliding_range_window_equals_duckdb() -> None:
    streams, failures = run(SLIDING, RECORDS, batch_size=333)
    assert failures == []
    con = input_table(RECORDS)
    expected = con.execute(
        """SELECT ticker, price,
             min(price) OVER w, max(price) OVER w, avg(price) OVER w, count(*) OVER w,
             -- LAG looks back within the window: NULL once the previous row left the range
             CASE WHEN lag(rowtime, 1) OVER p >= rowtime - 10000 THEN lag(price, 1) OVER p END
           FROM s
           WINDOW w AS (PARTITION BY ticker ORDER BY rowtime
                        RANGE BETWEEN 10000 PRECEDING AND CURRENT ROW),
                  p AS (PARTITION BY ticker ORDER BY seq)
           ORDER BY seq"""
    ).fetchall()
    got = streams["DESTINATION_SQL_STREAM"]
    assert len(got) == len(expected) == len(RECORDS)
    # DuckDB's RANGE frame includes peers with the same ROWTIME that arrive later; a stream
    # cannot see the future, so compare only rows whose ROWTIME is unique within the ticker.
    con.execute("CREATE TABLE dup AS SELECT ticker, rowtime, count(*) c FROM s GROUP BY ALL")
    unique = [
        r[0]
        for r in con.execute(
            "SELECT s.seq FROM s JOIN dup USING (ticker, rowtime) WHERE c = 1 ORDER BY seq"
        ).fetchall()
    ]
    assert len(unique) > len(RECORDS) * 0.8
    for seq in unique:
        g, e = got[seq], expected[seq]
        assert g[1:3] == e[0:2]
        assert math.isclose(g[3], e[2]) and math.isclose(g[4], e[3])
        assert math.isclose(g[5], e[4], rel_tol=1e-9) and g[6] == e[5]
        assert (g[7] is None and e[6] is None) or math.isclose(g[7], e[6])


WINDOW_FUNCTIONS = """
CREATE OR REPLACE STREAM "D" (
    t VARCHAR(4), p REAL, lag2 REAL, lagd REAL, lagi REAL, nth2 REAL, nthl REAL, fv REAL,
    up BOOLEAN, allup BOOLEAN);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
SELECT STREAM ticker_symbol, price,
       LAG(CASE WHEN change > 0 THEN price END, 2) OVER W,
       LAG(price, 3, -1) OVER W,
       LAG(CASE WHEN change > 0 THEN price END, 1) IGNORE NULLS OVER W,
       NTH_VALUE(CASE WHEN change > 0 THEN price END, 2) OVER W,
       NTH_VALUE(price, 2) FROM LAST OVER W,
       FIRST_VALUE(CASE WHEN change > 0 THEN price END) OVER W,
       ANY(change > 1.005) OVER W,
       EVERY(change > -1.955) OVER W
FROM "SOURCE_SQL_STREAM_001"
WINDOW W AS (PARTITION BY ticker_symbol ROWS 4 PRECEDING);
"""


def test_window_functions_over_rows_equal_duckdb() -> None:
    # sql-reference-lag.html (default, IGNORE NULLS), -nth-value.html (FROM LAST),
    # -first-value.html (RESPECT NULLS: a NULL first row is the result), -any.html, -every.html
    records = RECORDS[:3000]
    streams, failures = run(WINDOW_FUNCTIONS, records, batch_size=271)
    assert failures == []
    con = input_table(records)
    expected = con.execute(
        """SELECT ticker, price,
             lag(x, 2) OVER p, lag(price, 3, -1) OVER p,
             last_value(x IGNORE NULLS) OVER (PARTITION BY ticker ORDER BY seq
                                              ROWS BETWEEN 4 PRECEDING AND 1 PRECEDING),
             nth_value(x, 2) OVER w, lag(price, 1) OVER p, first_value(x) OVER w,
             bool_or(change > 1.005) OVER w, bool_and(change > -1.955) OVER w
           FROM (SELECT *, CASE WHEN change > 0 THEN price END AS x FROM s)
           WINDOW w AS (PARTITION BY ticker ORDER BY seq ROWS BETWEEN 4 PRECEDING AND CURRENT ROW),
                  p AS (PARTITION BY ticker ORDER BY seq)
           ORDER BY seq"""
    ).fetchall()
    got = [r[1:] for r in streams["D"]]
    assert len(got) == len(expected) == len(records)
    for g, e in zip(got, expected, strict=True):
        assert g[0] == e[0]
        for ours, want in zip(g[1:8], e[1:8], strict=True):
            assert (ours is None and want is None) or math.isclose(ours, want, rel_tol=1e-6)
        assert tuple(g[8:]) == tuple(e[8:])
    assert any(r[5] is None for r in got) and any(r[7] is None for r in got)  # NULLs met


def test_exp_avg_over_a_range_window() -> None:
    # sql-reference-exp-avg.html: the example query, on the ticker stream
    code = """
    CREATE OR REPLACE STREAM "D" (t VARCHAR(4), p REAL, avg_price DOUBLE);
    CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
    select stream ticker_symbol, price,
    exp_avg(price, INTERVAL '10' SECOND) over w as avgPrice
    from "SOURCE_SQL_STREAM_001"
    window w as (partition by ticker_symbol range interval '30' second preceding);
    """
    records = RECORDS[:2000]
    streams, failures = run(code, records)
    assert failures == []
    rows = streams["D"]
    seen: dict[str, list[tuple[int, float]]] = {}
    assert len(rows) == len(records)
    for row in rows:
        rowtime, ticker, price, average = int(row[0]), row[1], row[2], row[3]
        history = seen.setdefault(ticker, [])
        history.append((rowtime, price))
        window = [(t, p) for t, p in history if t >= rowtime - 30_000]
        weights = [0.5 ** ((rowtime - t) // 10_000) for t, _ in window]
        want = sum(w * p for w, (_, p) in zip(weights, window, strict=True)) / sum(weights)
        assert math.isclose(average, want, rel_tol=1e-9), (ticker, rowtime)
