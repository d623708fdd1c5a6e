"""KDA applications run by the engine over seeded, disordered ticker data, each compared row
for row with an independent DuckDB computation of the same query over the same input."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import duckdb
import pytest

from pipelines.sql.engine import run_rows
from pipelines.sql.plan import plan_application
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.corpus import TICKER_COLUMNS, ticker_records

INPUTS = {"SOURCE_SQL_STREAM_001": TICKER_COLUMNS}


def _input_table(records: list[tuple[int, tuple[Any, ...]]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE src (seq BIGINT, ts BIGINT, ticker VARCHAR, sector VARCHAR, "
        "change DOUBLE, price DOUBLE, event_ms BIGINT)"
    )
    con.executemany(
        "INSERT INTO src VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(i, ts, *v[:4], int(v[4])) for i, (ts, v) in enumerate(records)],
    )
    # ROWTIME: the running maximum of the Kafka timestamps in arrival order.
    con.execute(
        "CREATE TABLE s AS SELECT *, max(ts) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) "
        "AS rowtime FROM src"
    )
    return con


def _norm(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    return int(value) if isinstance(value, Timestamp) else value


def _rows(rows: list[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(_norm(v) for v in row) for row in rows)


def _assert_rows_close(got: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    """Same multiset of rows: exact for everything but floats (relative 1e-9)."""

    def exact_part(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(None if isinstance(v, float) else _norm(v) for v in row)

    got_sorted = sorted(got, key=lambda r: repr(exact_part(r)))
    want_sorted = sorted(expected, key=lambda r: repr(exact_part(r)))
    assert len(got_sorted) == len(want_sorted)
    for g, w in zip(got_sorted, want_sorted, strict=True):
        assert exact_part(g) == exact_part(w), (g, w)
        for a, b in zip(g, w, strict=True):
            if isinstance(a, float) or isinstance(b, float):
                assert math.isclose(a, b, rel_tol=1e-9), (g, w)


def _run(code: str, records, *, lateness: int = 0, batch_size: int = 500):
    plan = plan_application(code, application="corpus", inputs=INPUTS, allowed_lateness_ms=lateness)
    return run_rows(plan, records, batch_size=batch_size, allowed_lateness_ms=lateness)


RECORDS = ticker_records(6000)

TUMBLING_ROWTIME = """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4), min_price REAL, max_price REAL, n BIGINT, avg_price DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ROWTIME, Ticker_Symbol, MIN(Price) AS min_price, MAX(Price) AS max_price,
       COUNT(*) AS n, AVG(price) AS avg_price
FROM "SOURCE_SQL_STREAM_001"
WHERE change > -1.5
GROUP BY Ticker_Symbol, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '60' SECOND);
"""


@pytest.mark.parametrize("batch_size", [1, 97, 5000])
def test_tumbling_on_rowtime_equals_duckdb(batch_size: int) -> None:
    streams, failures = _run(TUMBLING_ROWTIME, RECORDS, batch_size=batch_size)
    assert failures == []
    got = streams["DESTINATION_SQL_STREAM"]
    con = _input_table(RECORDS)
    expected = con.execute(
        "SELECT rowtime - rowtime % 60000 + 60000, ticker, min(price), max(price), count(*), "
        "avg(price) FROM s WHERE change > -1.5 GROUP BY ALL"
    ).fetchall()
    _assert_rows_close(got, expected)
    assert len(got) > 100


TUMBLING_EVENT_TIME = """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4), window_start TIMESTAMP, n BIGINT, total REAL, sd DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, STEP(event_time BY INTERVAL '60' SECOND), COUNT(*), SUM(price),
       STDDEV_POP(price)
