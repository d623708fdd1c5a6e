"""The SQL front end: KDA statements parse, and every error names its line and column."""

from __future__ import annotations

import pytest
from sqlglot import exp

from ground.errors import SqlPlanError, SqlSyntaxError, SqlUnsupportedError
from pipelines.sql.dialect import parse_statements
from pipelines.sql.plan import plan_application
from tests.unit.pipelines.sql.corpus import TICKER_COLUMNS

INPUTS = {"SOURCE_SQL_STREAM_001": TICKER_COLUMNS}
HEADER = 'CREATE OR REPLACE STREAM "D" (t VARCHAR(4), n BIGINT);\n'
SRC = '"SOURCE_SQL_STREAM_001"'
PUMP = "CREATE OR REPLACE PUMP P AS INSERT INTO D\n"


def _plan(body: str):
    return plan_application(HEADER + body, application="t", inputs=INPUTS)


def test_statements_carry_their_line_and_kda_shapes() -> None:
    code = (
        "-- comment\n"
        + HEADER
        + 'CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"\n'
        + "SELECT STREAM ticker_symbol, COUNT(*) FROM "
        + SRC
        + "\n"
        + "GROUP BY ticker_symbol, STEP(ROWTIME BY INTERVAL '1' MINUTE);\n"
    )
    first, second = parse_statements(code)
    assert (first.line, second.line) == (2, 3)
    assert first.tree.args["kind"] == "STREAM"
    select = second.tree.args["expression"].expression
    assert isinstance(select, exp.Select) and select.args["stream"] is True


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
            SqlUnsupportedError,
            0,
            0,
            "RANDOM_CUT_FOREST",
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


def test_unsupported_names_the_construct() -> None:
    with pytest.raises(SqlUnsupportedError) as caught:
        _plan(
            PUMP + "SELECT STREAM o.ticker_symbol, 1 FROM "
            f"{SRC} AS o RIGHT JOIN {SRC} OVER "
            "(RANGE INTERVAL '1' MINUTE PRECEDING) AS t ON o.ticker_symbol = t.ticker_symbol;"
        )
    assert caught.value.construct == "RIGHT stream-to-stream JOIN"


def test_window_state_alignment_with_the_partition_key() -> None:
    plan = plan_application(
        'CREATE OR REPLACE STREAM "A" (t VARCHAR(4), n BIGINT);\n'
        'CREATE OR REPLACE STREAM "B" (s VARCHAR(16), n BIGINT);\n'
        'CREATE OR REPLACE STREAM "C" (t VARCHAR(4), p REAL);\n'
        "CREATE OR REPLACE PUMP PA AS INSERT INTO A SELECT STREAM ticker_symbol, COUNT(*)\n"
        f"FROM {SRC} GROUP BY ticker_symbol, STEP(ROWTIME BY INTERVAL '1' MINUTE);\n"
        "CREATE OR REPLACE PUMP PB AS INSERT INTO B SELECT STREAM sector, COUNT(*)\n"
        f"FROM {SRC} GROUP BY sector, STEP(ROWTIME BY INTERVAL '1' MINUTE);\n"
        "CREATE OR REPLACE PUMP PC AS INSERT INTO C SELECT STREAM ticker_symbol, price\n"
        f"FROM {SRC} WHERE price > 1;\n",
        application="t",
        inputs=INPUTS,
    )
    by_name = {p.name: p for p in plan.pumps}
    assert by_name["PA"].aligned_with(["TICKER_SYMBOL"])
    assert not by_name["PB"].aligned_with(["TICKER_SYMBOL"])
    assert not by_name["PA"].aligned_with([])  # nothing declared: cannot know
    assert by_name["PC"].aligned_with([])  # stateless: always fine
