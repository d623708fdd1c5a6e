"""Planning stateless pumps: projections and filters, and aggregates that need a window."""

from __future__ import annotations

from ground.errors import SqlPlanError
from pipelines.sql.engine import run_rows
from pipelines.sql.operators.project import ProjectOperator
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.operators.plan_cases import SRC, plan, plan_error, pump

COLUMNS = "t VARCHAR(4), p DOUBLE"


def test_a_projection_with_where() -> None:
    query = f"SELECT STREAM LOWER(ticker_symbol), price * 2 FROM {SRC} WHERE change > 0"
    planned = pump(COLUMNS, query)
    assert (planned.kind, planned.details) == ("stateless", ["project 2 columns with WHERE"])
    assert planned.key_columns is None and planned.grouping is None and not planned.stateful
    assert isinstance(planned.build(), ProjectOperator)
    records = [
        (1, ("AMZN", "S", 1.0, 2.5, Timestamp(0))),
        (2, ("MSFT", "S", -1.0, 1.0, Timestamp(0))),
    ]
    streams, failures = run_rows(plan(COLUMNS, query), records)
    assert failures == []
    assert [r[1:] for r in streams["D"]] == [("amzn", 5.0)]


def test_an_aggregate_needs_a_window() -> None:
    error = plan_error(SqlPlanError, COLUMNS, f"SELECT STREAM ticker_symbol, SUM(price) FROM {SRC}")
    assert "an aggregate on a stream needs a window" in str(error)
    assert "OVER (…) or WINDOWED BY STAGGER" in str(error)
