"""Planning an application: every error names its line and column, and each pump goes to the
planner of its kind (the first of PLANNERS that matches), which a new kind can join."""

from __future__ import annotations

import pytest

from ground.errors import SqlPlanError, SqlSyntaxError, SqlUnsupportedError
from pipelines.sql.operators.project_plan import ProjectPlanner
from pipelines.sql.plan import PLANNERS, plan_application, plan_pump
from pipelines.sql.planning import PlannedPump, PumpQuery
from tests.unit.pipelines.sql.corpus import TICKER_COLUMNS

INPUTS = {"SOURCE_SQL_STREAM_001": TICKER_COLUMNS}
HEADER = 'CREATE OR REPLACE STREAM "D" (t VARCHAR(4), n BIGINT);\n'
SRC = '"SOURCE_SQL_STREAM_001"'
PUMP = "CREATE OR REPLACE PUMP P AS INSERT INTO D\n"


def _plan(body: str):
    return plan_application(HEADER + body, application="t", inputs=INPUTS)


@pytest.mark.parametrize(
    ("body", "kind", "line", "column", "text"),
    [
        (
            PUMP + "SELECT STREAM FROM;",
            SqlSyntaxError,
            3,
            0,
            "FROM",
        ),
        (
            PUMP + "SELECT STREAM nope, 1 FROM " + SRC + ";",
            SqlPlanError,
            3,
            15,
            "unknown column 'NOPE'",
        ),
        (
            PUMP + "SELECT STREAM ticker_symbol FROM " + SRC + ";",
            SqlPlanError,
            0,
            0,
            "selects 1 columns but D has 2",
        ),
        (
            PUMP + "SELECT STREAM ticker_symbol, COUNT(*)\nFROM " + SRC + ";",
            SqlPlanError,
            0,
            0,
            "needs a window",
        ),
        (
            PUMP + "SELECT STREAM sector, COUNT(*)\n"
            'FROM "SOURCE_SQL_STREAM_001" '
            "GROUP BY ticker_symbol, STEP(ROWTIME BY INTERVAL '1' MINUTE);",
            SqlPlanError,
            3,
            15,
            "must appear in GROUP BY",
        ),
        (
            PUMP + "SELECT ticker_symbol, 1 FROM " + SRC + ";",
            SqlPlanError,
            0,
            0,
            "SELECT STREAM",
        ),
        (
            PUMP + "SELECT STREAM ticker_symbol, RANDOM_CUT_FOREST(price) FROM " + SRC + ";",
            SqlPlanError,
            3,
            30,
            "RANDOM_CUT_FOREST is a table function: FROM TABLE(RANDOM_CUT_FOREST(CURSOR(",
        ),
        (
            "CREATE OR REPLACE PUMP P AS INSERT INTO NOWHERE\nSELECT STREAM ticker_symbol, 1 FROM "
            + SRC
            + ";",
            SqlPlanError,
            0,
            0,
            "unknown stream NOWHERE",
        ),
        (
            "CREATE TABLE x (a INT);",
            SqlUnsupportedError,
            2,
            1,
            "only CREATE STREAM and CREATE PUMP",
        ),
    ],
)
def test_errors_name_line_column_and_construct(body, kind, line, column, text) -> None:
    with pytest.raises(kind) as caught:
        _plan(body)
    error = caught.value
    assert text in str(error)
    if line:
        assert error.line == line
    else:
        assert error.line >= 2  # somewhere in the pump, never unknown
    if column:
        assert error.column == column


