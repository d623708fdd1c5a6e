"""Queries planned as several pumps (:mod:`pipelines.sql.compose`) against DuckDB: subqueries
in FROM, UNION ALL, several JOINs, a window over a join, INSERT into some of the columns,
HAVING on a stagger window."""

from __future__ import annotations

import pytest

from ground.errors import SqlPlanError
from pipelines.sql.catalog import StreamColumn, TableInfo
from pipelines.sql.engine import run_rows
from pipelines.sql.plan import plan_application
from pipelines.sql.types import parse_type
from tests.unit.pipelines.sql.corpus import (
    INPUTS,
    QUERIES,
    STAGGER,
    assert_rows_close,
    input_table,
    norm,
    row_counts,
    run,
    ticker_records,
)

RECORDS = ticker_records(3000, seed=5)
NAMES = {f"T{i:02d}": f"Company {i}" for i in range(0, 20, 2)}  # odd tickers: no company
TABLES = {
    "COMPANY": TableInfo(
        "COMPANY",
        (StreamColumn("TICKER", parse_type("VARCHAR(4)")),
         StreamColumn("NAME", parse_type("VARCHAR(16)"))),
        tuple(NAMES.items()),
    ),
    "SIZE": TableInfo(
        "SIZE",
        (StreamColumn("NAME", parse_type("VARCHAR(16)")),
         StreamColumn("EMPLOYEES", parse_type("INTEGER"))),
        tuple((name, 1000 * (i + 1)) for i, name in enumerate(sorted(NAMES.values())[:3])),
    ),
}


def _run(code: str, batch_size: int = 97):
    plan = plan_application(code, application="t", inputs=INPUTS, tables=TABLES)
    streams, failures = run_rows(plan, RECORDS, batch_size=batch_size)
    # (the corpus' QUERIES re-times rows by event time: those out of order are errors)
    assert {f.pump for f in failures} <= {"RETIME_PUMP"}
    return plan, streams


def _duck():
    con = input_table(RECORDS)
    con.execute("CREATE TABLE company (ticker VARCHAR, name VARCHAR)")
    con.executemany("INSERT INTO company VALUES (?, ?)", list(NAMES.items()))
    con.execute("CREATE TABLE size (name VARCHAR, employees INTEGER)")
    con.executemany("INSERT INTO size VALUES (?, ?)", [tuple(r) for r in TABLES["SIZE"].rows])
    return con


def test_throttled_alerts_a_subquery_in_from() -> None:
    """The guide's throttled alerts: a sliding count in a subquery, filtered outside."""
    code = """
    CREATE OR REPLACE STREAM TRIGGER_COUNT_STREAM (
       ticker_symbol VARCHAR(4), change REAL, trigger_count INTEGER);
    CREATE OR REPLACE PUMP trigger_count_pump AS INSERT INTO TRIGGER_COUNT_STREAM
    SELECT STREAM ticker_symbol, change, trigger_count
    FROM (
        SELECT STREAM ticker_symbol, change, COUNT(*) OVER W1 as trigger_count
        FROM "SOURCE_SQL_STREAM_001"
        WINDOW W1 AS (PARTITION BY ticker_symbol RANGE INTERVAL '10' SECOND PRECEDING)
    )
    WHERE trigger_count >= 3;
    """
    plan, streams = _run(code)
    assert [p.kind for p in plan.pumps] == ["sliding", "stateless"]
    expected = _duck().execute(
        # a row's window: its ticker's rows so far, at most 10 s of ROWTIME before it
        """SELECT a.ticker, a.change, count(*) AS n FROM s a JOIN s b ON a.ticker = b.ticker
               AND b.seq <= a.seq AND b.rowtime >= a.rowtime - 10000
           GROUP BY a.seq, a.ticker, a.change HAVING n >= 3 ORDER BY a.seq"""
    ).fetchall()
    got = [r[1:] for r in streams["TRIGGER_COUNT_STREAM"]]
    assert [tuple(norm(v) for v in r) for r in got] == [tuple(norm(v) for v in r) for r in expected]
    assert len(got) > 100


