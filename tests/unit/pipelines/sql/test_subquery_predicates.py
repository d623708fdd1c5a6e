"""``IN (subquery)`` and ``EXISTS`` over a reference table, on the offline engine, checked
against DuckDB running the same predicate over the same stream rows and table (NULLs on both
sides, duplicate keys): SQL's three-valued logic, correlated and uncorrelated."""

from __future__ import annotations

import random

import duckdb
import pytest

from pipelines.sql.catalog import StreamColumn, TableInfo
from pipelines.sql.engine import run_rows
from pipelines.sql.plan import plan_application
from pipelines.sql.subquery_predicates import in_rows
from pipelines.sql.types import parse_type
from tests.unit.pipelines.sql.corpus import TICKER_COLUMNS

SRC = '"SOURCE_SQL_STREAM_001"'
TICKERS = ["AMZN", "MSFT", "IBM", "NEE", "GS", None]
SECTORS = ["TECH", "ENERGY", "FINANCE", None]
TABLE = TableInfo(
    "T",
    (
        StreamColumn("TICKER", parse_type("VARCHAR(4)")),
        StreamColumn("SECTOR", parse_type("VARCHAR(16)")),
        StreamColumn("MAX_PRICE", parse_type("DOUBLE")),
    ),
    (
        ("AMZN", "TECH", 60.0),
        ("AMZN", "RETAIL", 40.0),  # a duplicate key
        ("MSFT", "TECH", 50.0),
        ("IBM", None, 70.0),
        (None, "FINANCE", 55.0),
        ("GS", "FINANCE", None),
    ),
)


def _records(n: int, seed: int) -> list[tuple[int, tuple]]:
    rng = random.Random(seed)
    return [
        (
            1_000 + 100 * i,
            (
                rng.choice(TICKERS),
                rng.choice(SECTORS),
                0.0,
                rng.choice([None, *(0.5 * k for k in range(60, 150))]),
                0,
            ),
        )
        for i in range(n)
    ]


def _duckdb(records: list[tuple[int, tuple]], table: TableInfo) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE s (off INTEGER, ticker_symbol VARCHAR, sector VARCHAR, price DOUBLE)"
    )
    con.executemany(
        "INSERT INTO s VALUES (?, ?, ?, ?)",
        [(i, v[0], v[1], v[3]) for i, (_, v) in enumerate(records)],
    )
    con.execute("CREATE TABLE t (ticker VARCHAR, sector VARCHAR, max_price DOUBLE)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", [list(r) for r in table.rows])
    return con


def _engine(select_items: str, predicate: str, records, table: TableInfo = TABLE):
    code = (
        'CREATE OR REPLACE STREAM "D" (t VARCHAR(4), s VARCHAR(16), p DOUBLE, f BOOLEAN);\n'
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"\n'
        f"SELECT STREAM {select_items} FROM {SRC} AS s WHERE {predicate};\n"
    )
    plan = plan_application(
        code,
        application="t",
        inputs={"SOURCE_SQL_STREAM_001": TICKER_COLUMNS},
        tables={"T": table},
    )
    streams, failures = run_rows(plan, records)
    assert failures == []
    return [tuple(r[1:]) for r in streams.get("D", [])]


#: Predicates over ``s`` (the stream) and ``t`` (the table), in the SQL both engines take.
PREDICATES = [
    "ticker_symbol IN (SELECT ticker FROM t)",
    # t has a NULL ticker: NOT IN is never TRUE
    "ticker_symbol NOT IN (SELECT ticker FROM t)",
    "ticker_symbol NOT IN (SELECT ticker FROM t WHERE ticker IS NOT NULL)",
    # an empty subquery: IN is FALSE and NOT IN TRUE, also for a NULL
    "ticker_symbol NOT IN (SELECT ticker FROM t WHERE max_price > 1000)",
    # a row value; t has rows with a NULL in one column
    "(ticker_symbol, sector) IN (SELECT ticker, sector FROM t)",
    "(ticker_symbol, sector) NOT IN (SELECT ticker, sector FROM t)",
    "(ticker_symbol, sector) NOT IN (SELECT DISTINCT ticker, sector FROM t AS u)",
    # correlated: an equi-join key and a residual test
    "EXISTS (SELECT 1 FROM t WHERE t.ticker = s.ticker_symbol AND t.max_price > s.price)",
    "NOT EXISTS (SELECT * FROM t AS u WHERE u.ticker = s.ticker_symbol AND u.sector = s.sector)",
    # correlated IN: the subquery's sector is the table's (inner names first)
    "sector IN (SELECT sector FROM t WHERE ticker = s.ticker_symbol)",
    "sector NOT IN (SELECT sector FROM t WHERE ticker = s.ticker_symbol)",
    # correlated without an equi-join key
    "EXISTS (SELECT 1 FROM t WHERE t.max_price BETWEEN s.price - 5 AND s.price + 5)",
    # uncorrelated EXISTS, with the rest of WHERE
    "EXISTS (SELECT 1 FROM t WHERE sector = 'TECH') AND price > 40",
    "EXISTS (SELECT 1 FROM t WHERE sector = 'NONE') OR ticker_symbol = 'IBM'",
    # nested: a predicate inside the subquery, over the table again
    "ticker_symbol IN (SELECT ticker FROM t WHERE sector IN "
    "(SELECT u.sector FROM t AS u WHERE u.max_price >= 55))",
]


