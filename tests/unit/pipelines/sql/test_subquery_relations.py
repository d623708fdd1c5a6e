"""``IN`` and ``EXISTS`` over a relation of reference tables — JOINs, GROUP BY and HAVING,
aggregates, set operations, ORDER BY, a subquery in FROM — on the offline engine, checked
against DuckDB running the same predicate over the same stream rows and tables."""

from __future__ import annotations

import pytest

from ground.errors import SqlPlanError
from pipelines.sql.catalog import StreamColumn, TableInfo
from pipelines.sql.engine import run_rows
from pipelines.sql.plan import plan_application
from pipelines.sql.types import parse_type
from tests.unit.pipelines.sql.corpus import TICKER_COLUMNS
from tests.unit.pipelines.sql.test_subquery_predicates import SRC, TABLE, _duckdb, _records

#: A second table: labels of sectors (a duplicate, a NULL sector, a sector t does not have).
LABELS = TableInfo(
    "C",
    (
        StreamColumn("SECTOR", parse_type("VARCHAR(16)")),
        StreamColumn("LABEL", parse_type("VARCHAR(8)")),
    ),
    (("TECH", "x"), ("TECH", "y"), ("FINANCE", "x"), (None, "x"), ("RETAIL", None)),
)


def _engine(items: str, predicate: str, records, tables: dict[str, TableInfo]):
    code = (
        'CREATE OR REPLACE STREAM "D" (t VARCHAR(4), s VARCHAR(16), p DOUBLE, f BOOLEAN);\n'
        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"\n'
        f"SELECT STREAM {items} FROM {SRC} AS s WHERE {predicate};\n"
    )
    plan = plan_application(
        code, application="t", inputs={"SOURCE_SQL_STREAM_001": TICKER_COLUMNS}, tables=tables
    )
    streams, failures = run_rows(plan, records)
    assert failures == []
    return [tuple(r[1:]) for r in streams.get("D", [])]


def _con(records):
    con = _duckdb(records, TABLE)
    con.execute("CREATE TABLE c (sector VARCHAR, label VARCHAR)")
    con.executemany("INSERT INTO c VALUES (?, ?)", [list(r) for r in LABELS.rows])
    return con


PREDICATES = [
    # GROUP BY and HAVING
    "ticker_symbol IN (SELECT ticker FROM t GROUP BY ticker HAVING COUNT(*) > 1)",
    "(ticker_symbol, sector) IN (SELECT ticker, MIN(sector) FROM t GROUP BY ticker)",
    "sector IN (SELECT sector FROM t GROUP BY sector HAVING COUNT(DISTINCT ticker) >= 2)",
    "ticker_symbol NOT IN (SELECT ticker FROM t GROUP BY ticker HAVING MAX(max_price) < 65)",
    "ticker_symbol NOT IN (SELECT ticker FROM t WHERE ticker IS NOT NULL GROUP BY ticker "
    "HAVING MAX(max_price) < 65)",
    # an aggregate without GROUP BY is one row, also over no rows (COUNT 0, MAX NULL)
    "EXISTS (SELECT MAX(max_price) FROM t WHERE sector = 'NONE') AND price > 50",
    "sector IN (SELECT MIN(sector) FROM t WHERE max_price > 1000)",
    # joins of tables
    "sector IN (SELECT c.sector FROM t JOIN c ON t.sector = c.sector WHERE c.label = 'y')",
    "ticker_symbol IN (SELECT t.ticker FROM t LEFT JOIN c ON t.sector = c.sector "
    "WHERE c.label IS NULL)",
    "sector IN (SELECT c.sector FROM t RIGHT JOIN c ON t.sector = c.sector WHERE t.ticker IS NULL)",
    "EXISTS (SELECT 1 FROM t FULL JOIN c ON t.sector = c.sector WHERE t.ticker = s.ticker_symbol "
    "AND c.label = 'x')",
    "sector IN (SELECT sector FROM t JOIN c USING (sector))",
    "(ticker_symbol, sector) IN (SELECT t.ticker, c.sector FROM t CROSS JOIN c "
    "WHERE c.label = 'y')",
    # set operations (distinct rows but UNION ALL; NULLs compare equal)
    "ticker_symbol IN (SELECT ticker FROM t WHERE sector = 'TECH' UNION SELECT 'GS' FROM c)",
    "sector IN (SELECT sector FROM t UNION ALL SELECT sector FROM c WHERE label = 'x')",
    "ticker_symbol NOT IN (SELECT ticker FROM t EXCEPT SELECT ticker FROM t WHERE max_price > 55)",
    "ticker_symbol NOT IN (SELECT ticker FROM t EXCEPT SELECT ticker FROM t WHERE max_price >= 55"
    " OR ticker IS NULL)",
    "sector IN (SELECT sector FROM t INTERSECT SELECT sector FROM c)",
    # ORDER BY does not change membership
    "ticker_symbol IN (SELECT ticker FROM t WHERE max_price > 45 ORDER BY max_price DESC)",
    # a subquery in FROM
    "ticker_symbol IN (SELECT x FROM (SELECT ticker AS x, COUNT(*) AS n FROM t GROUP BY ticker) "
    "AS g WHERE n = 1)",
    "sector IN (SELECT g.a FROM (SELECT sector, label FROM c) AS g (a, b) WHERE g.b = 'x')",
    # correlated: grouped, joined, in a set operation
    "EXISTS (SELECT t.sector FROM t WHERE t.ticker = s.ticker_symbol GROUP BY t.sector "
    "HAVING MAX(t.max_price) > s.price)",
    "EXISTS (SELECT 1 FROM t JOIN c ON t.sector = c.sector WHERE t.ticker = s.ticker_symbol)",
    "sector IN (SELECT c.sector FROM c WHERE c.label = 'x' UNION SELECT t.sector FROM t "
    "WHERE t.ticker = s.ticker_symbol)",
    "sector NOT IN (SELECT MIN(sector) FROM t WHERE ticker = s.ticker_symbol)",
]