FROM "SOURCE_SQL_STREAM_001"
GROUP BY ticker_symbol, STEP(event_time BY INTERVAL '60' SECOND);
"""


@pytest.mark.parametrize("batch_size", [1, 250])
def test_tumbling_on_event_time_with_lateness_equals_duckdb(batch_size: int) -> None:
    lateness = 5000
    streams, failures = _run(TUMBLING_EVENT_TIME, RECORDS, lateness=lateness, batch_size=batch_size)
    con = _input_table(RECORDS)
    # A row is late when its window ended at or before the watermark its predecessors built:
    # max(event time so far) - allowed lateness.
    con.execute(
        f"""CREATE TABLE judged AS SELECT *, event_ms - event_ms % 60000 AS ws,
            max(event_ms) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
              - {lateness} AS wm FROM s"""
    )
    expected = con.execute(
        "SELECT ticker, ws, count(*), sum(price), stddev_pop(price) FROM judged "
        "WHERE wm IS NULL OR ws + 60000 > wm GROUP BY ALL"
    ).fetchall()
    late = con.execute("SELECT count(*) FROM judged WHERE ws + 60000 <= wm").fetchone()[0]
    rows = streams["DESTINATION_SQL_STREAM"]
    _assert_rows_close([r[1:] for r in rows], expected)
    assert late > 10
    assert [f.name for f in failures] == ["Late_Row"] * late
    # each (window, ticker) exactly once, keyed deterministically
    keys = [r.key for r in rows]
    assert len(keys) == len(set(keys))


SLIDING = """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4), price REAL, min_price REAL, max_price REAL, avg_price DOUBLE,
    n BIGINT, prev_price REAL);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, price,
       MIN(Price) OVER W1, MAX(Price) OVER W1, AVG(Price) OVER W1, COUNT(*) OVER W1,
       LAG(price, 1) OVER W1
FROM "SOURCE_SQL_STREAM_001"
WINDOW W1 AS (PARTITION BY ticker_symbol RANGE INTERVAL '10' SECOND PRECEDING);
"""


def test_sliding_range_window_equals_duckdb() -> None:
    streams, failures = _run(SLIDING, RECORDS, batch_size=333)
    assert failures == []
    con = _input_table(RECORDS)
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


STAGGER = """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4), event_minute TIMESTAMP, ticker_count BIGINT);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM TICKER_SYMBOL, FLOOR(EVENT_TIME TO MINUTE), COUNT(*) AS TICKER_COUNT
FROM "SOURCE_SQL_STREAM_001"
WINDOWED BY STAGGER (
    PARTITION BY FLOOR(EVENT_TIME TO MINUTE), TICKER_SYMBOL RANGE INTERVAL '1' MINUTE);
"""


def test_stagger_window_equals_duckdb() -> None:
    streams, failures = _run(STAGGER, RECORDS, batch_size=101)
    assert failures == []
    con = _input_table(RECORDS)
    # Windows per (minute, ticker): opened by the first row at t0, covering [t0, t0 + 60 s);
    # a row at or after t0 + 60 s opens the next window of that key. Computed recursively.
    rows = con.execute(
        "SELECT ticker, event_ms - event_ms % 60000, rowtime FROM s ORDER BY seq"
    ).fetchall()
    open_at: dict[tuple[str, int], int] = {}
    counts: Counter[tuple[str, int, int]] = Counter()
    for ticker, minute, rowtime in rows:
        key = (ticker, minute)
        if key not in open_at or rowtime >= open_at[key] + 60_000:
            open_at[key] = rowtime
        counts[(ticker, minute, open_at[key])] += 1
    expected = Counter((t, m, n) for (t, m, _), n in counts.items())
    got = Counter((r[1], int(r[2]), r[3]) for r in streams["DESTINATION_SQL_STREAM"])
    assert got == expected
    assert len(got) > 100


TOP_K = """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ITEM VARCHAR(4), ITEM_COUNT BIGINT);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM * FROM TABLE(TOP_K_ITEMS_TUMBLING(
    CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 'TICKER_SYMBOL', 3, 60));
