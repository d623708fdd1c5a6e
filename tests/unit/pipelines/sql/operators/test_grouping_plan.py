"""Grouped queries over (ROWTIME, keys, aggregates): keys and aggregates by their shape,
each distinct aggregate once, and columns that are neither refused."""

from __future__ import annotations

from ground.errors import SqlPlanError
from pipelines.sql.engine import run_rows
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.operators.plan_cases import SRC, plan, plan_error, pump

COLUMNS = "t VARCHAR(4), n BIGINT, d BIGINT, x DOUBLE"
STEP = "STEP(ROWTIME BY INTERVAL '10' SECOND)"


def test_keys_and_aggregates_are_recognised_by_their_shape() -> None:
    query = (
        f"SELECT STREAM LOWER(\"SOURCE_SQL_STREAM_001\".Ticker_Symbol), COUNT(*), "
        f"COUNT(DISTINCT sector), COUNT(*) * SUM(price) FROM {SRC} "
        f"GROUP BY LOWER(ticker_symbol), {STEP}"
    )
    planned = pump(COLUMNS, query)
    assert planned.details[2] == "aggregates COUNT(*), COUNT_DISTINCT(sector), SUM(price)"
    records = [
        (ms, (t, s, 0.0, p, Timestamp(0)))
        for ms, t, s, p in ((1, "A", "X", 1.0), (2, "A", "Y", 2.0), (3, "A", "X", 3.0))
    ]
    streams, failures = run_rows(plan(COLUMNS, query), records)
    assert failures == []
    assert [r[1:] for r in streams["D"]] == [("a", 3, 2, 18.0)]


def test_grouping_errors() -> None:
    cases = [
        (SqlPlanError,
         f"SELECT STREAM sector, 1, 2, 3.0 FROM {SRC} GROUP BY ticker_symbol, {STEP}",
         "column SECTOR must appear in GROUP BY or inside an aggregate"),
        (SqlPlanError,
         f"SELECT STREAM ticker_symbol, MIN(DISTINCT price), 1, 2.0 FROM {SRC} "
         f"GROUP BY ticker_symbol, {STEP}",
         "KDA for SQL does not support MIN(DISTINCT …)"),
        (SqlPlanError,
         f"SELECT STREAM ticker_symbol, COUNT(*), 1, 2.0 FROM {SRC} "
         f"GROUP BY ticker_symbol, {STEP} HAVING price > 1",
         "column PRICE must appear in GROUP BY or inside an aggregate"),
    ]
    for kind, query, text in cases:
        assert text in str(plan_error(kind, COLUMNS, query)), query
