"""The messages for aggregates and window-only functions used where they are not allowed."""

from __future__ import annotations

from typing import Any

import pytest

from ground.errors import SqlPlanError
from pipelines.sql.plan import plan_application
from tests.unit.pipelines.sql.compiler.pumps import INPUTS, run

# ---------------------------------------------------------------- messages


@pytest.mark.parametrize(
    ("select", "kind", "text"),
    [
        # before: "column PRICE must appear in GROUP BY or inside an aggregate"
        ("log, EXP_AVG(n, INTERVAL '10' SECOND)", SqlPlanError, "EXP_AVG is only allowed OVER"),
        ("log, COUNT(*)", None, None),
        ("log, CAST(ANY(n > 1) AS INTEGER)", None, None),
        ("log, CAST(EVERY(n > 1) AS INTEGER)", None, None),
    ],
)
def test_grouped_functions_are_named_correctly(select: str, kind: Any, text: Any) -> None:
    code_select = select + " FROM \"IN\" GROUP BY log, STEP(ROWTIME BY INTERVAL '1' MINUTE)"
    code = (
        'CREATE OR REPLACE STREAM "OUT" (l VARCHAR(256), v BIGINT);\n'
        f'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM {code_select};\n'
    )
    if kind is None:
        plan_application(code, application="t", inputs=INPUTS)
        return
    with pytest.raises(kind, match=text):
        plan_application(code, application="t", inputs=INPUTS)


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ("EVERY(n > 1)", "an aggregate on a stream needs a window"),
        ("ANY(n > 1)", "an aggregate on a stream needs a window"),
        ("EXP_AVG(n, INTERVAL '1' SECOND)", "EXP_AVG is only allowed OVER a sliding window"),
    ],
)
def test_aggregates_without_a_window_are_named(expr: str, text: str) -> None:
    with pytest.raises(SqlPlanError, match=text):
        run("v BOOLEAN", expr, [])