#: Those that keep every row or none of them (the point of the case).
TRIVIAL = {
    "ticker_symbol NOT IN (SELECT ticker FROM t)",
    "ticker_symbol NOT IN (SELECT ticker FROM t WHERE max_price > 1000)",
}


@pytest.mark.parametrize("predicate", PREDICATES)
def test_a_subquery_predicate_in_where_gives_what_duckdb_gives(predicate: str) -> None:
    records = _records(400, seed=7)
    got = _engine("ticker_symbol, sector, price, NULL", predicate, records)
    con = _duckdb(records, TABLE)
    expected = con.execute(
        f"SELECT ticker_symbol, sector, price, NULL FROM s WHERE {predicate} ORDER BY off"
    ).fetchall()
    assert got == [tuple(r) for r in expected]
    if predicate not in TRIVIAL:  # the data exercises both outcomes
        assert 0 < len(expected) < len(records)


@pytest.mark.parametrize(
    "predicate",
    [
        "ticker_symbol NOT IN (SELECT ticker FROM t)",
        "(ticker_symbol, sector) IN (SELECT ticker, sector FROM t)",
        "sector NOT IN (SELECT sector FROM t WHERE ticker = s.ticker_symbol)",
        "EXISTS (SELECT 1 FROM t WHERE t.ticker = s.ticker_symbol)",
    ],
)
def test_a_subquery_predicate_as_a_value_is_true_false_or_null(predicate: str) -> None:
    records = _records(200, seed=8)
    got = _engine(f"ticker_symbol, sector, price, {predicate}", "TRUE", records)
    expected = _duckdb(records, TABLE).execute(
        f"SELECT ticker_symbol, sector, price, {predicate} FROM s ORDER BY off"
    ).fetchall()
    assert got == [tuple(r) for r in expected]
    assert len({r[3] for r in expected}) > 1


def test_a_subquery_predicate_filters_the_rows_of_a_window() -> None:
    records = _records(600, seed=9)
    code = (
        'CREATE OR REPLACE STREAM "D" (s VARCHAR(16), n BIGINT);\n'
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"\n'
        f"SELECT STREAM sector, COUNT(*) FROM {SRC} AS s\n"
        "WHERE ticker_symbol NOT IN (SELECT ticker FROM t WHERE ticker IS NOT NULL)\n"
        "GROUP BY sector, STEP(s.ROWTIME BY INTERVAL '10' SECOND)\n"
        "HAVING sector IN (SELECT sector FROM t);\n"
    )
    plan = plan_application(
        code,
        application="t",
        inputs={"SOURCE_SQL_STREAM_001": TICKER_COLUMNS},
        tables={"T": TABLE},
    )
    streams, failures = run_rows(plan, records)
    assert failures == []
    got = sorted((int(r[0]), r[1], r[2]) for r in streams["D"])
    con = _duckdb(records, TABLE)
    con.execute("ALTER TABLE s ADD COLUMN ts BIGINT")
    con.executemany(
        "UPDATE s SET ts = ? WHERE off = ?", [(t, i) for i, (t, _) in enumerate(records)]
    )
    expected = con.execute(
        """SELECT (ts // 10000 + 1) * 10000, sector, COUNT(*) FROM s
           WHERE ticker_symbol NOT IN (SELECT ticker FROM t WHERE ticker IS NOT NULL)
           GROUP BY ALL HAVING sector IN (SELECT sector FROM t) ORDER BY ALL"""
    ).fetchall()
    assert got == [tuple(r) for r in expected]
    assert expected


def test_the_tables_rows_come_from_the_plan_an_empty_table_makes_in_false() -> None:
    records = _records(50, seed=10)
    empty = TableInfo("T", TABLE.columns, ())
    assert _engine("ticker_symbol, sector, price, NULL",
                   "ticker_symbol NOT IN (SELECT ticker FROM t)", records, empty) == [
        (v[0], v[1], v[3], None) for _, v in records
    ]
    assert _engine("ticker_symbol, sector, price, NULL",
                   "EXISTS (SELECT 1 FROM t)", records, empty) == []


@pytest.mark.parametrize(
    ("value", "rows", "expected"),
    [
        ((1,), [], False),
        ((None,), [], False),
        ((None,), [(1,)], None),
        ((1,), [(1,), (None,)], True),
        ((2,), [(1,), (None,)], None),
        ((2,), [(1,)], False),
        ((1, None), [(1, 2)], None),
        ((1, None), [(2, 2)], False),
        ((1, 2), [(None, 3), (1, 2)], True),
    ],
)
def test_in_rows_is_sql_three_valued_membership(value, rows, expected) -> None:
    assert in_rows(value, rows) is expected
