"""Planning sliding windows: named and inline OVER windows, one per distinct definition."""

from __future__ import annotations

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.engine import run_rows
from pipelines.sql.operators.sliding import SlidingOperator
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.operators.plan_cases import SRC, plan, plan_error, pump

COLUMNS = "t VARCHAR(4), a DOUBLE, n BIGINT"
W = "WINDOW W AS (PARTITION BY ticker_symbol RANGE INTERVAL '1' SECOND PRECEDING)"


def test_named_and_inline_windows_of_the_same_definition_are_one() -> None:
    inline = "OVER (PARTITION BY ticker_symbol RANGE INTERVAL '1' SECOND PRECEDING)"
    query = f"SELECT STREAM ticker_symbol, AVG(price) OVER W, COUNT(*) {inline} FROM {SRC} {W}"
    planned = pump(COLUMNS, query)
    assert planned.kind == "sliding"
    assert len(planned.details) == 2  # one window, then the state
    assert planned.details[0].startswith("sliding window RANGE 1000 ms PRECEDING over")
    assert planned.key_columns == ("TICKER_SYMBOL",)
    assert isinstance(planned.build(), SlidingOperator)
    prices = ((0, 1.0), (500, 3.0), (1800, 5.0))  # the last: the others are over 1 s behind
    records = [(ms, ("A", "S", 0.0, p, Timestamp(0))) for ms, p in prices]
    streams, failures = run_rows(plan(COLUMNS, query), records)
    assert failures == []
    assert [r[1:] for r in streams["D"]] == [("A", 1.0, 1), ("A", 2.0, 2), ("A", 5.0, 1)]


def test_two_definitions_key_on_their_common_columns() -> None:
    query = (
        f"SELECT STREAM ticker_symbol, AVG(price) OVER W, "
        "COUNT(*) OVER (PARTITION BY ticker_symbol, sector ROWS 2 PRECEDING) "
        f"FROM {SRC} {W}"
    )
    planned = pump(COLUMNS, query)
    assert len(planned.details) == 3
    assert planned.details[1].startswith("sliding window ROWS 2 PRECEDING over")
    assert planned.key_columns == ("TICKER_SYMBOL",)


def test_sliding_errors() -> None:
    cases = [
        (SqlPlanError, f"SELECT STREAM ticker_symbol, AVG(price) OVER V, 1 FROM {SRC} {W}",
         "unknown window V"),
        (SqlPlanError, f"SELECT STREAM ticker_symbol, LAG(price, n) OVER W, 1 FROM {SRC} {W}",
         "LAG's offset must be an integer literal"),
        (SqlPlanError,
         f"SELECT STREAM ticker_symbol, NTH_VALUE(price, 0) OVER W, 1 FROM {SRC} {W}",
         "NTH_VALUE's n must be a positive integer literal"),
        (SqlPlanError,
         f"SELECT STREAM ticker_symbol, EXP_AVG(price, 10) OVER W, 1 FROM {SRC} {W}",
         "EXP_AVG's second argument is a positive constant INTERVAL"),
        (SqlUnsupportedError,
         f"SELECT STREAM ticker_symbol, SUM(price) IGNORE NULLS OVER W, 1 FROM {SRC} {W}",
         "SUM … IGNORE NULLS"),
        (SqlPlanError,
         f"SELECT STREAM ticker_symbol, UPPER(sector) OVER W, 1 FROM {SRC} {W}",
         "KDA for SQL does not support UPPER(sector) OVER a window"),
        (SqlPlanError,
         f"SELECT STREAM ticker_symbol, AVG(price) OVER (ORDER BY price "
         f"RANGE INTERVAL '1' SECOND PRECEDING), 1 FROM {SRC}",
         "KDA for SQL does not support a sliding window ordered by ORDER BY price"),
        (SqlPlanError,
         f"SELECT STREAM ticker_symbol, AVG(price) OVER (PARTITION BY sector), 1 FROM {SRC}",
         "a sliding window needs RANGE … PRECEDING or ROWS … PRECEDING"),
        (SqlPlanError,
         f"SELECT STREAM ticker_symbol, AVG(price) OVER (RANGE 5 PRECEDING), 1 FROM {SRC}",
         "KDA for SQL does not support RANGE 5 without an INTERVAL"),
    ]
    for kind, query, text in cases:
        assert text in str(plan_error(kind, COLUMNS, query)), query