#: Those that keep no row (a NULL in the subquery's rows, or an empty MIN): the point of the case.
TRIVIAL = {
    "ticker_symbol NOT IN (SELECT ticker FROM t GROUP BY ticker HAVING MAX(max_price) < 65)",
    "sector IN (SELECT MIN(sector) FROM t WHERE max_price > 1000)",
    "ticker_symbol NOT IN (SELECT ticker FROM t EXCEPT SELECT ticker FROM t WHERE max_price > 55)",
}


@pytest.mark.parametrize("predicate", PREDICATES)
def test_a_relational_subquery_gives_what_duckdb_gives(predicate: str) -> None:
    records = _records(300, seed=11)
    got = _engine(
        "ticker_symbol, sector, price, NULL", predicate, records, {"T": TABLE, "C": LABELS}
    )
    expected = (
        _con(records)
        .execute(f"SELECT ticker_symbol, sector, price, NULL FROM s WHERE {predicate} ORDER BY off")
        .fetchall()
    )
    assert got == [tuple(r) for r in expected]
    if predicate not in TRIVIAL:  # the data exercises both outcomes
        assert 0 < len(expected) < len(records)


@pytest.mark.parametrize(
    "predicate",
    [
        "ticker_symbol NOT IN (SELECT ticker FROM t GROUP BY ticker HAVING MAX(max_price) < 65)",
        "sector IN (SELECT sector FROM t INTERSECT SELECT sector FROM c)",
        "sector NOT IN (SELECT MIN(sector) FROM t WHERE ticker = s.ticker_symbol)",
    ],
)
def test_a_relational_subquery_as_a_value_is_true_false_or_null(predicate: str) -> None:
    records = _records(200, seed=12)
    got = _engine(
        f"ticker_symbol, sector, price, {predicate}", "TRUE", records, {"T": TABLE, "C": LABELS}
    )
    expected = (
        _con(records)
        .execute(f"SELECT ticker_symbol, sector, price, {predicate} FROM s ORDER BY off")
        .fetchall()
    )
    assert got == [tuple(r) for r in expected]
    assert len({r[3] for r in expected}) > 1


@pytest.mark.parametrize(
    ("predicate", "message"),
    [
        (
            "sector IN (SELECT sector, MAX(max_price) FROM t GROUP BY ticker)",
            "column SECTOR must appear in GROUP BY",
        ),
        # a key of one relation is not the same-named column of another
        (
            "sector IN (SELECT c.sector FROM t JOIN c ON t.ticker = c.label GROUP BY t.sector)",
            "column SECTOR must appear in GROUP BY",
        ),
        ("sector IN (SELECT sector FROM t HAVING COUNT(*) > 1)", "HAVING needs a GROUP BY"),
        (
            "sector IN (SELECT sector FROM t UNION SELECT sector, label FROM c)",
            "UNION: the queries have 1 and 2 columns",
        ),
        ("sector IN (SELECT sector FROM t JOIN c)", "needs ON"),
        (
            "sector IN (SELECT ticker, sector FROM t GROUP BY ticker, sector)",
            "IN tests 1 value(s) against a subquery of 2 column(s)",
        ),
        ("sector IN (SELECT nope FROM t JOIN c ON t.sector = c.sector)", "unknown column"),
    ],
)
def test_a_wrong_relational_subquery_is_a_plan_error(predicate: str, message: str) -> None:
    with pytest.raises(SqlPlanError) as caught:
        _engine("ticker_symbol, sector, price, NULL", predicate, [], {"T": TABLE, "C": LABELS})
    assert message in str(caught.value)
