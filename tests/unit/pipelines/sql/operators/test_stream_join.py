"""Stream-to-stream joins against DuckDB: a chain of pumps into a LEFT JOIN, FOLLOWING
windows, windows on both sides, and the examples of KDA's JOIN clause."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.sql.catalog import StreamColumn
from pipelines.sql.engine import run_rows
from pipelines.sql.plan import plan_application
from pipelines.sql.types import parse_type
from tests.unit.pipelines.sql.corpus import (
    CHAIN_AND_JOIN,
    input_table,
    row_counts,
    run,
    ticker_records,
)

RECORDS = ticker_records(6000)


def test_pump_chain_and_stream_join_equal_duckdb() -> None:
    streams, failures = run(CHAIN_AND_JOIN, RECORDS, batch_size=211)
    assert failures == []
    con = input_table(RECORDS)
    con.execute(
        "CREATE TABLE buys AS SELECT seq, rowtime, ticker, price, lower(substring(sector, 1, 3)) "
        "|| '-' || CASE WHEN price >= 100 THEN 'HIGH' ELSE 'LOW' END AS label "
        "FROM s WHERE change > 0"
    )
    con.execute("CREATE TABLE sells AS SELECT rowtime, ticker, price FROM s WHERE change <= 0")
    expected = con.execute(
        "SELECT b.ticker, b.label, b.price, x.price FROM buys b LEFT JOIN sells x "
        "ON b.ticker = x.ticker AND x.rowtime BETWEEN b.rowtime - 2000 AND b.rowtime"
    ).fetchall()
    buys = con.execute("SELECT ticker, price, label FROM buys ORDER BY seq").fetchall()
    got_buys = [(r[1], r[2], r[3]) for r in streams["BUYS"]]
    assert [(t, round(p, 4), lbl) for t, p, lbl in got_buys] == [
        (t, round(p, 4), lbl) for t, p, lbl in buys
    ]
    got = [r[1:] for r in streams["DESTINATION_SQL_STREAM"]]
    assert row_counts(got) == row_counts(expected)
    assert sum(1 for r in got if r[3] is not None) > 100
    assert sum(1 for r in got if r[3] is None) > 10


# -- KDA's JOIN clause: windows on either side, FOLLOWING, the ROWTIME of a result ---------

_BUYS_AND_SELLS = """
CREATE OR REPLACE STREAM "BUYS" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE STREAM "SELLS" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    result_time TIMESTAMP, buy_time TIMESTAMP, sell_time TIMESTAMP, ticker VARCHAR(4),
    buy_price REAL, sell_price REAL);
