"""Planning TOP_K_ITEMS_TUMBLING and COUNT_DISTINCT_ITEMS_TUMBLING over a CURSOR."""

from __future__ import annotations

from ground.errors import SqlPlanError
from pipelines.sql.engine import run_rows
from pipelines.sql.operators.topk import ItemsTumblingOperator
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.operators.plan_cases import SRC, plan, plan_error, pump

TOP = "item VARCHAR(4), item_count BIGINT"
CURSOR = f"CURSOR(SELECT STREAM * FROM {SRC})"


def _top(args: str, cursor: str = CURSOR) -> str:
    return f"SELECT STREAM * FROM TABLE(TOP_K_ITEMS_TUMBLING({cursor}, {args}))"


def test_top_k_and_count_distinct_are_tumbling_sketches() -> None:
    planned = pump(TOP, _top("'TICKER_SYMBOL', 2, 10"))
    assert planned.kind == "top_k_items_tumbling"
    assert planned.details[0] == (
        "TOP_K_ITEMS_TUMBLING: tumbling 10000 ms on ROWTIME over column TICKER_SYMBOL, K=2"
    )
    assert planned.key_columns == ()
    assert isinstance(planned.build(), ItemsTumblingOperator)
    distinct = pump(
        "n BIGINT",
        "SELECT STREAM * FROM TABLE(COUNT_DISTINCT_ITEMS_TUMBLING("
        f"CURSOR(SELECT STREAM * FROM {SRC} WHERE price > 1), 'SECTOR', 60))",
    )
    assert distinct.kind == "count_distinct_items_tumbling"


def test_the_outer_where_filters_result_rows() -> None:
    query = _top("'TICKER_SYMBOL', 3, 10") + " WHERE item_count > 1"
    records = [(ms, (t, "S", 0.0, 1.0, Timestamp(0))) for ms, t in ((1, "A"), (2, "A"), (3, "B"))]
    streams, failures = run_rows(plan(TOP, query), records)
    assert failures == []
    assert [r[1:] for r in streams["D"]] == [("A", 2)]


def test_items_errors() -> None:
    cases = [
        (SqlPlanError, _top("'TICKER_SYMBOL', 0, 10"), "K must be 1–100000"),
        (SqlPlanError, _top("'TICKER_SYMBOL', 3, 3601"), "windowSeconds must be 1–3600"),
        (SqlPlanError, _top("'TICKER_SYMBOL', 3"), "TOP_K_ITEMS_TUMBLING(cursor, 'column', k,"),
        (SqlPlanError, _top("'TICKER_SYMBOL', price, 10"), "after the cursor are constants"),
        (SqlPlanError, "SELECT STREAM * FROM TABLE(TOP_K_ITEMS_TUMBLING('x', 3, 10))",
         "takes CURSOR(SELECT STREAM …) first"),
        (SqlPlanError, f"SELECT STREAM * FROM TABLE(NOPE({CURSOR}))",
         "unknown table function NOPE"),
    ]
    for kind, query, text in cases:
        assert text in str(plan_error(kind, TOP, query)), query
