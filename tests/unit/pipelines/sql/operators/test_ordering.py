"""Streaming ORDER BY, SELECT DISTINCT, group_rank and ``expr AS ROWTIME`` (the ``QUERIES``
application of the corpus) against DuckDB, row for row and in order."""

from __future__ import annotations

import pytest

from pipelines.sql.operators.ordering import sort_rows
from tests.unit.pipelines.sql.corpus import QUERIES, input_table, norm, run, ticker_records

RECORDS = ticker_records(3000, seed=5)


@pytest.fixture(scope="module", params=[1, 97, 3000], ids=lambda n: f"batch-{n}")
def streams(request: pytest.FixtureRequest) -> dict:
    out, failures = run(QUERIES, RECORDS, batch_size=request.param)
    streams = dict(out)
    streams["failures"] = failures
    return streams


@pytest.fixture(scope="module")
def duck():
    return input_table(RECORDS)


def _norm(rows) -> list[tuple]:
    return [tuple(norm(v) for v in row) for row in rows]


def test_order_by_sorts_the_rows_of_each_second_by_price_descending(streams, duck) -> None:
    """``ORDER BY FLOOR(s.ROWTIME TO SECOND), price DESC``: each second's rows, by price
    (ties in arrival order), all with the ROWTIME of the second's last row."""
    expected = duck.execute(
        """SELECT max(rowtime) OVER (PARTITION BY rowtime - rowtime % 1000), ticker, price
           FROM s ORDER BY rowtime - rowtime % 1000, price DESC, seq"""
    ).fetchall()
    assert _norm(streams["SORTED"]) == _norm(expected)


def test_distinct_keeps_the_first_row_of_each_minute_and_ticker(streams, duck) -> None:
    expected = duck.execute(
        """SELECT rowtime, rowtime - rowtime % 60000, ticker FROM (
             SELECT *, row_number() OVER (PARTITION BY rowtime - rowtime % 60000, ticker
                                          ORDER BY seq) AS n FROM s)
           WHERE n = 1 ORDER BY seq"""
    ).fetchall()
    assert _norm(streams["FIRSTS"]) == _norm(expected)
    assert len(expected) > 50


def test_group_rank_ranks_each_window_and_keeps_three(streams, duck) -> None:
    """group_rank over a tumbling GROUP BY: the groups of one window (one ROWTIME) ranked by
    HIGH descending (RANK: ties share a rank), in rank order, at most three per window."""
    expected = duck.execute(
        """WITH g AS (
             SELECT rowtime - rowtime % 10000 + 10000 AS t, ticker, max(price) AS high,
                    count(*) AS trades, min(seq) AS first FROM s GROUP BY ALL),
           r AS (
             SELECT *, rank() OVER (PARTITION BY t ORDER BY high DESC) AS place,
                    row_number() OVER (PARTITION BY t ORDER BY high DESC, first) AS n FROM g)
           SELECT t, ticker, high, trades, place FROM r WHERE n <= 3 ORDER BY t, n"""
    ).fetchall()
    assert _norm(streams["RANKED"]) == _norm(expected)


def test_as_rowtime_sets_the_rows_time_and_refuses_going_back(streams, duck) -> None:
    """``event_time AS ROWTIME``: a row's ROWTIME is its event time; one earlier than a row
    already out is an Out_Of_Order_Row error (KDA: rows out of order go to error_stream)."""
    judged = duck.execute(
        """SELECT event_ms, ticker, price,
                  event_ms >= coalesce(max(event_ms) OVER (ORDER BY seq ROWS BETWEEN
                      UNBOUNDED PRECEDING AND 1 PRECEDING), event_ms) AS kept
           FROM s ORDER BY seq"""
    ).fetchall()
    assert _norm(streams["BY_EVENT_TIME"]) == [(t, k, p) for t, k, p, kept in judged if kept]
    refused = [f for f in streams["failures"] if f.pump == "RETIME_PUMP"]
    assert [f.name for f in refused] == ["Out_Of_Order_Row"] * sum(1 for j in judged if not j[3])
    assert len(refused) > 100


def test_sort_rows_puts_nulls_where_asked() -> None:
    rows = [(0, 2), (1, None), (2, 1), (3, 2)]
    assert sort_rows(rows, [(1, False, True)]) == [(1, None), (2, 1), (0, 2), (3, 2)]
    assert sort_rows(rows, [(1, False, False)]) == [(2, 1), (0, 2), (3, 2), (1, None)]
    assert sort_rows(rows, [(1, True, False)]) == [(0, 2), (3, 2), (2, 1), (1, None)]
    assert sort_rows(rows, [(1, True, True)]) == [(1, None), (0, 2), (3, 2), (2, 1)]