KINDS = [
    (PUMP + f"SELECT STREAM ticker_symbol, 1 FROM {SRC};", "stateless"),
    (
        PUMP + f"SELECT STREAM ticker_symbol, COUNT(*) FROM {SRC} "
        "GROUP BY ticker_symbol, STEP(ROWTIME BY INTERVAL '1' MINUTE);",
        "tumbling",
    ),
    (
        PUMP + f"SELECT STREAM ticker_symbol, COUNT(*) FROM {SRC} "
        "WINDOWED BY STAGGER (PARTITION BY ticker_symbol RANGE INTERVAL '1' MINUTE);",
        "stagger",
    ),
    (
        PUMP + f"SELECT STREAM ticker_symbol, COUNT(*) OVER W FROM {SRC} "
        "WINDOW W AS (PARTITION BY ticker_symbol RANGE INTERVAL '1' MINUTE PRECEDING);",
        "sliding",
    ),
    (
        PUMP + f"SELECT STREAM a.ticker_symbol, 1 FROM {SRC} AS a JOIN {SRC} "
        "OVER (RANGE INTERVAL '1' SECOND PRECEDING) AS b ON a.ticker_symbol = b.ticker_symbol;",
        "stream join",
    ),
    (
        'CREATE OR REPLACE STREAM "K" (item VARCHAR(4), item_count BIGINT);\n'
        "CREATE OR REPLACE PUMP P AS INSERT INTO K SELECT STREAM * FROM TABLE("
        f"TOP_K_ITEMS_TUMBLING(CURSOR(SELECT STREAM * FROM {SRC}), 'TICKER_SYMBOL', 3, 60));",
        "top_k_items_tumbling",
    ),
    (
        'CREATE OR REPLACE STREAM "R" (price REAL, score DOUBLE);\n'
        "CREATE OR REPLACE PUMP P AS INSERT INTO R SELECT STREAM price, ANOMALY_SCORE FROM TABLE("
        f"RANDOM_CUT_FOREST(CURSOR(SELECT STREAM price FROM {SRC})));",
        "random_cut_forest",
    ),
    (
        'CREATE OR REPLACE STREAM "R" (price REAL, score DOUBLE, why VARCHAR(512));\n'
        "CREATE OR REPLACE PUMP P AS INSERT INTO R SELECT STREAM * FROM TABLE("
        "RANDOM_CUT_FOREST_WITH_EXPLANATION("
        f"CURSOR(SELECT STREAM price FROM {SRC}), 100, 256, 100000, 1, true));",
        "random_cut_forest_with_explanation",
    ),
    (
        'CREATE OR REPLACE STREAM "H" (price REAL, change REAL, result VARCHAR(10000));\n'
        "CREATE OR REPLACE PUMP P AS INSERT INTO H SELECT STREAM * FROM TABLE(HOTSPOTS("
        f"CURSOR(SELECT STREAM price, change FROM {SRC}), 100, 0.5, 5));",
        "hotspots",
    ),
]


@pytest.mark.parametrize(("body", "kind"), KINDS, ids=[k for _, k in KINDS])
def test_each_kind_of_pump_goes_to_its_planner(body: str, kind: str) -> None:
    (pump,) = _plan(body).pumps
    assert pump.kind == kind
    assert pump.line >= 2
    operator = pump.build()
    assert operator.pump == "P"
    assert (operator.store is None) == (kind == "stateless")


def test_planners_are_asked_in_order_and_the_stateless_one_last() -> None:
    names = [type(p).__name__ for p in PLANNERS]
    assert names == [
        "RandomCutForestPlanner",
        "HotspotsPlanner",
        "ItemsTumblingPlanner",
        "StreamJoinPlanner",
        "StaggerPlanner",
        "MonotonicGroupPlanner",
        "TumblingPlanner",
        "SlidingPlanner",
        "ProjectPlanner",
    ]
    body = PUMP + f"SELECT STREAM ticker_symbol, 1 FROM {SRC};"
    statement_query = _query(body)
    matching = [type(p).__name__ for p in PLANNERS if p.matches(statement_query)]
    assert matching == ["ProjectPlanner"]