CREATE OR REPLACE STREAM "DISTINCT_STREAM" (N BIGINT);
CREATE OR REPLACE PUMP "DISTINCT_PUMP" AS INSERT INTO "DISTINCT_STREAM"
SELECT STREAM * FROM TABLE(COUNT_DISTINCT_ITEMS_TUMBLING(
    CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001" WHERE price > 100), 'TICKER_SYMBOL', 60));
"""


def test_top_k_and_count_distinct_equal_duckdb() -> None:
    streams, failures = _run(TOP_K, RECORDS)
    assert failures == []
    con = _input_table(RECORDS)
    counts = con.execute(
        "SELECT rowtime - rowtime % 60000 + 60000 AS w, ticker, count(*) AS c FROM s "
        "GROUP BY ALL ORDER BY w, c DESC, ticker"
    ).fetchall()
    expected_top: list[tuple[Any, ...]] = []
    per_window: dict[int, list[tuple[str, int]]] = {}
    for w, ticker, c in counts:
        per_window.setdefault(w, []).append((ticker, c))
    for w in sorted(per_window):
        expected_top.extend((w, t, c) for t, c in per_window[w][:3])
    got_top = [(int(r[0]), r[1], r[2]) for r in streams["DESTINATION_SQL_STREAM"]]
    assert got_top == expected_top
    distinct = con.execute(
        "SELECT rowtime - rowtime % 60000 + 60000 AS w, count(DISTINCT ticker) FROM s "
        "GROUP BY ALL ORDER BY w"
    ).fetchall()
    # windows where no row passed the WHERE still close with a count of 0
    with_price = dict(
        con.execute(
            "SELECT rowtime - rowtime % 60000 + 60000, count(DISTINCT ticker) FILTER (price > 100) "
            "FROM s GROUP BY ALL"
        ).fetchall()
    )
    got_distinct = {int(r[0]): r[1] for r in streams["DISTINCT_STREAM"]}
    assert got_distinct == {w: n for w, n in with_price.items() if n} | {
        w: 0 for w, n in with_price.items() if not n and w in got_distinct
    }
    assert len(distinct) > 3


CHAIN_AND_JOIN = """
CREATE OR REPLACE STREAM "BUYS" (ticker VARCHAR(4), price REAL, label VARCHAR(32));
CREATE OR REPLACE STREAM "SELLS" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker VARCHAR(4), label VARCHAR(32), buy_price REAL, sell_price REAL);
CREATE OR REPLACE PUMP "BUY_PUMP" AS INSERT INTO "BUYS"
SELECT STREAM ticker_symbol, price,
       LOWER(SUBSTRING(sector FROM 1 FOR 3)) || '-' ||
       CASE WHEN price >= 100 THEN 'HIGH' ELSE 'LOW' END
FROM "SOURCE_SQL_STREAM_001" WHERE change > 0;
CREATE OR REPLACE PUMP "SELL_PUMP" AS INSERT INTO "SELLS"
SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001" WHERE change <= 0;
CREATE OR REPLACE PUMP "JOIN_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM b.ticker, b.label, b.price, s.price
FROM "BUYS" AS b
LEFT JOIN "SELLS" OVER (RANGE INTERVAL '2' SECOND PRECEDING) AS s
  ON b.ticker = s.ticker;
"""


def test_pump_chain_and_stream_join_equal_duckdb() -> None:
    streams, failures = _run(CHAIN_AND_JOIN, RECORDS, batch_size=211)
    assert failures == []
    con = _input_table(RECORDS)
    con.execute(
        "CREATE TABLE buys AS SELECT seq, rowtime, ticker, price, lower(substring(sector, 1, 3)) "
        "|| '-' || CASE WHEN price >= 100 THEN 'HIGH' ELSE 'LOW' END AS label "
        "FROM s WHERE change > 0"
    )
    con.execute("CREATE TABLE sells AS SELECT rowtime, ticker, price FROM s WHERE change <= 0")
    expected = con.execute(
        "SELECT b.ticker, b.label, b.price, x.price FROM buys b LEFT JOIN sells x "
        "ON b.ticker = x.ticker AND x.rowtime BETWEEN b.rowtime - 2000 AND b.rowtime"
    ).fetchall()
    buys = con.execute("SELECT ticker, price, label FROM buys ORDER BY seq").fetchall()
    got_buys = [(r[1], r[2], r[3]) for r in streams["BUYS"]]
    assert [(t, round(p, 4), lbl) for t, p, lbl in got_buys] == [
        (t, round(p, 4), lbl) for t, p, lbl in buys
    ]
    got = [r[1:] for r in streams["DESTINATION_SQL_STREAM"]]
    assert _rows(got) == _rows(expected)
    assert sum(1 for r in got if r[3] is not None) > 100
    assert sum(1 for r in got if r[3] is None) > 10