# -- KDA's T-sort: ORDER BY ts WITHIN interval --------------------------------------------
TSORT = """
CREATE OR REPLACE STREAM "BY_EVENT" (sector VARCHAR(16), ticker VARCHAR(4), event TIMESTAMP);
CREATE OR REPLACE PUMP "TSORT_PUMP" AS INSERT INTO "BY_EVENT"
SELECT STREAM s.event_time AS ROWTIME, sector, ticker_symbol, s.event_time
FROM "SOURCE_SQL_STREAM_001" AS s
ORDER BY s.event_time WITHIN INTERVAL '{within}' SECOND, sector DESC;
"""


@pytest.mark.parametrize("within", [1, 3600])
@pytest.mark.parametrize("batch_size", [1, 211])
def test_a_t_sort_reorders_by_the_timestamp_within_its_window(
    duck, within: int, batch_size: int
) -> None:
    """``ORDER BY ts WITHIN INTERVAL …`` (KDA's T-sorting Stream Input): rows come out by
    ``ts``, with ``ts`` as their ROWTIME; a row whose ``ts`` is before a row already out —
    one earlier than the newest ``ts`` seen before it minus the window — is an
    ``Out_Of_Order_Row`` error. The late rows, computed independently: a row is late when an
    earlier row had a ``ts`` at most (largest earlier ``ts`` − window) and above its own."""
    out, failures = run(TSORT.format(within=within), RECORDS, batch_size=batch_size)
    rows = out["BY_EVENT"]
    window_ms = within * 1000
    late = duck.execute(
        f"""WITH h AS (
              SELECT seq, event_ms, max(event_ms) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED
                     PRECEDING AND 1 PRECEDING) AS high FROM s)
            SELECT h.seq FROM h WHERE h.event_ms < (
              SELECT max(p.event_ms) FROM s p
              WHERE p.seq < h.seq AND p.event_ms <= h.high - {window_ms})
            ORDER BY h.seq"""
    ).fetchall()
    kept = duck.execute(
        """SELECT event_ms, sector, ticker, event_ms FROM s
            WHERE seq NOT IN (SELECT unnest(?::BIGINT[]))
            ORDER BY event_ms, sector DESC, seq""",
        [[seq for (seq,) in late]],
    ).fetchall()
    assert [f.name for f in failures] == ["Out_Of_Order_Row"] * len(late)
    # every row out has its ts as ROWTIME, in ROWTIME order; the same rows as the oracle's
    assert all(int(r[0]) == int(r[3]) for r in rows)
    assert [int(r[0]) for r in rows] == sorted(int(r[0]) for r in rows)
    assert sorted(_norm(rows)) == sorted(_norm(kept))
    if within == 3600:
        assert late == [] and _norm(rows) == _norm(kept)  # a window wide enough: all sorted
    else:
        assert len(late) > 10


# -- expr AS ROWTIME with ORDER BY and DISTINCT -------------------------------------------
#: The SELECT list makes the rows with their new ROWTIME (one going back in time is an
#: Out_Of_Order_Row error), then DISTINCT and ORDER BY take the re-timed rows; ORDER BY's
#: unqualified ROWTIME (or the ordinal of the item AS ROWTIME) is the result's, the new one;
#: an alias is its item's value (a bare ROWTIME item is a value of the row being made).
RETIMED = """
CREATE OR REPLACE STREAM "SORTED_BY_INPUT" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "SORT_INPUT" AS INSERT INTO "SORTED_BY_INPUT"
SELECT STREAM ticker_symbol, price, event_time AS ROWTIME FROM "SOURCE_SQL_STREAM_001" AS s
ORDER BY FLOOR(s.ROWTIME TO SECOND), price DESC;

CREATE OR REPLACE STREAM "SORTED_BY_NEW" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "SORT_NEW" AS INSERT INTO "SORTED_BY_NEW"
SELECT STREAM ticker_symbol, price, FLOOR(event_time TO SECOND) AS ROWTIME
FROM "SOURCE_SQL_STREAM_001" ORDER BY ROWTIME, price;

CREATE OR REPLACE STREAM "KINDS" (sector VARCHAR(16));
CREATE OR REPLACE PUMP "DISTINCT_NEW" AS INSERT INTO "KINDS"
SELECT STREAM DISTINCT FLOOR(event_time TO SECOND) AS ROWTIME, sector
FROM "SOURCE_SQL_STREAM_001";

CREATE OR REPLACE STREAM "SORTED_KINDS" (sector VARCHAR(16));
CREATE OR REPLACE PUMP "DISTINCT_SORT" AS INSERT INTO "SORTED_KINDS"
SELECT STREAM DISTINCT FLOOR(event_time TO SECOND) AS ROWTIME, sector
FROM "SOURCE_SQL_STREAM_001" ORDER BY 1, sector DESC;

CREATE OR REPLACE STREAM "BY_ALIAS" (sec TIMESTAMP, ticker VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "SORT_ALIAS" AS INSERT INTO "BY_ALIAS"
SELECT STREAM FLOOR(ROWTIME TO SECOND) AS sec, ticker_symbol, price, event_time AS ROWTIME
FROM "SOURCE_SQL_STREAM_001" ORDER BY sec, price;
"""

