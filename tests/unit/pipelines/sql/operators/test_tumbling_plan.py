"""Planning tumbling windows: which GROUP BY key is the window, on ROWTIME or event time."""

from __future__ import annotations

from ground.errors import SqlPlanError
from pipelines.sql.engine import run_rows
from pipelines.sql.operators.tumbling import TumblingOperator
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.operators.plan_cases import SRC, plan, plan_error, pump

COLUMNS = "t VARCHAR(4), w TIMESTAMP, n BIGINT"
STEP = "STEP(ROWTIME BY INTERVAL '10' SECOND)"


def test_a_rowtime_window_with_its_group_keys() -> None:
    planned = pump(
        COLUMNS, f"SELECT STREAM ticker_symbol, {STEP}, COUNT(*) FROM {SRC} "
        f"GROUP BY ticker_symbol, {STEP}",
    )
    assert planned.kind == "tumbling"
    assert planned.details[:3] == [
        "tumbling window 10000 ms on ROWTIME",
        "group by ticker_symbol, STEP(ROWTIME, INTERVAL '10' SECOND)",
        "aggregates COUNT(*)",
    ]
    assert planned.key_columns == ("TICKER_SYMBOL",)
    assert isinstance(planned.build(), TumblingOperator)


def test_an_event_time_window_has_the_allowed_lateness() -> None:
    planned = pump(
        COLUMNS,
        f"SELECT STREAM ticker_symbol, FLOOR(event_time TO MINUTE), COUNT(*) FROM {SRC} "
        "GROUP BY ticker_symbol, FLOOR(event_time TO MINUTE)",
        lateness=2500,
    )
    assert planned.details[0] == "tumbling window 60000 ms on event time, allowed lateness 2500 ms"


def test_rowtime_wins_over_an_event_time_key() -> None:
    event = "FLOOR(event_time TO SECOND)"
    query = (
        f"SELECT STREAM ticker_symbol, {event}, COUNT(*) FROM {SRC} "
        f"GROUP BY ticker_symbol, {event}, {STEP}"
    )
    planned = pump(COLUMNS, query)
    assert planned.details[0] == "tumbling window 10000 ms on ROWTIME"
    records = [
        (1000, ("A", "S", 0.0, 1.0, Timestamp(500))),
        (2000, ("A", "S", 0.0, 1.0, Timestamp(1500))),
    ]
    streams, failures = run_rows(plan(COLUMNS, query), records)
    assert failures == []
    # one window of ROWTIME, two groups of event-time seconds
    assert sorted((r[2], r[3]) for r in streams["D"]) == [(Timestamp(0), 1), (Timestamp(1000), 1)]


def test_having_filters_the_groups() -> None:
    query = (
        f"SELECT STREAM ticker_symbol, {STEP}, COUNT(*) FROM {SRC} "
        f"GROUP BY ticker_symbol, {STEP} HAVING COUNT(*) > 1"
    )
    records = [(ms, (t, "S", 0.0, 1.0, Timestamp(0))) for ms, t in ((1, "A"), (2, "A"), (3, "B"))]
    streams, failures = run_rows(plan(COLUMNS, query), records)
    assert failures == []
    assert [(r[1], r[3]) for r in streams["D"]] == [("A", 2)]


def test_tumbling_errors() -> None:
    cases = [
        (
            SqlPlanError,
            f"SELECT STREAM ticker_symbol, event_time, COUNT(*) FROM {SRC} "
            "GROUP BY ticker_symbol, event_time",
            "GROUP BY on a stream needs a window",
        ),
        (
            SqlPlanError,
            f"SELECT STREAM ticker_symbol, FLOOR(event_time TO WEEK), COUNT(*) FROM {SRC} "
            "GROUP BY ticker_symbol, FLOOR(event_time TO WEEK)",
            "KDA for SQL does not support WEEK as a window's unit",
        ),
        (
            SqlPlanError,
            f"SELECT STREAM ticker_symbol, STEP(ROWTIME BY 0), COUNT(*) FROM {SRC} "
            "GROUP BY ticker_symbol, STEP(ROWTIME BY 0)",
            "a window needs a positive size",
        ),
    ]
    for kind, query, text in cases:
        assert text in str(plan_error(kind, COLUMNS, query)), query