CREATE OR REPLACE PUMP "BUY_PUMP" AS INSERT INTO "BUYS"
SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001" WHERE change > 0;
CREATE OR REPLACE PUMP "SELL_PUMP" AS INSERT INTO "SELLS"
SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001" WHERE change <= 0;
CREATE OR REPLACE PUMP "JOIN_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ROWTIME, b.ROWTIME, s.ROWTIME, b.ticker, b.price, s.price
FROM "BUYS" {left} AS b {kind} JOIN "SELLS" {right} AS s ON b.ticker = s.ticker;
"""


def _buys_and_sells() -> object:
    con = input_table(RECORDS)
    con.execute("CREATE TABLE buys AS SELECT seq, rowtime, ticker, price FROM s WHERE change > 0")
    con.execute(
        "CREATE TABLE sells AS SELECT seq, rowtime, ticker, price FROM s WHERE change <= 0"
    )
    return con


def _run_join(left: str, kind: str, right: str, batch_size: int) -> list[tuple[object, ...]]:
    code = _BUYS_AND_SELLS.format(left=left, kind=kind, right=right)
    streams, failures = run(code, RECORDS, batch_size=batch_size)
    assert failures == []
    rows = streams["DESTINATION_SQL_STREAM"]
    # KDA: results come in ROWTIME order, and a result's ROWTIME is in the row
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert all(r[0] == r[1] for r in rows)
    return [r[1:] for r in rows]


@pytest.mark.parametrize("batch_size", [1, 333])
def test_a_following_window_joins_the_rows_after_and_the_result_is_at_the_later_one(
    batch_size: int,
) -> None:
    """``JOIN s OVER (RANGE INTERVAL '2' SECOND FOLLOWING)``: a buy meets the sells of the
    next two seconds; the result's ROWTIME is the later of the two (the sell's); a buy with
    no sell comes out at the end of its window (LEFT JOIN). Run as PRECEDING, this differs."""
    got = _run_join("", "LEFT", "OVER (RANGE INTERVAL '2' SECOND FOLLOWING)", batch_size)
    con = _buys_and_sells()
    expected = con.execute(
        """SELECT greatest(b.rowtime, x.rowtime), b.rowtime, x.rowtime, b.ticker, b.price,
                  x.price
           FROM buys b JOIN sells x ON b.ticker = x.ticker
                AND x.rowtime BETWEEN b.rowtime AND b.rowtime + 2000
           UNION ALL
           SELECT b.rowtime + 2000, b.rowtime, NULL, b.ticker, b.price, NULL FROM buys b
           WHERE NOT EXISTS (SELECT 1 FROM sells x WHERE b.ticker = x.ticker
                             AND x.rowtime BETWEEN b.rowtime AND b.rowtime + 2000)"""
    ).fetchall()
    assert row_counts(got) == row_counts(expected)
    assert sum(1 for r in got if r[2] is not None and r[2] > r[1]) > 100
    assert sum(1 for r in got if r[2] is None) > 10


def test_windows_on_both_sides_join_what_either_admits() -> None:
    """``FROM b OVER (… '1' SECOND PRECEDING) JOIN s OVER (… '3' SECOND PRECEDING)``: a buy
    meets the sells of the three seconds before it and a sell the buys of the second before
    it, so a pair joins when the sell is 3 s before to 1 s after the buy."""
    got = _run_join(
        "OVER (RANGE INTERVAL '1' SECOND PRECEDING)",
        "",
        "OVER (RANGE INTERVAL '3' SECOND PRECEDING)",
        97,
    )
    con = _buys_and_sells()
    expected = con.execute(
        """SELECT greatest(b.rowtime, x.rowtime), b.rowtime, x.rowtime, b.ticker, b.price,
                  x.price
           FROM buys b JOIN sells x ON b.ticker = x.ticker
                AND x.rowtime - b.rowtime BETWEEN -3000 AND 1000"""
    ).fetchall()
    assert row_counts(got) == row_counts(expected)
    assert len(got) > 200


# -- RIGHT, FULL and CROSS joins, and an outer join with the window on the kept side -------
_MATCH = "x.rowtime - b.rowtime BETWEEN {lo} AND {hi}"


def _outer_expected(lo: int, hi: int, left: bool, right: bool) -> list[tuple[object, ...]]:
    """Pairs with ``sell - buy`` in ``[lo, hi]`` ms (ROWTIME: the later row's); a buy without
    one at ``buy + hi`` (``left``), a sell without one at ``sell - lo`` (``right``)."""
    match = _MATCH.format(lo=lo, hi=hi)
    parts = [
        f"""SELECT greatest(b.rowtime, x.rowtime), b.rowtime, x.rowtime, b.ticker, b.price,
                   x.price FROM buys b JOIN sells x ON b.ticker = x.ticker AND {match}"""
    ]
    if left:
        parts.append(
            f"""SELECT b.rowtime + {hi}, b.rowtime, NULL, b.ticker, b.price, NULL FROM buys b
                WHERE NOT EXISTS (SELECT 1 FROM sells x WHERE b.ticker = x.ticker AND {match})"""
        )
    if right:
        parts.append(
            f"""SELECT x.rowtime - {lo}, NULL, x.rowtime, NULL, NULL, x.price FROM sells x
                WHERE NOT EXISTS (SELECT 1 FROM buys b WHERE b.ticker = x.ticker AND {match})"""
        )
    con: Any = _buys_and_sells()
    return con.execute(" UNION ALL ".join(parts)).fetchall()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("left", "kind", "right", "lo", "hi", "keeps"),
    [
        # a sell meets the buys of the 2 s before it; one with none comes out 2 s after it
        ("OVER (RANGE INTERVAL '2' SECOND PRECEDING)", "RIGHT", "", 0, 2000, "r"),
        # a buy meets the sells of the 2 s before it; a sell without one, at its own time
        ("", "RIGHT", "OVER (RANGE INTERVAL '2' SECOND PRECEDING)", -2000, 0, "r"),
        # LEFT with the window on the left: a buy without a sell 2 s after it, then
        ("OVER (RANGE INTERVAL '2' SECOND PRECEDING)", "LEFT", "", 0, 2000, "l"),
        ("", "FULL", "OVER (RANGE INTERVAL '2' SECOND PRECEDING)", -2000, 0, "lr"),
        (
            "OVER (RANGE INTERVAL '1' SECOND PRECEDING)",
            "FULL OUTER",
            "OVER (RANGE INTERVAL '3' SECOND FOLLOWING)",
            0,
            3000,
            "lr",
        ),
    ],
)
@pytest.mark.parametrize("batch_size", [1, 257])
def test_outer_joins_keep_the_rows_without_a_match(
    left: str, kind: str, right: str, lo: int, hi: int, keeps: str, batch_size: int
) -> None:
    """KDA's RIGHT and FULL OUTER JOIN (and LEFT with the window on the left stream): a kept
    row without a match comes out with NULLs on the other side once no row of the other side
    can meet it any more, at the later bound of the window it could have met one in."""
    got = _run_join(left, kind, right, batch_size)
    expected = _outer_expected(lo, hi, "l" in keeps, "r" in keeps)
    assert row_counts(got) == row_counts(expected)
    assert sum(1 for r in got if r[0] is not None and r[1] is not None) > 100
    assert sum(1 for r in got if r[1] is None) > 10 if "r" in keeps else True
    assert sum(1 for r in got if r[1] is not None and r[2] is None) > 10 if "l" in keeps else True


@pytest.mark.parametrize("batch_size", [1, 97])
def test_a_cross_join_pairs_every_row_the_window_admits(batch_size: int) -> None:
    """``b CROSS JOIN s OVER (RANGE INTERVAL '1' SECOND PRECEDING)``: every buy with every
    sell of the second before it, whatever the ticker (KDA: the Cartesian product)."""
    code = _BUYS_AND_SELLS.format(
        left="", kind="CROSS", right="OVER (RANGE INTERVAL '1' SECOND PRECEDING)"
    ).replace(" ON b.ticker = s.ticker;", " WHERE b.price > 150 AND s.price > 150;")
    streams, failures = run(code, RECORDS, batch_size=batch_size)
    assert failures == []
    got = [r[1:] for r in streams["DESTINATION_SQL_STREAM"]]
    expected = _buys_and_sells().execute(  # type: ignore[attr-defined]
        """SELECT b.rowtime, b.rowtime, x.rowtime, b.ticker, b.price, x.price
           FROM buys b, sells x WHERE x.rowtime BETWEEN b.rowtime - 1000 AND b.rowtime
             AND b.price > 150 AND x.price > 150"""
    ).fetchall()
    assert row_counts(got) == row_counts(expected)
    assert len(got) > 20


ORDERS_AND_SHIPMENTS = [
    StreamColumn("orderid", parse_type("INTEGER")),
    StreamColumn("orders", parse_type("INTEGER")),
    StreamColumn("shipments", parse_type("INTEGER")),
]
_KDA_JOIN_STREAMS = """
CREATE OR REPLACE STREAM "ORDERS_STREAM" ("orderid" int, "orderrowtime" timestamp);
CREATE OR REPLACE PUMP "ORDERS_STREAM_PUMP" AS INSERT INTO "ORDERS_STREAM"
SELECT STREAM "orderid", "ROWTIME"
FROM "SOURCE_SQL_STREAM_001" WHERE "orders" = 1;
CREATE OR REPLACE STREAM "SHIPMENTS_STREAM" ("orderid" int, "shipmentrowtime" timestamp);
CREATE OR REPLACE PUMP "SHIPMENTS_STREAM_PUMP" AS INSERT INTO "SHIPMENTS_STREAM"
SELECT STREAM "orderid", "ROWTIME"
FROM "SOURCE_SQL_STREAM_001" WHERE "shipments" = 2;
CREATE OR REPLACE STREAM "OUTPUT_STREAM" ("resultrowtime" timestamp, "orderid" int,
    "shipmenttime" timestamp, "ordertime" timestamp);
CREATE OR REPLACE PUMP "OUTPUT_STREAM_PUMP" AS
INSERT INTO "OUTPUT_STREAM"
  SELECT STREAM ROWTIME as "resultrowtime", s."orderid", s.rowtime as "shipmenttime",
         o.ROWTIME as "ordertime"
    FROM ORDERS_STREAM OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS o
      JOIN SHIPMENTS_STREAM {window} AS s
        ON o."orderid" = s."orderid";
"""


def _at(clock: str) -> int:
    hours, minutes, seconds = (int(x) for x in clock.split(":"))
    return 1_780_000_000_000 - 1_780_000_000_000 % 86_400_000 + (
        (hours * 60 + minutes) * 60 + seconds
    ) * 1000


def _kda_orders_and_shipments() -> list[tuple[int, tuple[object, ...]]]:
    """The example dataset of KDA's JOIN clause page, in arrival order."""
    order, ship = (1, None), (None, 2)
    return [
        (_at("10:00:00"), (101, *order)),
        (_at("10:00:00"), (100, *ship)),
        (_at("10:00:20"), (102, *order)),
        (_at("10:00:30"), (103, *order)),
        (_at("10:00:40"), (104, *order)),
        (_at("10:00:45"), (104, *ship)),
        (_at("10:00:45"), (100, *order)),
        (_at("10:00:50"), (105, *ship)),
    ]


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        # Example 1: a time window on one side (the orders of the last minute)
        ("", [("10:00:45", 104, "10:00:45", "10:00:40")]),
        # Example 2: windows on both sides: the late order 100 meets its shipment too
        (
            "OVER (RANGE INTERVAL '1' MINUTE PRECEDING)",
            [("10:00:45", 104, "10:00:45", "10:00:40"), ("10:00:45", 100, "10:00:00", "10:00:45")],
        ),
    ],
    ids=["example-1", "example-2"],
)
def test_the_kda_join_examples(window: str, expected: list[tuple[object, ...]]) -> None:
    plan = plan_application(
        _KDA_JOIN_STREAMS.format(window=window),
        application="kda",
        inputs={"SOURCE_SQL_STREAM_001": ORDERS_AND_SHIPMENTS},
    )
    streams, failures = run_rows(plan, _kda_orders_and_shipments())
    assert failures == []
    got = [
        (r[1], r[2], r[3], r[4]) for r in streams["OUTPUT_STREAM"]
    ]
    assert got == [(_at(a), b, _at(c), _at(d)) for a, b, c, d in expected]


