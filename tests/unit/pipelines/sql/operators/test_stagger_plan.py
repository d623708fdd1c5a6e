"""Planning stagger windows: PARTITION BY keys and a positive RANGE, instead of GROUP BY."""

from __future__ import annotations

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.operators.stagger import StaggerOperator
from tests.unit.pipelines.sql.operators.plan_cases import SRC, plan_error, pump

COLUMNS = "t VARCHAR(4), n BIGINT"
STAGGER = "WINDOWED BY STAGGER (PARTITION BY ticker_symbol RANGE INTERVAL '{}' MINUTE)"


def test_a_stagger_window_per_key() -> None:
    planned = pump(
        COLUMNS, f"SELECT STREAM ticker_symbol, COUNT(*) FROM {SRC} {STAGGER.format(2)}"
    )
    assert planned.kind == "stagger"
    assert planned.details[:3] == [
        "stagger window 120000 ms on ROWTIME, opened by the first row of each key",
        "partition by ticker_symbol",
        "aggregates COUNT(*)",
    ]
    assert planned.key_columns == ("TICKER_SYMBOL",)
    assert isinstance(planned.build(), StaggerOperator)


def test_stagger_errors() -> None:
    cases = [
        (
            SqlPlanError,
            f"SELECT STREAM ticker_symbol, COUNT(*) FROM {SRC} GROUP BY ticker_symbol "
            + STAGGER.format(1),
            "WINDOWED BY STAGGER replaces GROUP BY",
        ),
        (
            SqlPlanError,
            f"SELECT STREAM ticker_symbol, COUNT(*) FROM {SRC} {STAGGER.format(0)}",
            "STAGGER needs RANGE INTERVAL with a positive length",
        ),
        (
            SqlUnsupportedError,
            f"SELECT STREAM ticker_symbol, COUNT(*) FROM {SRC} JOIN COMPANY "
            f"ON ticker_symbol = COMPANY.ticker {STAGGER.format(1)}",
            "stagger windows over a reference-table join",
        ),
        (
            SqlPlanError,
            f"SELECT STREAM sector, COUNT(*) FROM {SRC} {STAGGER.format(1)}",
            "column SECTOR must appear in GROUP BY or inside an aggregate",
        ),
    ]
    for kind, query, text in cases:
        assert text in str(plan_error(kind, COLUMNS, query)), query
