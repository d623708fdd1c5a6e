"""The KDA dialect: statements parse with their line and KDA's shapes."""

from __future__ import annotations

from sqlglot import exp

from pipelines.sql.dialect import parse_statements

HEADER = 'CREATE OR REPLACE STREAM "D" (t VARCHAR(4), n BIGINT);\n'
SRC = '"SOURCE_SQL_STREAM_001"'


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
