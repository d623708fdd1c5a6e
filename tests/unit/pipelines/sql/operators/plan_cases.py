"""Planning one pump over the corpus' ticker stream, for the planners' tests."""

from __future__ import annotations

import pytest

from pipelines.sql.catalog import StreamColumn, TableInfo
from pipelines.sql.plan import ApplicationPlan, plan_application
from pipelines.sql.planning import PlannedPump
from pipelines.sql.types import parse_type
from tests.unit.pipelines.sql.corpus import INPUTS

__all__ = ["SRC", "TABLES", "plan", "plan_error", "pump"]

SRC = '"SOURCE_SQL_STREAM_001"'
TABLES = {
    "COMPANY": TableInfo(
        "COMPANY",
        (
            StreamColumn("TICKER", parse_type("VARCHAR(4)")),
            StreamColumn("NAME", parse_type("VARCHAR(16)")),
        ),
    )
}


def plan(columns: str, query: str, *, lateness: int = 0) -> ApplicationPlan:
    """Plan ``CREATE STREAM "D" (columns)`` and a pump ``P`` inserting ``query`` into it."""
    code = (
        f'CREATE OR REPLACE STREAM "D" ({columns});\n'
        f"CREATE OR REPLACE PUMP P AS INSERT INTO D\n{query};"
    )
    return plan_application(
        code, application="app", inputs=INPUTS, tables=TABLES, allowed_lateness_ms=lateness
    )


def pump(columns: str, query: str, *, lateness: int = 0) -> PlannedPump:
    (planned,) = plan(columns, query, lateness=lateness).pumps
    return planned


def plan_error(kind: type[Exception], columns: str, query: str) -> Exception:
    """The error planning ``query`` raises; it is of ``kind`` and names a line of the pump."""
    with pytest.raises(kind) as caught:
        plan(columns, query)
    error = caught.value
    assert getattr(error, "line", 0) >= 2, error
    return error
