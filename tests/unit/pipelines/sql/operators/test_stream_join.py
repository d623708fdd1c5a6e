"""A chain of pumps into a stream-to-stream LEFT JOIN, against DuckDB."""

from __future__ import annotations

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