class _Everything:
    """A planner of a new kind, asked first: it plans every pump as its own kind."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def matches(self, query: PumpQuery) -> bool:
        return True

    def plan(self, query: PumpQuery) -> PlannedPump:
        self.seen.append(query.name)
        planned = ProjectPlanner().plan(query)
        planned.kind = "custom"
        return planned


def test_a_new_planner_joins_the_dispatch() -> None:
    custom = _Everything()
    body = PUMP + f"SELECT STREAM ticker_symbol, 1 FROM {SRC};"
    plan = plan_application(
        HEADER + body, application="t", inputs=INPUTS, planners=(custom, *PLANNERS)
    )
    assert [p.kind for p in plan.pumps] == ["custom"]
    assert custom.seen == ["P"]
    assert [p.kind for p in _plan(body).pumps] == ["stateless"]


def test_no_matching_planner_is_an_unsupported_query() -> None:
    query = _query(PUMP + f"SELECT STREAM ticker_symbol, 1 FROM {SRC};")
    with pytest.raises(SqlUnsupportedError, match="this kind of pump query"):
        plan_pump(query, planners=())


def _query(body: str) -> PumpQuery:
    """The PumpQuery the dispatcher gets for the one pump of ``body``."""
    captured: list[PumpQuery] = []

    class Capture:
        def matches(self, query: PumpQuery) -> bool:
            captured.append(query)
            return False

        def plan(self, query: PumpQuery) -> PlannedPump:  # pragma: no cover - never matches
            raise AssertionError

    plan_application(HEADER + body, application="t", inputs=INPUTS, planners=(Capture(), *PLANNERS))
    (query,) = captured
    return query


def test_create_stream_column_options() -> None:
    # sql-reference-create-stream.html: NOT NULL columns, a DESCRIPTION; day-time interval types
    from pipelines.sql.engine import run_rows
    from pipelines.sql.types import SqlType, TypeKind

    code = (
        'CREATE OR REPLACE STREAM "D" (\n'
        "    t VARCHAR(4) NOT NULL DESCRIPTION 'the ticker',\n"
        "    pause INTERVAL DAY(2) TO SECOND(3),\n"
        "    n BIGINT NULL) DESCRIPTION 'conditioned ticks';\n"
        + PUMP
        + "SELECT STREAM CASE WHEN change > 0 THEN ticker_symbol END, "
        "INTERVAL '1 2:03:04.5' DAY TO SECOND, 1 FROM " + SRC + ";"
    )
    plan = plan_application(code, application="t", inputs=INPUTS)
    columns = plan.streams["D"].columns
    assert [(c.name, c.not_null) for c in columns] == [("T", True), ("PAUSE", False), ("N", False)]
    assert columns[1].sql_type == SqlType(TypeKind.INTERVAL, qualifier="DAY TO SECOND")
    records = [(1000, ("AMZN", "TECH", 1.0, 10.0, 0)), (2000, ("AMZN", "TECH", -1.0, 10.0, 0))]
    streams, failures = run_rows(plan, records)
    assert [r[1:] for r in streams["D"]] == [("AMZN", 93_784_500, 1)]
    assert [f.name for f in failures] == ["Type_Coercion_Error"]  # NULL into the NOT NULL column
    assert "NOT NULL" in failures[0].message


def test_year_month_interval_columns_are_refused_with_their_place() -> None:
    # KDA's Data Types page: "Day-time intervals supported, year-month intervals not supported"
    code = 'CREATE OR REPLACE STREAM "D" (t VARCHAR(4),\n  age INTERVAL YEAR TO MONTH);'
    with pytest.raises(SqlPlanError, match="does not support the year-month interval") as info:
        plan_application(code, application="t", inputs=INPUTS)
    assert info.value.line == 2


def test_group_by_monotonic() -> None:
    # sql-reference-monotonic.html: MONOTONIC(x) is x, declared monotonic. Over a STEP/FLOOR
    # of time it is the tumbling window it wraps; over anything else its groups close when
    # the value moves on (operators/test_monotonic.py)
    body = (
        PUMP + "SELECT STREAM ticker_symbol, COUNT(*) FROM " + SRC + "\n"
        "GROUP BY ticker_symbol, MONOTONIC(STEP(ROWTIME BY INTERVAL '1' MINUTE));"
    )
    (pump,) = _plan(body).pumps
    assert pump.kind == "tumbling" and "60000 ms on ROWTIME" in pump.details[0]
    (pump,) = _plan(
        PUMP + "SELECT STREAM ticker_symbol, COUNT(*) FROM " + SRC + "\n"
        "GROUP BY MONOTONIC(ticker_symbol);"
    ).pumps
    assert pump.kind == "monotonic" and "MONOTONIC(ticker_symbol)" in pump.details[0]