#: ``s`` with each row's new ROWTIME (``t``) and whether it is kept: not before the new
#: ROWTIME of a row before it (a row that went back was dropped, so the largest before it).
_KEPT = """
CREATE OR REPLACE TABLE {name} AS
SELECT *, {t} AS t,
       {t} >= coalesce(max({t}) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING
                                      AND 1 PRECEDING), {t}) AS kept
FROM s
"""


@pytest.fixture(scope="module")
def retimed_oracle():
    con = input_table(RECORDS)
    con.execute(_KEPT.format(name="by_event", t="event_ms"))
    con.execute(_KEPT.format(name="by_second", t="event_ms - event_ms % 1000"))
    firsts = """SELECT seq, t, sector FROM (
                  SELECT *, row_number() OVER (PARTITION BY t, sector ORDER BY seq) AS n
                  FROM by_second WHERE kept) WHERE n = 1"""
    q = con.execute
    return {
        # the rows of each second of the input's ROWTIME by price, with the new ROWTIME of
        # the group's last row
        "SORTED_BY_INPUT": q(
            """SELECT max(t) OVER (PARTITION BY rowtime - rowtime % 1000), ticker, price
               FROM by_event WHERE kept
               ORDER BY rowtime - rowtime % 1000, price DESC, seq""").fetchall(),
        "BY_ALIAS": q(
            """SELECT max(t) OVER (PARTITION BY rowtime - rowtime % 1000),
                      rowtime - rowtime % 1000, ticker, price
               FROM by_event WHERE kept ORDER BY rowtime - rowtime % 1000, price, seq"""
        ).fetchall(),
        "SORTED_BY_NEW": q(
            "SELECT t, ticker, price FROM by_second WHERE kept ORDER BY t, price, seq"
        ).fetchall(),
        "KINDS": q(f"SELECT t, sector FROM ({firsts}) ORDER BY seq").fetchall(),
        "SORTED_KINDS": q(
            f"SELECT t, sector FROM ({firsts}) ORDER BY t, sector DESC"
        ).fetchall(),
        "dropped_by_event": q("SELECT count(*) FROM by_event WHERE NOT kept").fetchone()[0],
        "dropped_by_second": q("SELECT count(*) FROM by_second WHERE NOT kept").fetchone()[0],
    }  # fmt: skip


@pytest.mark.parametrize("batch_size", [1, 97, 3000])
def test_as_rowtime_with_order_by_and_distinct(retimed_oracle, batch_size: int) -> None:
    """``expr AS ROWTIME`` with a streaming ORDER BY (led by the input's ROWTIME, or by the
    result's, the new one) and with SELECT DISTINCT (the item AS ROWTIME is the monotonic
    one, and one DISTINCT compares), against DuckDB; rows whose new ROWTIME goes back are
    Out_Of_Order_Row errors of the pump that re-times them, whatever the batches."""
    out, failures = run(RETIMED, RECORDS, batch_size=batch_size)
    for name in ("SORTED_BY_INPUT", "SORTED_BY_NEW", "KINDS", "SORTED_KINDS", "BY_ALIAS"):
        assert _norm(out[name]) == _norm(retimed_oracle[name]), name
        times = [int(row[0]) for row in out[name]]
        assert times == sorted(times), name  # the new ROWTIMEs never go back
    by_pump: dict[str, int] = {}
    for failure in failures:
        assert failure.name == "Out_Of_Order_Row"
        pump = failure.pump.split("$")[0]
        by_pump[pump] = by_pump.get(pump, 0) + 1
    assert by_pump == {
        "SORT_INPUT": retimed_oracle["dropped_by_event"],
        "SORT_ALIAS": retimed_oracle["dropped_by_event"],
        "SORT_NEW": retimed_oracle["dropped_by_second"],
        "DISTINCT_NEW": retimed_oracle["dropped_by_second"],
        "DISTINCT_SORT": retimed_oracle["dropped_by_second"],
    }
    assert retimed_oracle["dropped_by_second"] > 100
    # DISTINCT dropped rows; the sort reordered them
    kept = len(RECORDS) - retimed_oracle["dropped_by_second"]
    assert len(retimed_oracle["KINDS"]) < 0.8 * kept
    assert retimed_oracle["KINDS"] != retimed_oracle["SORTED_KINDS"]
