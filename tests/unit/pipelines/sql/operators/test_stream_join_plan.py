"""Planning stream-to-stream joins: a window on the right, ON, and KDA's errors."""

from __future__ import annotations

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.operators.stream_join import StreamJoinOperator
from tests.unit.pipelines.sql.operators.plan_cases import SRC, plan_error, pump

COLUMNS = "t VARCHAR(4), p REAL"
OVER = "OVER (RANGE INTERVAL '1' MINUTE PRECEDING)"


def test_a_join_reads_both_streams_and_keys_on_the_equalities() -> None:
    planned = pump(
        COLUMNS,
        f"SELECT STREAM o.ticker_symbol, t.price FROM {SRC} AS o LEFT JOIN {SRC} {OVER} AS t "
        "ON o.ticker_symbol = t.ticker_symbol AND t.price > o.price",
    )
    assert planned.kind == "stream join"
    assert planned.sources == (planned.source, planned.right_source) == (
        "SOURCE_SQL_STREAM_001",
        "SOURCE_SQL_STREAM_001",
    )
    assert planned.details[0].startswith(
        "LEFT JOIN SOURCE_SQL_STREAM_001: a SOURCE_SQL_STREAM_001 row at t meets the "
        "SOURCE_SQL_STREAM_001 rows from t-60000 ms to t+0 ms on 1 key columns"
    )
    # each side groups by its side of the equality (the residual is no key)
    assert planned.grouping is not None
    assert [g.columns for g in planned.grouping] == [("TICKER_SYMBOL",), ("TICKER_SYMBOL",)]
    assert isinstance(planned.build(), StreamJoinOperator)


def test_a_year_month_join_window_is_refused_as_not_kda() -> None:
    error = plan_error(
        SqlPlanError,
        COLUMNS,
        f"SELECT STREAM o.ticker_symbol, 1 FROM {SRC} AS o JOIN {SRC} OVER (RANGE INTERVAL '1' "
        "MONTH PRECEDING) AS t ON o.ticker_symbol = t.ticker_symbol",
    )
    assert error.message.startswith("KDA for SQL does not support a year-month interval")


def test_windows_kda_does_not_have_are_refused_with_its_reason() -> None:
    """KDA's windows start or end with the current row (Allowed and Disallowed Window
    Specifications), and its JOIN clause defines a ROWS window by a count of rows."""
    base = f"SELECT STREAM o.ticker_symbol, 1 FROM {SRC} AS o JOIN {SRC}"
    on = "AS t ON o.ticker_symbol = t.ticker_symbol"
    cases = [
        ("ROWS CURRENT ROW", "ROWS CURRENT ROW (a count of no rows) as a JOIN window"),
        ("ROWS 0 PRECEDING", "ROWS CURRENT ROW (a count of no rows) as a JOIN window"),
        ("ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING", "a JOIN window that spans the current row"),
        (
            "RANGE BETWEEN INTERVAL '1' MINUTE PRECEDING AND INTERVAL '1' SECOND FOLLOWING",
            "a JOIN window that spans the current row",
        ),
        ("ROWS BETWEEN 5 PRECEDING AND 2 PRECEDING", "which does not end with the current row"),
        ("ROWS BETWEEN 2 FOLLOWING AND 5 FOLLOWING", "which does not end with the current row"),
    ]
    for window, text in cases:
        message = plan_error(SqlPlanError, COLUMNS, f"{base} OVER ({window}) {on}").message
        assert message.startswith("KDA for SQL does not support"), window
        assert text in message, window
        assert "Allowed and Disallowed Window Specifications" in message, window


def test_join_errors() -> None:
    base = f"SELECT STREAM o.ticker_symbol, 1 FROM {SRC} AS o JOIN {SRC}"
    on = "ON o.ticker_symbol = t.ticker_symbol"
    cases = [
        (SqlPlanError, f"{base} AS t {on}", "needs a window on one side: OVER (RANGE INTERVAL"),
        (SqlPlanError, f"{base} {OVER} AS t", "a stream-to-stream JOIN needs ON"),
        (SqlPlanError, f"SELECT STREAM o.ticker_symbol, 1 FROM {SRC} AS o CROSS JOIN {SRC} "
         f"{OVER} AS t {on}", "a CROSS JOIN has no ON"),
        (
            SqlUnsupportedError,
            f"{base} OVER (ROWS UNBOUNDED PRECEDING) AS t {on}",
            "JOIN window ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
        ),
        (SqlPlanError, f"{base} OVER (ROWS -3 PRECEDING) AS t {on}", "cannot be negative"),
        (
            SqlPlanError,
            f"SELECT STREAM 1, 2 FROM NOWHERE JOIN {SRC} {OVER} AS t ON 1 = 1",
            "unknown stream NOWHERE",
        ),
    ]
    for kind, query, text in cases:
        assert text in str(plan_error(kind, COLUMNS, query)), query


def test_a_rows_window_runs_the_join_in_one_partition() -> None:
    """KDA's row-based join window (``OVER (ROWS 10 PRECEDING)``: only the latest 10
    rows) counts the rows of the whole stream, whatever their keys: no key groups them."""
    planned = pump(
        COLUMNS,
        f"SELECT STREAM o.ticker_symbol, t.price FROM {SRC} AS o JOIN {SRC} OVER "
        "(ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) AS t ON o.ticker_symbol = t.ticker_symbol",
    )
    assert planned.kind == "stream join"
    assert planned.grouping is not None
    assert [g.columns for g in planned.grouping] == [(), ()]
    assert "SOURCE_SQL_STREAM_001: ROWS: 10 rows before" in planned.details[0]
    assert isinstance(planned.build(), StreamJoinOperator)
