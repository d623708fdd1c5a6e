"""``JOIN … USING (…)`` and ``NATURAL JOIN`` (stream–stream and stream–reference-table), and
``CROSS JOIN`` with a reference table, against DuckDB over the same rows.

DuckDB's own USING and NATURAL give the layout of ``SELECT *`` and the rows of the joins it
can express natively (a reference table; an INNER stream join, its window in WHERE); the
outer stream joins, whose window DuckDB can only put in ``ON``, are checked against DuckDB's
pairs with the standard's merged column (``COALESCE`` for FULL) written out.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from ground.errors import SqlPlanError
from pipelines.sql.catalog import StreamColumn, TableInfo
from pipelines.sql.engine import run_rows
from pipelines.sql.plan import plan_application
from pipelines.sql.types import parse_type
from tests.unit.pipelines.sql.corpus import INPUTS, input_table, row_counts, ticker_records

RECORDS = ticker_records(2500)
SRC = '"SOURCE_SQL_STREAM_001"'

_STREAMS = """
CREATE OR REPLACE STREAM "BUYS" (ticker VARCHAR(4), price REAL, sector VARCHAR(16));
CREATE OR REPLACE STREAM "SELLS" (ticker VARCHAR(4), sector VARCHAR(16), change REAL);
CREATE OR REPLACE PUMP "BUY_PUMP" AS INSERT INTO "BUYS"
SELECT STREAM ticker_symbol, price, sector FROM "SOURCE_SQL_STREAM_001" WHERE change > 0;
CREATE OR REPLACE PUMP "SELL_PUMP" AS INSERT INTO "SELLS"
SELECT STREAM ticker_symbol, CASE WHEN price > 120 THEN 'X' ELSE sector END, change
FROM "SOURCE_SQL_STREAM_001" WHERE change <= 0;
"""


def _buys_and_sells() -> duckdb.DuckDBPyConnection:
    con = input_table(RECORDS)
    con.execute(
        "CREATE TABLE buys AS SELECT seq, rowtime AS brt, ticker, price, "
        "sector FROM s WHERE change > 0"
    )
    con.execute(
        "CREATE TABLE sells AS SELECT seq, rowtime AS srt, ticker, CASE WHEN "
        "price > 120 THEN 'X' ELSE sector END AS sector, "
        "change FROM s WHERE change <= 0"
    )
    return con


def _run(code: str, batch_size: int, tables: dict[str, TableInfo] | None = None) -> Any:
    plan = plan_application(code, application="using", inputs=INPUTS, tables=tables)
    streams, failures = run_rows(plan, RECORDS, batch_size=batch_size)
    assert failures == []
    return plan, streams


def _star_layout(duck_from: str) -> list[str]:
    """The columns of ``SELECT * FROM <duck_from>`` in DuckDB, upper-cased."""
    con = duckdb.connect()
    con.execute("CREATE TABLE buys (ticker VARCHAR, price REAL, sector VARCHAR)")
    con.execute("CREATE TABLE sells (ticker VARCHAR, sector VARCHAR, change REAL)")
    return [d[0].upper() for d in con.execute(f"SELECT * FROM {duck_from}").description]


# -- SELECT *: the standard's layout ----------------------------------------------------------
@pytest.mark.parametrize(
    ("join", "layout"),
    [
        ("JOIN {s} USING (ticker)", "TICKER PRICE SECTOR SECTOR CHANGE"),
        # the join columns in the left side's order, whatever USING's (SQL:2011 7.7)
        ("LEFT JOIN {s} USING (sector, ticker)", "TICKER SECTOR PRICE CHANGE"),
        ("RIGHT OUTER JOIN {s} USING (sector)", "SECTOR TICKER PRICE TICKER CHANGE"),
        ("FULL JOIN {s} USING (ticker)", "TICKER PRICE SECTOR SECTOR CHANGE"),
        ("NATURAL JOIN {s}", "TICKER SECTOR PRICE CHANGE"),
        ("NATURAL FULL JOIN {s}", "TICKER SECTOR PRICE CHANGE"),
    ],
)
def test_star_of_a_using_join_has_each_join_column_once_first(join: str, layout: str) -> None:
    """``SELECT *`` over a USING or NATURAL join: the join columns once, first (in the left
    side's order), then the left side's other columns, then the right side's (what a
    subquery's ``*`` names). DuckDB agrees where the left side's join columns lead it (it
    leaves them where they are: ``buys(ticker, price, sector)``)."""
    window = "OVER (RANGE INTERVAL '2' SECOND PRECEDING) AS s"
    code = _STREAMS + f"""
CREATE OR REPLACE STREAM "OUT" (n INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM 1 FROM (SELECT STREAM * FROM "BUYS" AS b {join.format(s='"SELLS" ' + window)})
AS j;
"""
    plan = plan_application(code, application="using", inputs=INPUTS)
    names = [c.name for c in plan.streams["P$1"].columns]
    assert names == layout.split()
    if "sector" not in join.split("USING")[-1] and "NATURAL" not in join:
        duck = join.replace("OUTER ", "").format(s="sells")
        assert names == _star_layout(f"buys {duck}")


# -- stream-to-stream USING, each join type, against DuckDB ----------------------------------
_JOIN = _STREAMS + """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    buy_time TIMESTAMP, sell_time TIMESTAMP, ticker VARCHAR(4), price REAL,
    b_sector VARCHAR(16), s_sector VARCHAR(16), change REAL, b_ticker VARCHAR(4),
    s_ticker VARCHAR(4), tag VARCHAR(8));
CREATE OR REPLACE PUMP "JOIN_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM b.ROWTIME, s.ROWTIME, *, b.ticker, s.ticker,
       CASE WHEN ticker IS NULL THEN 'none' ELSE SUBSTRING(ticker FROM 1 FOR 2) END
FROM "BUYS" AS b {kind} JOIN "SELLS" OVER (RANGE INTERVAL '2' SECOND PRECEDING) AS s
USING (ticker);
"""
_PAIR = "b.ticker = x.ticker AND x.srt BETWEEN b.brt - 2000 AND b.brt"


def _merged(kind: str) -> str:
    """The join column as the standard makes it (SQL:2011 7.7)."""
    return {"RIGHT": "x.ticker", "FULL": "COALESCE(b.ticker, x.ticker)"}.get(kind, "b.ticker")


@pytest.mark.parametrize("kind", ["", "LEFT", "RIGHT", "FULL"])
@pytest.mark.parametrize("batch_size", [3, 301])
def test_a_stream_join_using_equals_duckdb(kind: str, batch_size: int) -> None:
    """``b {kind} JOIN s OVER (…) USING (ticker)``: ``*`` is ticker (merged), b's other
    columns, s's; ``b.ticker`` and ``s.ticker`` are each side's own (NULL on the side an
    outer join fills); an unqualified ``ticker`` elsewhere is the merged one."""
    _, streams = _run(_JOIN.format(kind=kind), batch_size)
    got = [r[1:] for r in streams["DESTINATION_SQL_STREAM"]]
    con = _buys_and_sells()
    merged = _merged(kind)
    tag = f"CASE WHEN {merged} IS NULL THEN 'none' ELSE substring({merged}, 1, 2) END"
    columns = (
        f"b.brt, x.srt, {merged}, b.price, b.sector, x.sector, x.change, b.ticker, x.ticker,"
        f" {tag}"
    )
    if kind == "":
        # DuckDB's own USING: the window in WHERE of an inner join
        expected = con.execute(
            "SELECT b.brt, x.srt, ticker, price, b.sector, x.sector, change, b.ticker, "
            "x.ticker, CASE WHEN ticker IS NULL THEN 'none' ELSE substring(ticker, 1, 2) END "
            "FROM buys b JOIN sells x USING (ticker) WHERE x.srt BETWEEN b.brt - 2000 AND b.brt"
        ).fetchall()
    else:
        expected = con.execute(
            f"SELECT {columns} FROM buys b {kind} JOIN sells x ON {_PAIR}"
        ).fetchall()
    assert row_counts(got) == row_counts(expected)
    assert sum(1 for r in got if r[0] is not None and r[1] is not None) > 100
    if kind in ("RIGHT", "FULL"):  # sells without a buy: the merged ticker is the sell's
        lone = [r for r in got if r[0] is None]
        assert len(lone) > 10 and all(r[2] is not None and r[2] == r[8] for r in lone)
        assert all(r[7] is None for r in lone)
    if kind in ("LEFT", "FULL"):
        assert sum(1 for r in got if r[1] is None) > 10


@pytest.mark.parametrize("batch_size", [3, 256])
def test_a_natural_stream_join_matches_every_shared_column(batch_size: int) -> None:
    """``NATURAL JOIN``: BUYS and SELLS share TICKER and SECTOR (ROWTIME is no column), so
    a pair needs both equal; DuckDB's own NATURAL JOIN, the window in WHERE."""
    code = _STREAMS + """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker VARCHAR(4), sector VARCHAR(16), price REAL, change REAL);
CREATE OR REPLACE PUMP "JOIN_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM * FROM "BUYS" AS b
NATURAL JOIN "SELLS" OVER (RANGE INTERVAL '2' SECOND PRECEDING) AS s;
"""
    _, streams = _run(code, batch_size)
    got = [r[1:] for r in streams["DESTINATION_SQL_STREAM"]]
    # seq is on both DuckDB tables: NATURAL would match it too, so it is left out
    expected = _buys_and_sells().execute(
        "SELECT ticker, sector, price, change FROM "
        "(SELECT brt, ticker, price, sector FROM buys) NATURAL JOIN "
        "(SELECT srt, ticker, sector, change FROM sells) WHERE srt BETWEEN brt - 2000 AND brt"
    ).fetchall()
    assert row_counts(got) == row_counts(expected)
    assert len(got) > 50
    # fewer than on ticker alone: the sells' sector is 'X' above 120
    on_ticker = _buys_and_sells().execute(
        "SELECT count(*) FROM buys b JOIN sells x ON " + _PAIR
    ).fetchone()
    assert on_ticker is not None and on_ticker[0] > len(got)


# -- reference tables: USING, NATURAL, CROSS -------------------------------------------------
_COMPANY = TableInfo(
    "COMPANY",
    (
        StreamColumn("TICKER_SYMBOL", parse_type("VARCHAR(4)")),
        StreamColumn("SECTOR", parse_type("VARCHAR(16)")),
        StreamColumn("NAME", parse_type("VARCHAR(16)")),
    ),
    # 15 of the 20 tickers; a few with a sector the stream never has for them
    tuple(
        (f"T{i:02d}", "OTHER" if i % 4 == 0 else s, f"Company {i}")
        for i, s in zip(
            range(15),
            ["TECHNOLOGY", "ENERGY", "HEALTHCARE", "FINANCIAL", "RETAIL"] * 3,
            strict=True,
        )
    ),
)
_LEVELS = TableInfo(
    "LEVELS",
    (StreamColumn("LEVEL", parse_type("INTEGER")), StreamColumn("FLOOR", parse_type("DOUBLE"))),
    ((1, 60.0), (2, 100.0), (3, 140.0)),
)


def _with_tables(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute("CREATE TABLE company (ticker_symbol VARCHAR, sector VARCHAR, name VARCHAR)")
    con.executemany("INSERT INTO company VALUES (?, ?, ?)", [list(r) for r in _COMPANY.rows])
    con.execute("CREATE TABLE levels (level INTEGER, floor DOUBLE)")
    con.executemany("INSERT INTO levels VALUES (?, ?)", [list(r) for r in _LEVELS.rows])
    con.execute(
        "CREATE TABLE src_cols AS SELECT seq, ticker AS ticker_symbol, sector, "
        "price FROM s"
    )
    return con


_TABLE_JOIN = """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ({columns});
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM {items} FROM "SOURCE_SQL_STREAM_001" AS s {join};
"""


@pytest.mark.parametrize(
    ("join", "items", "columns", "duck"),
    [
        (
            "LEFT JOIN COMPANY AS c USING (ticker_symbol)",
            "ticker_symbol, s.sector, c.sector, name, price",
            "t VARCHAR(4), s1 VARCHAR(16), s2 VARCHAR(16), name VARCHAR(16), price REAL",
            "SELECT ticker_symbol, s.sector, c.sector, name, price "
            "FROM src_cols s LEFT JOIN company c USING (ticker_symbol)",
        ),
        (
            "JOIN COMPANY USING (ticker_symbol)",
            "ticker_symbol, name, price",
            "t VARCHAR(4), name VARCHAR(16), price REAL",
            "SELECT ticker_symbol, name, price FROM src_cols JOIN company USING (ticker_symbol)",
        ),
        (
            "NATURAL LEFT JOIN COMPANY",
            "ticker_symbol, sector, name, price",
            "t VARCHAR(4), sector VARCHAR(16), name VARCHAR(16), price REAL",
            "SELECT ticker_symbol, sector, name, price "
            "FROM (SELECT ticker_symbol, sector, price FROM src_cols) NATURAL LEFT JOIN company",
        ),
        (
            "CROSS JOIN LEVELS AS l WHERE price >= l.floor",
            "ticker_symbol, l.level, price",
            "t VARCHAR(4), level INTEGER, price REAL",
            "SELECT ticker_symbol, l.level, price FROM src_cols CROSS JOIN levels l "
            "WHERE price >= l.floor",
        ),
        (
            "NATURAL JOIN LEVELS",  # no column in common: every pair (the condition TRUE)
            "ticker_symbol, level, price",
            "t VARCHAR(4), level INTEGER, price REAL",
            # DuckDB refuses it ("Use CROSS JOIN"); PostgreSQL and the standard: a cross join
            "SELECT ticker_symbol, level, price FROM src_cols CROSS JOIN levels",
        ),
    ],
)
def test_reference_joins_using_natural_and_cross_equal_duckdb(
    join: str, items: str, columns: str, duck: str
) -> None:
    code = _TABLE_JOIN.format(columns=columns, items=items, join=join)
    _, streams = _run(code, 211, {"COMPANY": _COMPANY, "LEVELS": _LEVELS})
    got = [r[1:] for r in streams["DESTINATION_SQL_STREAM"]]
    expected = _with_tables(input_table(RECORDS)).execute(duck).fetchall()
    assert row_counts(got) == row_counts(expected)
    assert len(got) > 1000


def test_star_over_a_reference_join_using() -> None:
    """``SELECT *`` with ``USING``: the join column once, first (DuckDB's layout)."""
    code = _TABLE_JOIN.format(
        columns="t VARCHAR(4), sector VARCHAR(16), change REAL, price REAL, "
        "event_time TIMESTAMP, c_sector VARCHAR(16), name VARCHAR(16)",
        items="*",
        join="LEFT JOIN COMPANY AS c USING (ticker_symbol)",
    )
    _, streams = _run(code, 500, {"COMPANY": _COMPANY})
    got = [r[1:3] + r[4:5] + r[6:] for r in streams["DESTINATION_SQL_STREAM"]]
    expected = _with_tables(input_table(RECORDS)).execute(
        "SELECT * EXCLUDE (seq) FROM src_cols s LEFT JOIN company c USING (ticker_symbol)"
    ).fetchall()
    assert row_counts(got) == row_counts(expected)
    layout = _with_tables(input_table(RECORDS)).execute(
        "SELECT * FROM (SELECT ticker_symbol, sector, price FROM src_cols) s "
        "LEFT JOIN company c USING (ticker_symbol)"
    ).description
    assert [d[0] for d in layout] == ["ticker_symbol", "sector", "price", "sector", "name"]


@pytest.mark.parametrize("side", ["RIGHT", "FULL OUTER"])
def test_right_and_full_joins_with_a_reference_table_are_refused_with_the_reason(
    side: str,
) -> None:
    code = _TABLE_JOIN.format(
        columns="t VARCHAR(4)", items="ticker_symbol", join=f"{side} JOIN COMPANY USING "
        "(ticker_symbol)"
    )
    with pytest.raises(SqlPlanError, match="has no ROWTIME to come out at"):
        plan_application(code, application="using", inputs=INPUTS, tables={"COMPANY": _COMPANY})


def test_a_join_column_another_relation_also_has_stays_ambiguous() -> None:
    """``b JOIN s USING (ticker) JOIN COMPANY …``: COMPANY has SECTOR too, so an unqualified
    SECTOR (b's and s's are not merged) is ambiguous, not silently one of them."""
    code = _STREAMS + """
CREATE OR REPLACE STREAM "OUT" (t VARCHAR(4), sector VARCHAR(16));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM ticker, sector FROM "BUYS" AS b
JOIN "SELLS" OVER (RANGE INTERVAL '2' SECOND PRECEDING) AS s USING (ticker, sector)
JOIN COMPANY AS c ON ticker = c.ticker_symbol;
"""
    with pytest.raises(SqlPlanError, match="ambiguous"):
        plan_application(code, application="using", inputs=INPUTS, tables={"COMPANY": _COMPANY})