# -- ROWS windows: a count of rows of the other stream ------------------------------------
#: a window as DuckDB decides it: (ROWS or RANGE, preceding, following), ms or rows
_Window = tuple[str, int, int]


def _over(window: _Window | None) -> str:
    if window is None:
        return ""
    kind, p, f = window
    amount = (lambda n: str(n)) if kind == "ROWS" else (lambda n: f"INTERVAL '{n // 1000}' SECOND")
    if p and f:
        raise ValueError("a join window starts or ends with the current row")
    return f"OVER ({kind} {amount(p or f)} {'FOLLOWING' if f else 'PRECEDING'})"


def _admits(window: _Window, cur: str, win: str, k: str) -> str:
    """SQL: row ``win`` (row number ``k`` in its side) is in the window of row ``cur``.
    ``cur`` has ``le`` and ``lt``, the rows of ``win``'s side up to / before its time."""
    kind, p, f = window
    if kind == "RANGE":
        return f"{win}.rowtime - {cur}.rowtime BETWEEN {-p} AND {f}"
    if p:  # the latest p rows up to the current row's time
        return f"({win}.{k} > {cur}.le - {p} AND {win}.{k} <= {cur}.le)"
    return f"({win}.{k} > {cur}.lt AND {win}.{k} <= {cur}.lt + {f})"  # the first f from it


