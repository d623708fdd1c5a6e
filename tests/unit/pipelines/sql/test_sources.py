"""FROM: the stream a pump reads and the reference table it joins, with KDA's errors."""

from __future__ import annotations

import pytest

from ground.errors import SqlPlanError
from pipelines.sql.catalog import StreamColumn, TableInfo
from pipelines.sql.engine import run_rows
from pipelines.sql.plan import plan_application
from pipelines.sql.types import parse_type
from tests.unit.pipelines.sql.corpus import TICKER_COLUMNS

INPUTS = {"SOURCE_SQL_STREAM_001": TICKER_COLUMNS}
SRC = '"SOURCE_SQL_STREAM_001"'
HEADER = 'CREATE OR REPLACE STREAM "D" (t VARCHAR(4), name VARCHAR(16));\n'
PUMP = "CREATE OR REPLACE PUMP P AS INSERT INTO D\n"
COMPANY = TableInfo(
    "COMPANY",
    (
        StreamColumn("TICKER", parse_type("VARCHAR(4)")),
        StreamColumn("NAME", parse_type("VARCHAR(16)")),
    ),
    (("AMZN", "Amazon"), ("MSFT", "Microsoft"), ("AMZN", "Amazon again"), (None, "nobody")),
)


def _plan(body: str):
    return plan_application(
        HEADER + PUMP + body, application="t", inputs=INPUTS, tables={"COMPANY": COMPANY}
    )


def _records(*tickers: str):
    return [(1000 + i, (t, "TECH", 0.0, 1.0, 0)) for i, t in enumerate(tickers)]


def test_a_reference_join_is_a_hash_lookup_with_the_rest_of_on_as_a_test() -> None:
    plan = _plan(
        f"SELECT STREAM ticker_symbol, c.name FROM {SRC} AS s JOIN COMPANY AS c "
        "ON s.ticker_symbol = c.ticker AND c.name <> 'Amazon again';"
    )
    (pump,) = plan.pumps
    assert pump.details[1] == "JOIN reference table C (1 key columns, hash lookup)"
    streams, failures = run_rows(plan, _records("AMZN", "IBM", "MSFT"))
    assert failures == []
    assert [r[1:] for r in streams["D"]] == [("AMZN", "Amazon"), ("MSFT", "Microsoft")]


def test_an_aliased_stream_is_known_by_both_names() -> None:
    plan = _plan(f"SELECT STREAM ticker_symbol, s.sector FROM {SRC} AS s WHERE {SRC}.price > 0;")
    streams, _ = run_rows(plan, _records("AMZN"))
    assert [r[1:] for r in streams["D"]] == [("AMZN", "TECH")]


def test_a_left_join_keeps_unmatched_rows_with_nulls() -> None:
    plan = _plan(
        f"SELECT STREAM ticker_symbol, COMPANY.name FROM {SRC} LEFT JOIN COMPANY "
        f"ON {SRC}.ticker_symbol = COMPANY.ticker;"
    )
    assert plan.pumps[0].details[1].startswith("LEFT JOIN reference table")
    streams, _ = run_rows(plan, _records("IBM", "MSFT"))
    assert [r[1:] for r in streams["D"]] == [("IBM", None), ("MSFT", "Microsoft")]


@pytest.mark.parametrize(
    ("body", "kind", "text"),
    [
        ("SELECT STREAM 'a', 'b' FROM NOWHERE;", SqlPlanError, "unknown stream NOWHERE"),
        (
            f"SELECT STREAM 'a', 'b' FROM {SRC} JOIN NOTHING ON 1 = 1;",
            SqlPlanError,
            "unknown stream or reference table NOTHING",
        ),
        (
            f"SELECT STREAM 'a', 'b' FROM {SRC} RIGHT JOIN COMPANY ON 1 = 1;",
            SqlPlanError,  # KDA joins a reference table row by row of the stream
            "RIGHT JOIN with a reference table: KDA joins a stream with a reference table row",
        ),
        (
            f"SELECT STREAM 'a', 'b' FROM {SRC} JOIN COMPANY;",
            SqlPlanError,
            "JOIN with a reference table needs ON",
        ),
        (
            f"SELECT STREAM 'a', 'b' FROM {SRC} JOIN (SELECT * FROM COMPANY) ON 1 = 1;",
            SqlPlanError,
            "a pump query must be SELECT STREAM",
        ),
    ],
)
def test_from_errors(body: str, kind: type, text: str) -> None:
    with pytest.raises(kind) as caught:
        _plan(body)
    assert text in str(caught.value)
    assert caught.value.line >= 2