def test_union_all_in_a_subquery_with_column_names_merges_by_rowtime() -> None:
    _, streams = _run(QUERIES)
    expected = _duck().execute(
        """SELECT rowtime, ticker, m, k FROM (
             SELECT rowtime, ticker, change AS m, 'UP' AS k FROM s WHERE change > 1
             UNION ALL
             SELECT rowtime, ticker, -change, 'DOWN' FROM s WHERE change < -1)
           WHERE m > 1.5"""
    ).fetchall()
    got = streams["MOVES"]
    assert row_counts(got) == row_counts(expected)
    assert [r[0] for r in got] == sorted(r[0] for r in got)  # merged in ROWTIME order
    assert {r[3] for r in got} == {"UP", "DOWN"}


def test_a_window_over_a_following_self_join() -> None:
    """GROUP BY over a stream join: the join is its own pump; each pair's ROWTIME is the
    later row's, which the 30-second windows group by."""
    _, streams = _run(QUERIES)
    expected = _duck().execute(
        """WITH u AS (SELECT rowtime, ticker, price FROM s WHERE change > 0),
           p AS (SELECT greatest(a.rowtime, b.rowtime) AS t, a.ticker, b.price - a.price AS d
                 FROM u a JOIN u b ON a.ticker = b.ticker
                      AND b.rowtime BETWEEN a.rowtime AND a.rowtime + 5000)
           SELECT t - t % 30000 + 30000, ticker, count(*), max(d) FROM p GROUP BY ALL"""
    ).fetchall()
    assert_rows_close(streams["PAIRS"], expected)
    assert len(expected) > 50


def test_several_reference_joins_and_a_stream_join_in_one_pump() -> None:
    """The second table is joined on a column of the first; a stream-to-stream join before
    them is its own pump, whose columns keep their qualifiers."""
    code = """
    CREATE OR REPLACE STREAM "UPS" (ticker VARCHAR(4), price REAL);
    CREATE OR REPLACE PUMP "UP_PUMP" AS INSERT INTO "UPS"
    SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001" WHERE change > 0;
    CREATE OR REPLACE STREAM "OUT" (
        ticker VARCHAR(4), name VARCHAR(16), employees INTEGER, price REAL, other REAL);
    CREATE OR REPLACE PUMP "OUT_PUMP" AS INSERT INTO "OUT"
    SELECT STREAM s.ticker_symbol, c.name, z.employees, s.price, u.price
    FROM "SOURCE_SQL_STREAM_001" AS s
    JOIN "UPS" OVER (RANGE INTERVAL '1' SECOND PRECEDING) AS u ON s.ticker_symbol = u.ticker
    JOIN COMPANY AS c ON u.ticker = c.ticker
    LEFT JOIN SIZE AS z ON c.name = z.name
    WHERE s.change < 0;
    """
    plan, streams = _run(code)
    assert [p.kind for p in plan.pumps] == ["stateless", "stream join", "stateless"]
    expected = _duck().execute(
        """WITH u AS (SELECT rowtime, ticker, price FROM s WHERE change > 0)
           SELECT s.ticker, c.name, z.employees, s.price, u.price
           FROM s JOIN u ON s.ticker = u.ticker
                AND u.rowtime BETWEEN s.rowtime - 1000 AND s.rowtime
           JOIN company c ON u.ticker = c.ticker LEFT JOIN size z ON c.name = z.name
           WHERE s.change < 0"""
    ).fetchall()
    got = [r[1:] for r in streams["OUT"]]
    assert row_counts(got) == row_counts(expected)
    assert {r[2] for r in got} > {None}  # some with a size, some without


def test_a_reference_join_under_a_tumbling_window() -> None:
    code = """
    CREATE OR REPLACE STREAM "OUT" (name VARCHAR(16), trades BIGINT, top REAL);
    CREATE OR REPLACE PUMP "OUT_PUMP" AS INSERT INTO "OUT"
    SELECT STREAM c.name, COUNT(*), MAX(price)
    FROM "SOURCE_SQL_STREAM_001" JOIN COMPANY AS c ON ticker_symbol = c.ticker
    GROUP BY c.name, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '20' SECOND);
    """
    plan, streams = _run(code)
    assert [p.kind for p in plan.pumps] == ["stateless", "tumbling"]
    expected = _duck().execute(
        """SELECT rowtime - rowtime % 20000 + 20000, c.name, count(*), max(price)
           FROM s JOIN company c USING (ticker) GROUP BY ALL"""
    ).fetchall()
    assert_rows_close(streams["OUT"], expected)


