"""The rule: an application ``sql check`` accepts computes what KDA computes; what is not
supported yet is refused, naming the construct and its place in ``app.sql``.

This lists every construct the planner refuses — each the smallest pump that uses it — and
checks each through ``check_application`` on an application folder: the error is a
:class:`~ground.errors.SqlUnsupportedError` whose ``construct`` names it, at the line and
column of the construct in ``app.sql`` (``AT`` marks where, in the pump's text). A few
constructs KDA itself refuses are listed too, as :class:`~ground.errors.SqlPlanError`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ground.errors import SqlError, SqlPlanError, SqlUnsupportedError
from pipelines.sql.application import check_application

APPLICATION = Path(__file__).parents[3] / "integration" / "sql_apps" / "reference_join"
HEADER = """-- two streams and the pump under test
CREATE OR REPLACE STREAM "D" (a VARCHAR(16), b DOUBLE);
CREATE OR REPLACE STREAM "U" (a VARCHAR(16), b DOUBLE);
CREATE OR REPLACE PUMP "UP" AS INSERT INTO "U"
SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001" WHERE change > 0;
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D"
"""
SRC = '"SOURCE_SQL_STREAM_001"'
W = "OVER (RANGE INTERVAL '1' MINUTE PRECEDING)"
#: marks the place the error names (removed from the code)
AT = "@"

UNSUPPORTED: list[tuple[str, str | None, str]] = [
    # none: every construct KDA had runs (REFUSED_BY_KDA below lists what KDA did not have)
]

#: Constructs KDA refuses too (SqlPlanError), with the place.
REFUSED_BY_KDA = [
    # sliding windows: the WINDOW clause's syntax (RANGE INTERVAL … PRECEDING | ROWS n
    # PRECEDING, no ORDER BY); Allowed and Disallowed Window Specifications (no offset or
    # infinite windows)
    ("FOLLOWING aggregation window",
     f"SELECT STREAM sector, SUM(price) OVER (RANGE @INTERVAL '1' MINUTE FOLLOWING) FROM {SRC}",
     "KDA aggregates over windows that end with the current row"),
    ("offset aggregation window",
     f"SELECT STREAM sector, SUM(price) OVER (ROWS BETWEEN @5 PRECEDING AND 2 PRECEDING) "
     f"FROM {SRC}", "KDA aggregates over windows that end with the current row"),
    ("unbounded aggregation window",
     f"SELECT STREAM sector, SUM(price) @OVER (ROWS UNBOUNDED PRECEDING) FROM {SRC}",
     "You cannot define an infinite window"),
    ("sliding window ordered by a column",
     f"SELECT STREAM sector, SUM(price) OVER (@ORDER BY price RANGE INTERVAL '1' MINUTE "
     f"PRECEDING) FROM {SRC}", "KDA for SQL does not support a sliding window ordered by"),
    ("RANGE of a number",
     f"SELECT STREAM sector, SUM(price) OVER (RANGE @5 PRECEDING) FROM {SRC}",
     "KDA for SQL does not support RANGE 5 without an INTERVAL"),
    # not part of KDA's dialect (SQL Reference: Query — "UNION ALL is the only set operator
    # that can be applied to streams"; SELECT statement — its syntax has no LIMIT, WITH …)
    ("UNION", f"SELECT STREAM sector, price FROM {SRC} @UNION SELECT STREAM a, b FROM U",
     "KDA for SQL does not support UNION of streams (UNION ALL is the only"),
    ("EXCEPT", f"SELECT STREAM sector, price FROM {SRC} @EXCEPT SELECT STREAM a, b FROM U",
     "KDA for SQL does not support EXCEPT of streams"),
    ("INTERSECT",
     f"SELECT STREAM sector, price FROM {SRC} @INTERSECT SELECT STREAM a, b FROM U",
     "KDA for SQL does not support INTERSECT of streams"),
    # IN and EXISTS test a relation (Streaming SQL Operators): a stream's whole history is
    # none (JOIN clause), windows go in analytic functions and stream joins (WINDOW Clause)
    ("IN a subquery over a stream",
     f"SELECT STREAM sector, price FROM {SRC} WHERE sector IN (SELECT a FROM @U)",
     "KDA for SQL does not support IN (subquery over stream U)"),
    ("EXISTS over a stream",
     f"SELECT STREAM sector, price FROM {SRC} WHERE EXISTS (SELECT a FROM @U WHERE a = sector)",
     "KDA for SQL does not support EXISTS (subquery over stream U)"),
    ("IN a subquery over a windowed stream",
     f"SELECT STREAM sector, price FROM {SRC} WHERE sector IN (SELECT a FROM @U {W})",
     "KDA for SQL does not support IN (subquery over stream U)"),
    ("a stream joined in an EXISTS subquery",
     f"SELECT STREAM sector, price FROM {SRC} WHERE EXISTS (SELECT 1 FROM \"CompanyName\" AS c "
     'JOIN @U ON c."Ticker" = U.a)',
     "KDA for SQL does not support EXISTS (subquery over stream U)"),
    ("a stream in a set operation of an IN subquery",
     f"SELECT STREAM sector, price FROM {SRC} WHERE ticker_symbol IN (SELECT \"Ticker\" "
     'FROM "CompanyName" UNION SELECT a FROM @U)',
     "KDA for SQL does not support IN (subquery over stream U)"),
    ("SELECT STREAM in an IN subquery",
     f"SELECT STREAM sector, price FROM {SRC} WHERE ticker_symbol IN (SELECT STREAM "
     '@"Ticker" FROM "CompanyName")', "KDA for SQL does not support SELECT STREAM in an IN"),
    ("a window in an IN subquery",
     f"SELECT STREAM sector, price FROM {SRC} WHERE ticker_symbol IN (SELECT MAX(\"Ticker\") "
     '@OVER (ROWS 2 PRECEDING) FROM "CompanyName")',
     "KDA for SQL does not support a window over a reference table"),
    ("INTERSECT ALL in an IN subquery",
     f"SELECT STREAM sector, price FROM {SRC} WHERE ticker_symbol IN (SELECT \"Ticker\" "
     'FROM "CompanyName" @INTERSECT ALL SELECT "Company" FROM "CompanyName")',
     "KDA for SQL does not support INTERSECT ALL"),
    ("LIMIT in an IN subquery",
     f"SELECT STREAM sector, price FROM {SRC} WHERE ticker_symbol IN (SELECT \"Ticker\" "
     'FROM "CompanyName" @LIMIT 2)', "KDA for SQL does not support LIMIT"),
    ("LIMIT", f"SELECT STREAM sector, price FROM {SRC} @LIMIT 3",
     "KDA for SQL does not support LIMIT (not in its SELECT syntax"),
    ("WITH", f"@WITH w AS (SELECT STREAM * FROM {SRC}) SELECT STREAM sector, price FROM w",
     "KDA for SQL does not support WITH"),
    ("DISTINCT ON", f"SELECT STREAM DISTINCT ON (@sector) sector, price FROM {SRC}",
     "KDA for SQL does not support DISTINCT ON"),
    ("GROUP BY a position",
     f"SELECT STREAM sector, MAX(price) FROM {SRC} GROUP BY @1, STEP(ROWTIME BY INTERVAL "
     "'1' MINUTE)", "KDA for SQL does not support GROUP BY a position"),
    ("LOG to a base", f"SELECT STREAM sector, @LOG(2, price) FROM {SRC}",
     "KDA for SQL does not support LOG with a base other than 10"),
    ("HAVING without GROUP BY", f"SELECT STREAM sector, price FROM {SRC} @HAVING price > 1",
     "HAVING needs a GROUP BY"),
    ("ORDER BY not led by time",
     f"SELECT STREAM sector, price FROM {SRC} ORDER BY @price", "leads with a time-based"),
    ("DISTINCT without a time", f"SELECT STREAM DISTINCT @sector, price FROM {SRC}",
     "SELECT STREAM DISTINCT needs a time-based monotonic item"),
    ("DISTINCT over GROUP BY without a time",
     f"SELECT STREAM DISTINCT @sector, MAX(price) FROM {SRC} "
     "GROUP BY sector, STEP(ROWTIME BY INTERVAL '1' MINUTE)",
     "SELECT STREAM DISTINCT needs a time-based monotonic item"),
    # the aggregate pages: MIN, MAX, FIRST_VALUE … have no DISTINCT; one number-expression
    ("MIN(DISTINCT)",
     f"SELECT STREAM sector, @MIN(DISTINCT price) FROM {SRC} "
     "GROUP BY sector, STEP(ROWTIME BY INTERVAL '1' MINUTE)",
     "KDA for SQL does not support MIN(DISTINCT …) (its syntax has no DISTINCT"),
    ("MAX(DISTINCT) OVER a window",
     f"SELECT STREAM sector, @MAX(DISTINCT price) OVER (RANGE INTERVAL '1' MINUTE PRECEDING) "
     f"FROM {SRC}", "KDA for SQL does not support MAX(DISTINCT …)"),
    ("FIRST_VALUE(DISTINCT) in a stagger window",
     f"SELECT STREAM sector, @FIRST_VALUE(DISTINCT price) FROM {SRC} WINDOWED BY STAGGER "
     "(PARTITION BY sector RANGE INTERVAL '1' MINUTE)",
     "KDA for SQL does not support FIRST_VALUE(DISTINCT …)"),
    ("COUNT(DISTINCT) of two expressions",
     f"SELECT STREAM sector, @COUNT(DISTINCT price, change) FROM {SRC} "
     "GROUP BY sector, STEP(ROWTIME BY INTERVAL '1' MINUTE)",
     "KDA for SQL does not support COUNT(DISTINCT …) of several expressions"),
    # the JOIN clause: a reference table is joined row by row of the stream; a cross join
    # has no condition; USING names columns both sides have (ROWTIME is none)
    ("RIGHT JOIN reference table",
     f"SELECT STREAM c.\"Company\", price FROM {SRC} @RIGHT JOIN \"CompanyName\" AS c "
     "ON ticker_symbol = c.\"Ticker\"", "RIGHT JOIN with a reference table: KDA joins"),
    ("FULL JOIN reference table",
     f"SELECT STREAM c.\"Company\", price FROM {SRC} @FULL OUTER JOIN \"CompanyName\" AS c "
     "ON ticker_symbol = c.\"Ticker\"", "FULL JOIN with a reference table: KDA joins"),
    ("CROSS JOIN … USING",
     f"SELECT STREAM c.\"Company\", price FROM {SRC} @CROSS JOIN \"CompanyName\" AS c "
     "USING (\"Ticker\")", "A cross join never has an ON or USING condition"),
    ("NATURAL CROSS JOIN",
     f"SELECT STREAM u.a, u.b FROM U AS s @NATURAL CROSS JOIN U {W} AS u",
     "A cross join never has an ON or USING condition"),
    ("USING a column one side lacks",
     f"SELECT STREAM sector, price FROM {SRC} @JOIN \"CompanyName\" USING (sector)",
     "JOIN … USING: column SECTOR is not on its right side"),
    ("USING (ROWTIME)",
     f"SELECT STREAM u.a, u.b FROM U AS s @JOIN U {W} AS u USING (ROWTIME)",
     "ROWTIME is no column a join matches"),
    ("a stream join without a window",
     f"SELECT STREAM u.a, u.b FROM {SRC} AS s JOIN @U AS u ON s.sector = u.a",
     "needs a window on one side"),
    # windows start or end with the current row (Allowed and Disallowed Window
    # Specifications); the JOIN clause defines a ROWS window by a count of rows
    ("join window across the current row",
     f"SELECT STREAM u.a, u.b FROM {SRC} AS s JOIN U OVER (RANGE BETWEEN @INTERVAL '1' "
     "MINUTE PRECEDING AND INTERVAL '1' MINUTE FOLLOWING) AS u ON s.sector = u.a",
     "KDA for SQL does not support a JOIN window that spans the current row"),
    ("offset join window",
     f"SELECT STREAM u.a, u.b FROM {SRC} AS s JOIN U OVER (ROWS BETWEEN @5 PRECEDING AND "
     "2 PRECEDING) AS u ON s.sector = u.a", "which does not end with the current row"),
    ("ROWS CURRENT ROW join window",
     f"SELECT STREAM u.a, u.b FROM {SRC} AS s JOIN U @OVER (ROWS CURRENT ROW) AS u "
     "ON s.sector = u.a", "KDA for SQL does not support ROWS CURRENT ROW (a count of no rows)"),
    ("a partitioned join window",
     f"SELECT STREAM u.a, u.b FROM {SRC} AS s JOIN U @OVER (PARTITION BY a RANGE INTERVAL "
     "'1' MINUTE PRECEDING) AS u ON s.sector = u.a", "a JOIN window cannot be partitioned"),
    ("a window on a stream without a JOIN",
     f"SELECT STREAM sector, price FROM {SRC} @OVER (RANGE INTERVAL '1' MINUTE PRECEDING)",
     "a window on a stream without a JOIN"),
    ("a T-sort without its timestamp AS ROWTIME",
     f"SELECT STREAM sector, price FROM {SRC} ORDER BY event_time WITHIN @INTERVAL '1' MINUTE",
     "needs ts in the SELECT list AS ROWTIME"),
    ("a T-sort on the result's ROWTIME",
     f"SELECT STREAM event_time AS ROWTIME, sector FROM {SRC} ORDER BY @ROWTIME WITHIN "
     "INTERVAL '1' MINUTE", "cannot use the result's ROWTIME"),
    ("a descending T-sort",
     f"SELECT STREAM event_time AS ROWTIME, sector FROM {SRC} ORDER BY @event_time DESC WITHIN "
     "INTERVAL '1' MINUTE", "a T-sort sorts ascending"),
    ("a malformed number", f"SELECT STREAM sector, @1E FROM {SRC}", "1E is not a number"),
    # a name that is not KDA's: said so at its place, not read as something else
    ("an unknown function", f"SELECT STREAM sector, @NOPE(price) FROM {SRC}",
     "unknown function NOPE"),
    ("an unknown function of another dialect", f"SELECT STREAM sector, @CONCAT(sector, 'x') "
     f"FROM {SRC}", "unknown function CONCAT"),
    ("an unknown aggregate-like function in GROUP BY",
     f"SELECT STREAM sector, @MINN(price) FROM {SRC} GROUP BY sector, STEP({SRC}.ROWTIME BY "
     "INTERVAL '1' MINUTE)", "unknown function MINN"),
    ("an unknown function in HAVING",
     f"SELECT STREAM sector, MAX(price) FROM {SRC} GROUP BY sector, STEP({SRC}.ROWTIME BY "
     "INTERVAL '1' MINUTE) HAVING @MINN(price) > 1", "unknown function MINN"),
    ("an unknown function in a stagger window",
     f"SELECT STREAM sector, @MINN(price) FROM {SRC} WINDOWED BY STAGGER (PARTITION BY sector "
     "RANGE INTERVAL '1' MINUTE)", "unknown function MINN"),
    ("an unknown function OVER a window",
     f"SELECT STREAM sector, @MINN(price) OVER (RANGE INTERVAL '1' MINUTE PRECEDING) FROM {SRC}",
     "unknown function MINN"),
    ("an unknown function as a window",
     f"SELECT STREAM sector, COUNT(*) FROM {SRC} GROUP BY sector, @NOPE({SRC}.ROWTIME)",
     "unknown function NOPE"),
    ("an unknown table function",
     f"SELECT STREAM * FROM TABLE(@NOPE(CURSOR(SELECT STREAM * FROM {SRC})))",
     "unknown table function NOPE"),
    # a scalar function has no window (SQL Reference, WINDOW Clause)
    ("a scalar function OVER a window",
     f"SELECT STREAM sector, @ABS(price) OVER W FROM {SRC} WINDOW W AS "
     "(RANGE INTERVAL '1' MINUTE PRECEDING)",
     "KDA for SQL does not support ABS(price) OVER a window"),
    # WEEK and QUARTER are not KDA time units (SQL Reference, Data Types)
    ("FLOOR TO WEEK window",
     f"SELECT STREAM sector, MAX(price) FROM {SRC} GROUP BY sector, FLOOR(@ROWTIME TO WEEK)",
     "KDA for SQL does not support WEEK as a window's unit"),
    # year-month intervals: values of expressions, never a column's type (Data Types)
    ("a year-month interval column", None,
     "KDA for SQL does not support the year-month interval type"),
    # ... nor a window's or a sort's length (WINDOW Clause: RANGE INTERVAL 'interval'
    # {SECOND | MINUTE | HOUR}), nor what SUM, AVG and the statistics take (number-expression)
    ("a year-month sliding window",
     f"SELECT STREAM sector, SUM(price) OVER (RANGE @INTERVAL '1' MONTH PRECEDING) FROM {SRC}",
     "KDA for SQL does not support a year-month interval (INTERVAL '1' MONTH) as a window's"),
    ("a year-month join window",
     f"SELECT STREAM u.a, u.b FROM {SRC} AS s JOIN U OVER (RANGE @INTERVAL '1-2' YEAR TO "
     "MONTH PRECEDING) AS u ON s.sector = u.a",
     "KDA for SQL does not support a year-month interval (INTERVAL '1-2' YEAR TO MONTH)"),
    ("a year-month T-sort",
     f"SELECT STREAM event_time AS ROWTIME, sector FROM {SRC} ORDER BY event_time WITHIN "
     "@INTERVAL '1' YEAR", "as a window's or a sort's length"),
    ("a year-month stagger window",
     f"SELECT STREAM sector, COUNT(*) FROM {SRC} WINDOWED BY STAGGER (PARTITION BY sector "
     "RANGE @INTERVAL '1' MONTH)", "as a window's or a sort's length"),
    ("SUM of a year-month interval",
     f"SELECT STREAM sector, @SUM(INTERVAL '1' MONTH) FROM {SRC} "
     "GROUP BY sector, STEP(ROWTIME BY INTERVAL '1' MINUTE)",
     "KDA for SQL does not support SUM of a year-month interval: its syntax takes a "
     "number-expression"),
    ("AVG(DISTINCT) of a year-month interval OVER a window",
     f"SELECT STREAM sector, @AVG(DISTINCT INTERVAL '1' MONTH * price) OVER (RANGE INTERVAL "
     f"'1' MINUTE PRECEDING) FROM {SRC}",
     "KDA for SQL does not support AVG of a year-month interval"),
    ("STDDEV_SAMP of a year-month interval in a stagger window",
     f"SELECT STREAM sector, @STDDEV_SAMP(INTERVAL '1' MONTH) FROM {SRC} WINDOWED BY STAGGER "
     "(PARTITION BY sector RANGE INTERVAL '1' MINUTE)",
     "KDA for SQL does not support STDDEV_SAMP of a year-month interval"),
    ("EXP_AVG of a year-month interval",
     f"SELECT STREAM sector, @EXP_AVG(INTERVAL '1' MONTH, INTERVAL '10' SECOND) OVER (RANGE "
     f"INTERVAL '1' MINUTE PRECEDING) FROM {SRC}",
     "KDA for SQL does not support EXP_AVG of a year-month interval"),
    ("a year-month interval with a day-time one",
     f"SELECT STREAM sector, price FROM {SRC} WHERE event_time > ROWTIME - "
     "(@INTERVAL '1' MONTH + INTERVAL '1' DAY)", "cannot apply ADD to"),
    ("a subquery renaming ROWTIME",
     f"SELECT STREAM a, b FROM (SELECT STREAM sector, price FROM {SRC}) AS @t(ROWTIME, b)",
     "ROWTIME is not a column a subquery can name"),
]

_SPECIAL = {
    "a year-month interval column": (
        HEADER.replace('"D" (a VARCHAR(16), b DOUBLE)', '"D" (a VARCHAR(16), @b INTERVAL MONTH)')
        + f"SELECT STREAM sector, price FROM {SRC};\n"
    ),
}


def _code(name: str, body: str | None) -> str:
    return _SPECIAL[name] if body is None else HEADER + body + ";\n"


def _place(code: str) -> tuple[int, int]:
    before = code[: code.index(AT)]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def _check(tmp_path: Path, code: str) -> SqlError:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "application.yaml").write_text((APPLICATION / "application.yaml").read_text())
    (folder / "app.sql").write_text(code.replace(AT, ""))
    with pytest.raises(SqlError) as caught:
        check_application(folder)
    return caught.value


@pytest.mark.parametrize(
    ("name", "body", "construct"), UNSUPPORTED, ids=[case[0] for case in UNSUPPORTED]
)
def test_each_unsupported_construct_is_refused_at_its_place(
    tmp_path: Path, name: str, body: str | None, construct: str
) -> None:
    code = _code(name, body)
    error = _check(tmp_path, code)
    assert isinstance(error, SqlUnsupportedError), error
    assert construct in error.construct
    assert (error.line, error.column) == _place(code), error


@pytest.mark.parametrize(
    ("name", "body", "text"), REFUSED_BY_KDA, ids=[case[0] for case in REFUSED_BY_KDA]
)
def test_what_kda_refuses_is_refused_at_its_place(
    tmp_path: Path, name: str, body: str, text: str
) -> None:
    code = _code(name, body)
    error = _check(tmp_path, code)
    assert isinstance(error, SqlPlanError), error
    assert text in error.message
    assert (error.line, error.column) == _place(code), error


def test_the_list_has_each_construct_once() -> None:
    names = [case[0] for case in UNSUPPORTED + REFUSED_BY_KDA]
    assert len(names) == len(set(names))


#: Once refused by the stage planner: a stream written by pumps on both sides of a repartition
#: (D: by P behind a repartition by sector, and by Q in stage 0), read by another pump. The
#: stage planner places every application the rest of the planner accepts.
_OUTPUT = 'CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (a VARCHAR(16));\n'
BOTH_SIDES = (
    _OUTPUT + HEADER + f"SELECT STREAM sector, COUNT(*) FROM {SRC}\n"
    "GROUP BY sector, STEP(ROWTIME BY INTERVAL '1' MINUTE);\n"
    'CREATE OR REPLACE PUMP "Q" AS INSERT INTO "D" SELECT STREAM a, b FROM U;\n'
    'CREATE OR REPLACE PUMP "R" AS INSERT INTO "DESTINATION_SQL_STREAM"\n'
    "SELECT STREAM a FROM D;\n"
)


@pytest.mark.parametrize("reader", ["SELECT STREAM a FROM D",
                                    "SELECT STREAM a FROM D GROUP BY a, STEP(D.ROWTIME BY "
                                    "INTERVAL '1' MINUTE)"])  # fmt: skip
def test_a_stream_written_on_both_sides_of_a_repartition_is_not_refused(
    tmp_path: Path, reader: str
) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "application.yaml").write_text((APPLICATION / "application.yaml").read_text())
    (folder / "app.sql").write_text(BOTH_SIDES.replace("SELECT STREAM a FROM D", reader))
    config, plan = check_application(folder)
    assert {p.name for p in plan.pumps} >= {"P", "Q", "R", "UP"}
