"""Column references: a column named like a clock function, ROW fields of a subquery.
Each test here fails on the code before these functions.
"""

from __future__ import annotations

import pytest

from ground.errors import SqlPlanError
from pipelines.sql.compiler import compile_expr
from pipelines.sql.dialect import parse_expression
from pipelines.sql.query_clock import use_query_clock
from pipelines.sql.scope import Scope
from pipelines.sql.types import SqlType, Timestamp, TypeKind, parse_type
from tests.unit.pipelines.sql.compiler.pumps import run


def test_a_column_named_like_a_clock_function_is_the_column() -> None:
    scope = Scope()
    scope.add("LOCALTIME", 1, parse_type("VARCHAR(8)"))
    expr = compile_expr(parse_expression("LOCALTIME"), scope)
    assert expr.fn((None, "column")) == "column"
    with use_query_clock(lambda: 5):
        assert compile_expr(parse_expression("CURRENT_ROW_TIMESTAMP"), scope).fn(()) == 5


def test_localtimestamp_is_no_longer_an_unknown_column() -> None:
    out, _ = run("v TIMESTAMP", "LOCALTIMESTAMP", [(1, ("x", 1))], clock=lambda: 42)
    assert out[0][1] == Timestamp(42)


# ---------------------------------------------------------------- ROW fields


def row_scope() -> Scope:
    text = SqlType(TypeKind.VARCHAR, length=1024)
    rec = SqlType(TypeKind.ROW, fields=(("COLUMN1", text), ("COLUMN2", text)))
    scope = Scope()
    scope.add("LOGENTRY", 1, text, "T")
    scope.add("REC", 2, rec, "T")
    return scope


@pytest.mark.parametrize(
    "sql", ["T.REC.COLUMN2", "REC.COLUMN2", "t.rec.column2", 'T.REC."COLUMN2"']
)
def test_row_fields_as_a_subquery_exposes_them(sql: str) -> None:
    # the developer guide's REGEX_LOG_PARSE example reads T.REC.COLUMN1 of its subquery
    expr = compile_expr(parse_expression(sql), row_scope())
    assert expr.sql_type == SqlType(TypeKind.VARCHAR, length=1024)
    assert expr.fn((0, "line", ("a", "b"))) == "b"
    assert expr.fn((0, "line", None)) is None  # a NULL row (no match) has NULL fields


def test_row_field_errors() -> None:
    with pytest.raises(SqlPlanError, match="has no field COLUMN9; its fields: COLUMN1, COLUMN2"):
        compile_expr(parse_expression("T.REC.COLUMN9"), row_scope())
    with pytest.raises(SqlPlanError, match="reads a field of a ROW"):
        compile_expr(parse_expression("T.LOGENTRY.X"), row_scope())