def _deadline(own: _Window | None, other: _Window | None, me: str, my: str, theirs: str,
              k: str) -> str:
    """SQL: when a kept row without a match comes out (NULL: its ROWS window is still short
    of rows when the input ends; it comes out then, at the last ROWTIME)."""
    parts = [f"{me}.rowtime"]
    if other is not None:
        kind, _, f = other
        if kind == "RANGE":
            parts.append(f"{me}.rowtime + {f}")
        elif f:
            parts.append(f"(SELECT rowtime FROM {theirs} WHERE n = {me}.lt + {f})")
    if own is not None:
        kind, p, _ = own
        if kind == "RANGE":
            parts.append(f"{me}.rowtime + {p}")
        elif p:
            parts.append(f"(SELECT rowtime FROM {my} WHERE n = {me}.{k} + {p})")
    known = " AND ".join(f"{x} IS NOT NULL" for x in parts)
    return (f"CASE WHEN {known} THEN greatest({', '.join(parts)}) "
            f"ELSE greatest({me}.rowtime, (SELECT max(rowtime) FROM s)) END")  # fmt: skip


def _rows_expected(
    left: _Window | None, kind: str, right: _Window | None, on: str
) -> list[tuple[object, ...]]:
    con: Any = _buys_and_sells()
    for side, other in (("buys", "sells"), ("sells", "buys")):
        con.execute(
            f"""CREATE TABLE {side}_n AS SELECT c.*, row_number() OVER (ORDER BY c.seq) AS n,
                (SELECT count(*) FROM {other} o WHERE o.rowtime <= c.rowtime) AS le,
                (SELECT count(*) FROM {other} o WHERE o.rowtime < c.rowtime) AS lt
                FROM {side} c"""
        )
    admitted = [_admits(right, "b", "x", "n")] if right is not None else []
    if left is not None:
        admitted.append(_admits(left, "x", "b", "n"))
    match = f"({' OR '.join(admitted)}) AND {on}"
    parts = [
        f"""SELECT greatest(b.rowtime, x.rowtime), b.rowtime, x.rowtime, b.ticker, b.price,
                   x.price FROM buys_n b, sells_n x WHERE {match}"""
    ]
    if kind in ("LEFT", "FULL"):
        parts.append(
            f"""SELECT {_deadline(left, right, 'b', 'buys_n', 'sells_n', 'n')}, b.rowtime, NULL,
                       b.ticker, b.price, NULL FROM buys_n b
                WHERE NOT EXISTS (SELECT 1 FROM sells_n x WHERE {match})"""
        )
    if kind in ("RIGHT", "FULL"):
        parts.append(
            f"""SELECT {_deadline(right, left, 'x', 'sells_n', 'buys_n', 'n')}, NULL, x.rowtime,
                       NULL, NULL, x.price FROM sells_n x
                WHERE NOT EXISTS (SELECT 1 FROM buys_n b WHERE {match})"""
        )
    return con.execute(" UNION ALL ".join(parts)).fetchall()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("left", "kind", "right"),
    [
        # KDA's example: a buy meets the latest 20 sells (those of its ticker among them)
        (None, "", ("ROWS", 20, 0)),
        # a buy meets the next 20 sells; one without a match comes out at the 20th's time
        (None, "LEFT", ("ROWS", 0, 20)),
        # a sell meets the latest 15 buys, a buy the next 25 sells; both kept
        (("ROWS", 15, 0), "FULL OUTER", ("ROWS", 0, 25)),
        # a sell meets the next 10 buys, a buy the sells of the second before it
        (("ROWS", 0, 10), "RIGHT", ("RANGE", 1000, 0)),
        # LEFT with the ROWS window on the kept side: a buy out of the latest 30 buys
        (("ROWS", 30, 0), "LEFT", None),
    ],
)
@pytest.mark.parametrize("batch_size", [1, 311])
def test_rows_windows_meet_a_count_of_rows_of_the_other_stream(
    left: _Window | None, kind: str, right: _Window | None, batch_size: int
) -> None:
    """KDA's row-based join window: ``OVER (ROWS n PRECEDING)`` holds the latest ``n`` rows
    of its stream up to the other side's current row, ``ROWS n FOLLOWING`` the first ``n``
    from its time on, counted over the whole stream (not per key: ON chooses among them);
    rows of one ROWTIME count in arrival order. A result has the later row's ROWTIME; a kept
    row without a match comes out when its window closes."""
    got = _run_join(_over(left), kind.split()[0] if kind else "", _over(right), batch_size)
    expected = _rows_expected(left, kind.split()[0] if kind else "", right,
                              "b.ticker = x.ticker")  # fmt: skip
    assert row_counts(got) == row_counts(expected)
    assert sum(1 for r in got if r[1] is not None and r[2] is not None) > 100
    if kind:
        assert sum(1 for r in got if r[1] is None or r[2] is None) > 10


@pytest.mark.parametrize("batch_size", [1, 97])
def test_a_cross_join_with_a_rows_window(batch_size: int) -> None:
    """``b CROSS JOIN s OVER (ROWS 3 PRECEDING)``: every buy with the three latest sells."""
    code = _BUYS_AND_SELLS.format(
        left="", kind="CROSS", right="OVER (ROWS 3 PRECEDING)"
    ).replace(" ON b.ticker = s.ticker;", " WHERE b.price > 120;")
    streams, failures = run(code, RECORDS, batch_size=batch_size)
    assert failures == []
    got = [r[1:] for r in streams["DESTINATION_SQL_STREAM"]]
    expected = _rows_expected(None, "", ("ROWS", 3, 0), "b.price > 120")
    assert row_counts(got) == row_counts(expected)
    assert len(got) > 300
