"""Function vectors: every example with input and output on a function page of the KDA SQL
Reference, run through the whole front end (plan an application whose pump selects the
expression, run one record) and compared with the page's result.

Each vector cites its page (``sql-reference-<name>.html`` under
docs.aws.amazon.com/kinesisanalytics/latest/sqlref/). Pages whose examples show only a
screenshot of the output (UNIX_TIMESTAMP, TO_TIMESTAMP, REGEX_REPLACE, LAG, the aggregate
pages on the stock demo stream) or no example at all (CHAR_TO_DATE, CHAR_TO_TIME,
DATE_TO_CHAR, TIME_TO_CHAR, NTH_VALUE, FIXED_COLUMN_LOG_PARSE, SYS_LOG_PARSE) have no vector
here; their behaviour is tested in the modules' own tests. Where a page's result depends on
the clock (CURRENT_DATE …), the worker clock is set to the page's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from ground.errors import SqlUnsupportedError
from pipelines.sql.engine import run_rows
from pipelines.sql.plan import StreamColumn, plan_application
from pipelines.sql.types import Interval, Time, Timestamp, parse_timestamp, parse_type

RECORD_MS = 1_700_000_000_000


def ts(text: str) -> Timestamp:
    return parse_timestamp(text)


def ms(text: str) -> int:
    return int(parse_timestamp(text))


def interval(days: int = 0, hours: int = 0, minutes: int = 0, seconds: float = 0) -> Interval:
    total = ((days * 24 + hours) * 60 + minutes) * 60_000 + round(seconds * 1000)
    return Interval(total)


@dataclass(frozen=True)
class Vector:
    page: str
    sql: str
    expected: Any
    #: the output column's type
    out: str = "VARCHAR(256)"
    #: input columns (name, SQL type, value); one dummy column when empty
    row: tuple[tuple[str, str, Any], ...] = ()
    #: the worker clock (epoch ms) for the current-time functions
    clock_ms: int | None = None
    #: KDA refuses the expression; Shardline must refuse it at plan time too
    refused: bool = False
    #: the row fails with this ERROR_NAME (KDA: "no rows selected" / an exception)
    error: str | None = None

    @property
    def id(self) -> str:
        return f"{self.page.removeprefix('sql-reference-').removesuffix('.html')}: {self.sql}"


def V(page: str, sql: str, expected: Any, **kwargs: Any) -> Vector:
    return Vector(f"sql-reference-{page}.html", sql, expected, **kwargs)


NUM = "DOUBLE"
INT = "BIGINT"
TS = "TIMESTAMP"
IV = "INTERVAL DAY TO SECOND"

VECTORS: list[Vector] = [
    # ------------------------------------------------------------------ numeric functions
    V("abs", "ABS(2.0)", 2.0, out=NUM),
    V("abs", "ABS(-1.0)", 1.0, out=NUM),
    V("abs", "ABS(0)", 0, out=INT),
    V("abs", "ABS(-3 * 3)", 9, out=INT),
    V("abs", "ABS(INTERVAL '-3 4:20' DAY TO MINUTE)", interval(3, 4, 20), out=IV),
    V("abs", "CAST(ABS(INTERVAL '-3 4:20' DAY TO MINUTE) AS VARCHAR(8))", "+3 04:20"),
    V("ceil", "CEIL(2.0)", 2, out=NUM),
    V("ceil", "CEIL(-1.0)", -1, out=NUM),
    V("ceil", "CEIL(5.2)", 6, out=NUM),
    V("ceil", "CEILING(-3.3)", -3, out=NUM),
    V("ceil", "CEILING(-3 * 3.1)", -9, out=NUM),
    V(
        "ceil",
        "CEILING(TIMESTAMP '2004-09-30 13:48:23' TO HOUR)",
        ts("2004-09-30 14:00:00"),
        out=TS,
    ),
    V(
        "ceil",
        "CEILING(TIMESTAMP '2004-09-30 13:48:23' TO MINUTE)",
        ts("2004-09-30 13:49:00"),
        out=TS,
    ),
    V("ceil", "CEILING(TIMESTAMP '2004-09-30 13:48:23' TO DAY)", ts("2004-10-01 00:00:00"), out=TS),
    V(
        "ceil",
        "CEILING(TIMESTAMP '2004-09-30 13:48:23' TO YEAR)",
        ts("2005-01-01 00:00:00"),
        out=TS,
    ),
    V("exp", "EXP(1)", 2.7182818284590455, out=NUM),
    V("exp", "EXP(0)", 1.0, out=NUM),
    V("exp", "EXP(-1)", 0.36787944117144233, out=NUM),
    V("exp", "EXP(10)", 22026.465794806718, out=NUM),
    V("exp", "EXP(2.5)", 12.182493960703473, out=NUM),
    V("floor", "FLOOR(2.0)", 2, out=NUM),
    V("floor", "FLOOR(-1.0)", -1, out=NUM),
    V("floor", "FLOOR(5.2)", 5, out=NUM),
    V("floor", "FLOOR(-3.3)", -4, out=NUM),
    V("floor", "FLOOR(-3 * 3.1)", -10, out=NUM),
    V("floor", "FLOOR(TIMESTAMP '2004-09-30 13:48:23' TO HOUR)", ts("2004-09-30 13:00:00"), out=TS),
    V(
        "floor",
        "FLOOR(TIMESTAMP '2004-09-30 13:48:23' TO MINUTE)",
        ts("2004-09-30 13:48:00"),
        out=TS,
    ),
    V("floor", "FLOOR(TIMESTAMP '2004-09-30 13:48:23' TO DAY)", ts("2004-09-30 00:00:00"), out=TS),
    V("floor", "FLOOR(TIMESTAMP '2004-09-30 13:48:23' TO YEAR)", ts("2004-01-01 00:00:00"), out=TS),
    V("ln", "LN(1)", 0.0, out=NUM),
    V("ln", "LN(10)", 2.302585092994046, out=NUM),
    V("ln", "LN(2.5)", 0.9162907318741551, out=NUM),
    V("log10", "LOG10(1)", 0.0, out=NUM),
    V("log10", "LOG10(100)", 2.0, out=NUM),
    V("log10", "log10(cast('23' as decimal))", 1.3617278360175928, out=NUM),
    V("mod", "MOD(4,2)", 0, out=INT),
    V("mod", "MOD(5,3)", 2, out=INT),
    V("mod", "MOD(-4,3)", -1, out=INT),
    V("mod", "MOD(5,12)", 5, out=INT),
    V("power", "POWER(3,2)", 9, out=NUM),
    V("power", "POWER(-2,3)", -8, out=NUM),
    V("power", "POWER(4,-2)", 0.0625, out=NUM),
    V("power", "POWER(10.1,2.5)", 324.19285157140644, out=NUM),
    V("step", "STEP(23 BY 5)", 20, out=INT),
    V("step", "STEP(30 BY 10)", 30, out=INT),
    V(
        "step",
        "STEP(CAST('2004-09-30 13:48:23' as TIMESTAMP) BY INTERVAL '10' SECOND)",
        ts("2004-09-30 13:48:20"),
        out=TS,
    ),
    # ------------------------------------------------------------------ null functions
    V("coalesce", "COALESCE('chair')", "chair"),
    V("coalesce", "COALESCE('chair', null, 'sofa')", "chair"),
    V("coalesce", "COALESCE(null, null, 'sofa')", "sofa"),
    V("coalesce", "COALESCE(null, 2, 5)", 2, out=INT),
    V("nullif", "NULLIF(4,2)", 4, out=INT),
    V("nullif", "NULLIF(4,4)", None, out=INT),
    V("nullif", "NULLIF('amy','fred')", "amy"),
    V("nullif", "NULLIF('amy', cast(null as varchar(3)))", "amy"),
    V("nullif", "NULLIF(cast(null as varchar(3)),'fred')", None),
    # ------------------------------------------------------------------ string functions
    V("char-length", "CHAR_LENGTH('one')", 3, out=INT),
    V("char-length", "CHAR_LENGTH('')", 0, out=INT),
    V("char-length", "CHARACTER_LENGTH('fred')", 4, out=INT),
    V("char-length", "CHARACTER_LENGTH( cast (null as varchar(16) ))", None, out=INT),
    V("char-length", "CHARACTER_LENGTH( cast ('fred' as char(16) ))", 16, out=INT),
    V("initcap", "INITCAP('Each FIRST lEtTeR is cAPITALIZED')", "Each First Letter Is Capitalized"),
    V("overlay", "OVERLAY ('12345' PLACING 'foo' FROM 1)", "foo45"),
    V("overlay", "OVERLAY ('12345' PLACING 'foo' FROM 0)", "foo345"),
    V("overlay", "OVERLAY ('12345' PLACING 'foo' FROM -2)", "foo12345"),
    V("overlay", "OVERLAY ('12345' PLACING 'foo' FROM 4)", "123foo"),
    V("overlay", "OVERLAY ('12345' PLACING 'foo' FROM 17)", "12345foo"),
    V("overlay", "OVERLAY ('12345' PLACING 'foo' FROM 2 FOR 0)", "1foo2345"),
    V("overlay", "OVERLAY ('12345' PLACING 'foo' FROM 2 FOR 2)", "1foo45"),
    V("overlay", "OVERLAY ('12345' PLACING 'foo' FROM 2 FOR 9)", "1foo"),
    V("position", "POSITION ('findme' IN '1234findmeXXX')", 5, out=INT),
    V("position", "POSITION ('findme' IN '1234not-hereXXX')", 0, out=INT),
    V("position", "POSITION ('1' IN '1234567')", 1, out=INT),
    V("position", "POSITION ('7' IN '1234567')", 7, out=INT),
    V("position", "POSITION ('' IN '1234567')", 1, out=INT),
    V("substring", "SUBSTRING('123456789' FROM 3 FOR 4)", "3456"),
    V("substring", "SUBSTRING('123456789' FROM 17 FOR 4)", ""),
    V("substring", "SUBSTRING('123456789' FROM -1 FOR 4)", "12"),
    V("substring", "SUBSTRING('123456789' FROM 6 FOR 0)", ""),
    V("substring", "SUBSTRING('123456789' FROM 8 FOR 4)", "89"),
    V("trim", "TRIM(' Trim front and back ')", "Trim front and back"),
    V("trim", "TRIM (BOTH FROM ' Trim front and back ')", "Trim front and back"),
    V("trim", "TRIM (BOTH ' ' FROM ' Trim front and back ')", "Trim front and back"),
    V("trim", "TRIM (LEADING 'x' FROM 'xxxTrim frontxxx')", "Trim frontxxx"),
    V("trim", "TRIM (TRAILING 'x' FROM 'xxxTrimxBackxxx')", "xxxTrimxBack"),
    V("trim", "TRIM (BOTH 'y' FROM 'xxxNo y to trimxxx')", "xxxNo y to trimxxx"),
    # ------------------------------------------------------------------ conversion
    V("cast", "CAST(DATE '2008-08-23' AS VARCHAR(10))", "2008-08-23"),
    V("cast", "cast(date'2008-08-23' as varchar(9))", None, error="Type_Coercion_Error"),
    # ------------------------------------------------------------------ date and time
    V("extract", "EXTRACT(DAY FROM INTERVAL '2 3:4:5.678' DAY TO SECOND)", 2, out=INT),
    V("extract", "EXTRACT(HOUR FROM INTERVAL '2 3:4:5.678' DAY TO SECOND)", 3, out=INT),
    V("extract", "EXTRACT(MINUTE FROM INTERVAL '2 3:4:5.678' DAY TO SECOND)", 4, out=INT),
    V(
        "extract",
        "EXTRACT(SECOND FROM INTERVAL '2 3:4:5.678' DAY TO SECOND)",
        Decimal("5.678"),
        out="DECIMAL(5,3)",
    ),
    V(
        "extract",
        "EXTRACT(MINUTE FROM CURRENT_ROW_TIMESTAMP)",
        29,
        out=INT,
        clock_ms=ms("2016-09-23 04:29:26.234"),
    ),
    V(
        "extract",
        "EXTRACT (HOUR FROM CURRENT_ROW_TIMESTAMP)",
        4,
        out=INT,
        clock_ms=ms("2016-09-23 04:29:26.234"),
    ),
    V("date-timestamp-interval", "INTERVAL '1' DAY + INTERVAL '3' DAY", interval(4), out=IV),
    V(
        "date-timestamp-interval",
        "INTERVAL '1' DAY + INTERVAL '3 4' DAY TO HOUR",
        interval(4, 4),
        out=IV,
    ),
    V(
        "date-timestamp-interval",
        "INTERVAL '1' DAY - INTERVAL '3 4' DAY TO HOUR",
        interval(-2, -4),
        out=IV,
    ),
    V(
        "date-timestamp-interval",
        "CAST(INTERVAL '1' YEAR + INTERVAL '3-4' YEAR TO MONTH AS VARCHAR(8))",
        "+4-04",
    ),
    V("date-timestamp-interval", "2 * INTERVAL '3 4' DAY TO HOUR", interval(6, 8), out=IV),
    V("date-timestamp-interval", "INTERVAL '3 4' DAY TO HOUR / 2", interval(1, 14), out=IV),
    V(
        "current-date",
        "CURRENT_DATE",
        "2008-08-27",
        clock_ms=ms("2008-08-27 20:52:05"),
    ),
    V(
        "current-time",
        "CURRENT_TIME",
        Time(ms("1970-01-01 20:52:05")),
        out="TIME",
        clock_ms=ms("2008-08-27 20:52:05"),
    ),
    V(
        "current-timestamp",
        "CAST(CURRENT_TIMESTAMP AS TIME)",
        Time(ms("1970-01-01 20:52:05")),
        out="TIME",
        clock_ms=ms("2008-08-27 20:52:05"),
    ),
    V(
        "localtime",
        "LOCALTIME",
        Time(ms("1970-01-01 01:11:15")),
        out="TIME",
        clock_ms=ms("2008-08-27 01:11:15"),
    ),
    V(
        "local-timestamp",
        "LOCALTIMESTAMP",
        ts("2008-08-27 01:13:42.206"),
        out=TS,
        clock_ms=ms("2008-08-27 01:13:42.206"),
    ),
    V(
        "timestamp-to-char",
        "TIMESTAMP_TO_CHAR('yyyy-MM-dd', CAST(NULL AS TIMESTAMP))",
        "null",
    ),
    V(
        "char-to-timestamp",
        "CHAR_TO_TIMESTAMP('yyyy-MM-dd hh:mm:ss', '2009-09-16 03:15:24')",
        ts("2009-09-16 03:15:24"),
        out=TS,
    ),
]


def _run(vector: Vector) -> tuple[list[tuple[Any, ...]], list[Any]]:
    row = vector.row or (("X", "INTEGER", 1),)
    inputs = {"IN": [StreamColumn(name, parse_type(t)) for name, t, _ in row]}
    code = (
        f'CREATE OR REPLACE STREAM "OUT" (v {vector.out});\n'
        f'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"\n'
        f'SELECT STREAM {vector.sql} FROM "IN";\n'
    )
    clock_ms = vector.clock_ms
    kwargs: dict[str, Any] = {}
    if clock_ms is not None:
        kwargs["clock"] = lambda: clock_ms
    plan = plan_application(code, application="vectors", inputs=inputs, **kwargs)
    streams, failures = run_rows(plan, [(RECORD_MS, tuple(v for _, _, v in row))], source="IN")
    return streams.get("OUT", []), failures


def _same(ours: Any, want: Any) -> bool:
    if isinstance(want, float) and isinstance(ours, float | int | Decimal):
        return float(ours) == pytest.approx(want, rel=1e-15, abs=1e-300)
    if isinstance(want, int) and not isinstance(want, bool) and isinstance(ours, float):
        return ours == want
    return type(ours) is type(want) and ours == want if want is not None else ours is None


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.id)
def test_reference_example(vector: Vector) -> None:
    if vector.refused:
        with pytest.raises(SqlUnsupportedError):
            _run(vector)
        return
    out, failures = _run(vector)
    if vector.error is not None:
        assert [f.name for f in failures] == [vector.error], (vector.page, failures)
        assert out == []
        return
    assert failures == [], (vector.page, failures)
    assert len(out) == 1, (vector.page, out)
    value = out[0][1]
    assert _same(value, vector.expected), (vector.page, vector.sql, value, vector.expected)


def test_every_vector_cites_a_reference_page() -> None:
    assert all(v.page.startswith("sql-reference-") and v.page.endswith(".html") for v in VECTORS)
    assert len({v.id for v in VECTORS}) == len(VECTORS)


def test_the_vectors_cover_the_pages_with_examples() -> None:
    pages = {v.page for v in VECTORS}
    assert len(pages) >= 25, sorted(pages)


# The SQL Reference's function index (sql-reference-functions.html and its topic pages), each
# with a use that must plan. Not in this list: HOTSPOTS and RANDOM_CUT_FOREST(_WITH_EXPLANATION),
# table functions over a CURSOR tested with their operators, and Group Rank, a query form.
WINDOW = "OVER (PARTITION BY s ROWS 2 PRECEDING)"
INDEX: dict[str, str] = {
    # aggregate
    "AVG": f"CAST(AVG(n) {WINDOW} AS VARCHAR(9))",
    "COUNT": f"CAST(COUNT(*) {WINDOW} AS VARCHAR(9))",
    "EXP_AVG": f"CAST(EXP_AVG(n, INTERVAL '1' SECOND) {WINDOW} AS VARCHAR(30))",
    "FIRST_VALUE": f"FIRST_VALUE(s) {WINDOW}",
    "LAST_VALUE": f"LAST_VALUE(s) IGNORE NULLS {WINDOW}",
    "MAX": f"MAX(s) {WINDOW}",
    "MIN": f"MIN(s) {WINDOW}",
    "SUM": f"CAST(SUM(n) {WINDOW} AS VARCHAR(9))",
    # boolean
    "ANY": f"CAST(ANY(n > 1) {WINDOW} AS VARCHAR(9))",
    "EVERY": f"CAST(EVERY(n > 1) {WINDOW} AS VARCHAR(9))",
    # conversion
    "CAST": "CAST(n AS VARCHAR(9))",
    # date and time
    "CHAR_TO_DATE": "CAST(CHAR_TO_DATE('yyyy-MM-dd', s) AS VARCHAR(30))",
    "CHAR_TO_TIME": "CAST(CHAR_TO_TIME('HH:mm', s) AS VARCHAR(30))",
    "CHAR_TO_TIMESTAMP": "CAST(CHAR_TO_TIMESTAMP('yyyy', s) AS VARCHAR(30))",
    "DATE_TO_CHAR": "DATE_TO_CHAR('yyyy', CURRENT_DATE)",
    "TIME_TO_CHAR": "TIME_TO_CHAR('HH', CURRENT_TIME)",
    "TIMESTAMP_TO_CHAR": "TIMESTAMP_TO_CHAR('yyyy', CURRENT_TIMESTAMP)",
    "TO_TIMESTAMP": "CAST(TO_TIMESTAMP(CAST(n AS BIGINT)) AS VARCHAR(30))",
    "UNIX_TIMESTAMP": "CAST(UNIX_TIMESTAMP(ROWTIME) AS VARCHAR(30))",
    "CURRENT_DATE": "CAST(CURRENT_DATE AS VARCHAR(30))",
    "CURRENT_ROW_TIMESTAMP": "CAST(CURRENT_ROW_TIMESTAMP AS VARCHAR(30))",
    "CURRENT_TIME": "CAST(CURRENT_TIME AS VARCHAR(30))",
    "CURRENT_TIMESTAMP": "CAST(CURRENT_TIMESTAMP AS VARCHAR(30))",
    "EXTRACT": "CAST(EXTRACT(HOUR FROM ROWTIME) AS VARCHAR(9))",
    "LOCALTIME": "CAST(LOCALTIME AS VARCHAR(30))",
    "LOCALTIMESTAMP": "CAST(LOCALTIMESTAMP AS VARCHAR(30))",
    "TSDIFF": "CAST(TSDIFF(ROWTIME, ROWTIME) AS VARCHAR(30))",
    # null
    "COALESCE": "COALESCE(s, 'x')",
    "NULLIF": "NULLIF(s, 'x')",
    # numeric
    "ABS": "CAST(ABS(n) AS VARCHAR(9))",
    "CEIL": "CAST(CEIL(n) AS VARCHAR(9))",
    "EXP": "CAST(EXP(n) AS VARCHAR(30))",
    "FLOOR": "CAST(FLOOR(n) AS VARCHAR(9))",
    "LN": "CAST(LN(n) AS VARCHAR(30))",
    "LOG10": "CAST(LOG10(n) AS VARCHAR(30))",
    "MOD": "CAST(MOD(n, 3) AS VARCHAR(9))",
    "POWER": "CAST(POWER(n, 2) AS VARCHAR(30))",
    "STEP": "CAST(STEP(n BY 5) AS VARCHAR(9))",
    # log parsing
    "FAST_REGEX_LOG_PARSER": "FAST_REGEX_LOG_PARSER(s, '(.*)').COLUMN1",
    "FIXED_COLUMN_LOG_PARSE": "FIXED_COLUMN_LOG_PARSE(s, 'A TYPE VARCHAR(4) START 0').A",
    "REGEX_LOG_PARSE": "REGEX_LOG_PARSE(s, '(.*)').COLUMN1",
    "SYS_LOG_PARSE": "SYS_LOG_PARSE(s).COLUMN2",
    "VARIABLE_COLUMN_LOG_PARSE": "VARIABLE_COLUMN_LOG_PARSE(s, 2, ',').COLUMN1",
    "W3C_LOG_PARSE": "W3C_LOG_PARSE(s, 'AGENT').COLUMN1",
    # statistical variance and deviation
    "STDDEV_POP": f"CAST(STDDEV_POP(n) {WINDOW} AS VARCHAR(30))",
    "STDDEV_SAMP": f"CAST(STDDEV_SAMP(n) {WINDOW} AS VARCHAR(30))",
    "VAR_POP": f"CAST(VAR_POP(n) {WINDOW} AS VARCHAR(30))",
    "VAR_SAMP": f"CAST(VAR_SAMP(n) {WINDOW} AS VARCHAR(30))",
    # streaming
    "LAG": f"LAG(s, 1, 'none') IGNORE NULLS {WINDOW}",
    "MONOTONIC": "MONOTONIC(s)",
    "NTH_VALUE": f"NTH_VALUE(s, 2) FROM LAST {WINDOW}",
    # string and search
    "CHAR_LENGTH": "CAST(CHAR_LENGTH(s) AS VARCHAR(9))",
    "INITCAP": "INITCAP(s)",
    "LOWER": "LOWER(s)",
    "OVERLAY": "OVERLAY(s PLACING 'x' FROM 2)",
    "POSITION": "CAST(POSITION('x' IN s) AS VARCHAR(9))",
    "REGEX_REPLACE": "REGEX_REPLACE(s, 'a', 'b', 1, 0)",
    "SUBSTRING": "SUBSTRING(s FROM 'a+')",
    "TRIM": "TRIM(s)",
    "UPPER": "UPPER(s)",
}


@pytest.mark.parametrize("name", sorted(INDEX))
def test_every_function_of_the_index_plans_and_runs(name: str) -> None:
    inputs = {
        "IN": [
            StreamColumn("S", parse_type("VARCHAR(40)")),
            StreamColumn("N", parse_type("INTEGER")),
        ]
    }
    code = (
        'CREATE OR REPLACE STREAM "OUT" (v VARCHAR(64));\n'
        f'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" SELECT STREAM {INDEX[name]} FROM "IN";\n'
    )
    plan = plan_application(code, application="index", inputs=inputs)
    streams, failures = run_rows(plan, [(RECORD_MS, ("abc", 4))], source="IN")
    assert len(streams.get("OUT", [])) + len(failures) == 1
