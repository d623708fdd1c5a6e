"""The expression compiler's functions in pumps: the current-time functions on an injected
clock, ROW fields of the log parsers, pattern SUBSTRING, and the messages for functions used
where they are not allowed. Each test here fails on the code before these functions."""

from __future__ import annotations

from typing import Any

import pytest

from ground.errors import SqlPlanError, SqlUnsupportedError
from pipelines.sql.compiler import compile_expr
from pipelines.sql.dialect import parse_expression
from pipelines.sql.engine import run_rows
from pipelines.sql.plan import StreamColumn, plan_application
from pipelines.sql.query_clock import use_query_clock
from pipelines.sql.scope import Scope
from pipelines.sql.types import Date, SqlType, Time, Timestamp, TypeKind, parse_type

LOG = StreamColumn("LOG", parse_type("VARCHAR(256)"))
INPUTS = {"IN": [LOG, StreamColumn("N", parse_type("INTEGER"))]}
CLF = '192.168.254.30 - John [24/May/2004:22:01:02 -0700] "GET /icons/apache_pb.gif HTTP/1.1" 304 0'


def run(columns: str, select: str, records: list[tuple[int, tuple[Any, ...]]], **kw: Any) -> Any:
    code = (
        f'CREATE OR REPLACE STREAM "OUT" ({columns});\n'
        f'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM {select} FROM "IN";\n'
    )
    plan = plan_application(code, application="t", inputs=INPUTS, **kw)
    streams, failures = run_rows(plan, records, source="IN")
    return streams.get("OUT", []), failures


# ---------------------------------------------------------------- the clock


class Ticking:
    """A clock that moves 1 ms each time it is read."""

    def __init__(self, start: int) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1
        return self.now


def test_current_row_timestamp_is_the_processing_time_not_rowtime() -> None:
    # sql-reference-current-row-timestamp.html: "a new timestamp for each row … when that row
    # was output"; before, Shardline returned the row's ROWTIME.
    clock = Ticking(2_000_000_000_000)
    out, failures = run(
        "a TIMESTAMP, b TIMESTAMP",
        "CURRENT_ROW_TIMESTAMP, CURRENT_TIMESTAMP",
        [(1_000, ("x", 1)), (2_000, ("y", 2)), (3_000, ("z", 3))],
        clock=clock,
    )
    assert failures == []
    row_times = [r[1] for r in out]
    query_times = {r[2] for r in out}
    assert all(type(t) is Timestamp for t in row_times)
    assert row_times == sorted(row_times) and len(set(row_times)) == 3  # read per row
    assert all(t > 2_000_000_000_000 for t in row_times)  # the clock, not ROWTIME (1-3 s)
    # CURRENT_TIMESTAMP: "set to values at the time the query first executes"
    assert query_times == {Timestamp(2_000_000_000_001)}
    assert min(row_times) > 2_000_000_000_001


def test_query_start_functions() -> None:
    start = 1_219_801_925_206  # 2008-08-27 01:52:05.206
    out, _ = run(
        "d DATE, t TIME, lt TIME, lts TIMESTAMP",
        "CURRENT_DATE, CURRENT_TIME, LOCALTIME, LOCALTIMESTAMP",
        [(1, ("x", 1))],
        clock=lambda: start,
    )
    (row,) = out
    assert row[1:] == (
        Date(start - start % 86_400_000),
        Time(start % 86_400_000),
        Time(start % 86_400_000),
        Timestamp(start),
    )
    assert row[1].text() == "2008-08-27" and row[4].text() == "2008-08-27 01:52:05.206"


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


def test_log_parser_fields_in_a_pump() -> None:
    out, failures = run(
        "host VARCHAR(16), req VARCHAR(64), bytes BIGINT, tail VARCHAR(64)",
        "W3C_LOG_PARSE(log, 'COMMON').COLUMN1, W3C_LOG_PARSE(log, 'COMMON').COLUMN5, "
        "(W3C_LOG_PARSE(log, 'COMMON')).COLUMN7, REGEX_LOG_PARSE(log, '.*\"(.*)\".*').COLUMN1",
        [(1, (CLF, 1)), (2, ("not a log line", 2))],
    )
    assert failures == []
    assert [r[1:] for r in out] == [
        (
            "192.168.254.30",
            "GET /icons/apache_pb.gif HTTP/1.1",
            0,
            "GET /icons/apache_pb.gif HTTP/1.1",
        ),
        (None, None, None, None),
    ]


def test_a_row_is_not_a_stream_column_and_patterns_are_constants() -> None:
    with pytest.raises(SqlPlanError, match="select its fields"):
        run("v VARCHAR(9)", "SYS_LOG_PARSE(log)", [])
    with pytest.raises(SqlPlanError, match="must be constants"):
        run("v VARCHAR(9)", "REGEX_LOG_PARSE(log, log).COLUMN1", [])
    with pytest.raises(SqlUnsupportedError, match="intersection"):
        run("v VARCHAR(9)", "FAST_REGEX_LOG_PARSER(log, '(a)&(b)').COLUMN1", [])
    with pytest.raises(SqlPlanError, match="bad regular expression") as info:
        run("v VARCHAR(9)", "REGEX_LOG_PARSE(log, '(a').COLUMN1", [])
    assert info.value.line == 2  # the error names the place of the call


# ---------------------------------------------------------------- SUBSTRING by pattern


def test_substring_from_a_regex_computes_instead_of_failing_every_row() -> None:
    # before: SUBSTRING(s FROM 'regex') passed check and then failed on every row
    out, failures = run(
        "a VARCHAR(16), b VARCHAR(16)",
        "SUBSTRING(log FROM '[0-9]+'), SUBSTRING(log SIMILAR '%#\"[0-9]+#\"%' ESCAPE '#')",
        [(1, ("abc 123 def 45", 1)), (2, ("none", 2))],
    )
    assert failures == []
    assert [r[1:] for r in out] == [("123", "123"), (None, None)]
    with pytest.raises(SqlUnsupportedError, match="FROM <regex> FOR"):
        run("a VARCHAR(16)", "SUBSTRING(log FROM '[0-9]+' FOR 2)", [])


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