def test_insert_into_some_columns_leaves_the_others_null() -> None:
    code = """
    CREATE OR REPLACE STREAM "OUT" (ticker VARCHAR(4), sector VARCHAR(16), price REAL);
    CREATE OR REPLACE PUMP "OUT_PUMP" AS INSERT INTO "OUT" (price, ticker)
    SELECT STREAM price * 2, ticker_symbol FROM "SOURCE_SQL_STREAM_001";
    """
    _, streams = _run(code)
    assert [r[1:] for r in streams["OUT"]][:3] == [
        (values[0], None, pytest.approx(values[3] * 2)) for _, values in RECORDS[:3]
    ]


def test_having_filters_stagger_windows() -> None:
    """HAVING on a stagger window keeps the windows it holds for (it used to be dropped)."""
    having = STAGGER.replace(
        "RANGE INTERVAL '1' MINUTE);", "RANGE INTERVAL '1' MINUTE) HAVING COUNT(*) > 2;"
    )
    assert having != STAGGER
    every, _ = run(STAGGER, RECORDS)
    kept, _ = run(having, RECORDS)
    assert kept["DESTINATION_SQL_STREAM"] == [
        r for r in every["DESTINATION_SQL_STREAM"] if r[3] > 2
    ]
    assert len(kept["DESTINATION_SQL_STREAM"]) < len(every["DESTINATION_SQL_STREAM"])


def test_explain_shows_the_hidden_streams_and_pumps() -> None:
    plan = plan_application(QUERIES, application="t", inputs=INPUTS)
    text = plan.explain()
    assert "pump SORT_PUMP$1: SOURCE_SQL_STREAM_001 → SORT_PUMP$1 [stateless]" in text
    assert "pump SORT_PUMP: SORT_PUMP$1 → SORTED [order by]" in text
    assert "pump RANK_PUMP$2: RANK_PUMP$1 → RANK_PUMP$2 [group rank]" in text


def test_a_subquery_names_as_many_columns_as_it_has() -> None:
    code = """
    CREATE OR REPLACE STREAM "OUT" (a VARCHAR(4));
    CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
    SELECT STREAM a FROM (SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001")
        AS t(a);
    """
    with pytest.raises(SqlPlanError, match=r"names 1 columns but the subquery has 2"):
        plan_application(code, application="t", inputs=INPUTS)


@pytest.mark.parametrize(
    ("arguments", "text"),
    [
        ("'HIGH', 'rank', 'up', 'asc', 0, 3", "sortOrder is 'asc' or 'desc'"),
        ("'HIGH', 'rank', 'asc', 'asc', -1, 3", "maxIdle is an integer, 0 or more"),
        ("'NOPE', 'rank', 'asc', 'asc', 0, 3", "the cursor has no column 'NOPE'"),
        ("'HIGH', 'TICKER_SYMBOL', 'asc', 'asc', 0, 3", "has a column 'TICKER_SYMBOL' already"),
        ("'HIGH', 'rank', 'asc', 'asc', 0", "takes 7 arguments"),
    ],
)
def test_group_rank_arguments_are_checked(arguments: str, text: str) -> None:
    code = f"""
    CREATE OR REPLACE STREAM "OUT" (t VARCHAR(4), high REAL, place INTEGER);
    CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
    SELECT STREAM * FROM TABLE(group_rank(CURSOR(
        SELECT STREAM ticker_symbol, price AS high FROM "SOURCE_SQL_STREAM_001"), {arguments}));
    """
    with pytest.raises(SqlPlanError, match=text) as caught:
        plan_application(code, application="t", inputs=INPUTS)
    assert caught.value.line == 4  # the call
