"""Tumbling windows on ROWTIME and on event time (with lateness), against DuckDB."""

from __future__ import annotations

import pytest

from tests.duckdb_oracles import judge_lateness
from tests.unit.pipelines.sql.corpus import (
    TUMBLING_EVENT_TIME,
    TUMBLING_ROWTIME,
    assert_rows_close,
    input_table,
    run,
    ticker_records,
)

RECORDS = ticker_records(6000)


@pytest.mark.parametrize("batch_size", [1, 97, 5000])
def test_tumbling_on_rowtime_equals_duckdb(batch_size: int) -> None:
    streams, failures = run(TUMBLING_ROWTIME, RECORDS, batch_size=batch_size)
    assert failures == []
    got = streams["DESTINATION_SQL_STREAM"]
    con = input_table(RECORDS)
    # ROWTIME in the SELECT list is the time of the row being made: the window's end
    expected = con.execute(
        "SELECT rowtime - rowtime % 60000 + 60000 AS t, t, ticker, min(price), max(price), "
        "count(*), avg(price) FROM s WHERE change > -1.5 GROUP BY ALL"
    ).fetchall()
    assert_rows_close(got, expected)
    assert len(got) > 100


@pytest.mark.parametrize("batch_size", [1, 250])
def test_tumbling_on_event_time_with_lateness_equals_duckdb(batch_size: int) -> None:
    lateness = 5000
    streams, failures = run(TUMBLING_EVENT_TIME, RECORDS, lateness=lateness, batch_size=batch_size)
    con = input_table(RECORDS)
    # A row is late when its window ended at or before the watermark its predecessors built:
    # max(event time so far) - allowed lateness.
    judge_lateness(con, window_ms=60_000, lateness_ms=lateness, per_partition=False)
    expected = con.execute(
        "SELECT ticker, ws, count(*), sum(price), stddev_pop(price) FROM judged "
        "WHERE wm IS NULL OR ws + 60000 > wm GROUP BY ALL"
    ).fetchall()
    late = con.execute("SELECT count(*) FROM judged WHERE ws + 60000 <= wm").fetchone()[0]
    rows = streams["DESTINATION_SQL_STREAM"]
    assert_rows_close([r[1:] for r in rows], expected)
    assert late > 10
    assert [f.name for f in failures] == ["Late_Row"] * late
    # each (window, ticker) exactly once, keyed deterministically
    keys = [r.key for r in rows]
    assert len(keys) == len(set(keys))


BOOLEAN_AND_FIRST = """
CREATE OR REPLACE STREAM "D" (
    t TIMESTAMP, ticker_symbol VARCHAR(4), up BOOLEAN, all_up BOOLEAN, first_up REAL,
    last_up REAL, n BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
SELECT STREAM ROWTIME, ticker_symbol, ANY(change > 1.505), EVERY(change > -1.505),
       FIRST_VALUE(CASE WHEN change > 0 THEN price END),
       LAST_VALUE(CASE WHEN change > 0 THEN price END), COUNT(*)
FROM "SOURCE_SQL_STREAM_001"
GROUP BY ticker_symbol, MONOTONIC(FLOOR(ROWTIME TO MINUTE));
"""


@pytest.mark.parametrize("batch_size", [1, 400])
def test_any_every_and_first_value_respect_nulls_equal_duckdb(batch_size: int) -> None:
    # sql-reference-any.html, -every.html; FIRST_VALUE/LAST_VALUE RESPECT NULLS by default
    # (sql-reference-first-value.html): a NULL first row is the result. MONOTONIC(x) declares
    # x monotonic (sql-reference-monotonic.html) and is x.
    streams, failures = run(BOOLEAN_AND_FIRST, RECORDS, batch_size=batch_size)
    assert failures == []
    con = input_table(RECORDS)
    # (the selected ROWTIME is the result's: the window's end)
    expected = con.execute(
        "SELECT rowtime - rowtime % 60000 + 60000 AS e, e, ticker, bool_or(change > 1.505), "
        "bool_and(change > -1.505), first(x ORDER BY seq), last(x ORDER BY seq), count(*) "
        "FROM (SELECT *, CASE WHEN change > 0 THEN price END AS x FROM s) GROUP BY ALL"
    ).fetchall()
    got = streams["D"]
    assert_rows_close(got, expected)
    assert any(r[5] is None for r in got) and any(r[5] is not None for r in got)
    assert {r[3] for r in got} == {True, False}
