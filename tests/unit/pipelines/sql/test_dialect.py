"""The KDA dialect: statements parse with their line and KDA's shapes."""

from __future__ import annotations

import pytest
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


def test_kda_function_forms_parse() -> None:
    from pipelines.sql.dialect import parse_expression

    nth = parse_expression("NTH_VALUE(x, 2) FROM LAST IGNORE NULLS OVER w")
    assert isinstance(nth, exp.Window) and isinstance(nth.this, exp.IgnoreNulls)
    assert nth.this.this.args["from_first"] is False
    assert parse_expression("NTH_VALUE(x, 2) FROM FIRST OVER w").this.args["from_first"] is True
    similar = parse_expression("SUBSTRING(s SIMILAR 'a#\"b#\"c' ESCAPE '#')")
    assert isinstance(similar, exp.Anonymous) and similar.name.upper() == "SUBSTRING_SIMILAR"
    assert len(similar.expressions) == 3
    assert isinstance(parse_expression("SUBSTRING(s FROM 2 FOR 3)"), exp.Substring)
    ceiling = parse_expression("CEILING(ts TO HOUR)")
    assert isinstance(ceiling, exp.Ceil) and ceiling.args["to"].name.upper() == "HOUR"


def test_create_stream_column_options_parse() -> None:
    (statement,) = parse_statements(
        'CREATE OR REPLACE STREAM "OrderData" (\n'
        '    "key_order" BIGINT NOT NULL,\n'
        "    note VARCHAR(8) DESCRIPTION 'free text' NULL,\n"
        "    wait INTERVAL MINUTE(2) TO SECOND(3)\n"
        ") DESCRIPTION 'conditioned order data, ready for analysis';"
    )
    columns = statement.tree.this.expressions
    kinds = [[type(c.args["kind"]).__name__ for c in col.args.get("constraints") or []]
             for col in columns]  # fmt: skip
    assert kinds == [["NotNullColumnConstraint"], ["CommentColumnConstraint"], []]
    assert columns[2].args["kind"].sql() == "INTERVAL MINUTE TO SECOND"


def test_a_token_error_inside_the_parser_is_a_syntax_error_at_the_statement(monkeypatch) -> None:
    """sqlglot's parser tokenizes some parts again (the fuzzer found a TokenError escaping
    from a mutated application); it is a syntax error with the statement's place."""
    from sqlglot.errors import TokenError

    from ground.errors import SqlSyntaxError
    from pipelines.sql import dialect

    class Exploding:
        def parse(self, *_args):
            raise TokenError("Error tokenizing 'x'")

        def parse_into(self, *_args):
            raise TokenError("Error tokenizing 'x'")

    monkeypatch.setattr(dialect._DIALECT, "parser", lambda **_kw: Exploding())
    with pytest.raises(SqlSyntaxError, match="Error tokenizing") as info:
        dialect.parse_statements("SELECT 1;\n  SELECT STREAM a FROM s")
    assert (info.value.line, info.value.column) == (1, 6)
    with pytest.raises(SqlSyntaxError, match="Error tokenizing"):
        dialect.parse_expression("a + 1")
