"""DuckDB oracle queries shared by the offline and the on-stack tests of the ticker corpus.

Each works on a DuckDB table ``s`` of ticker records — ``ticker``, ``sector``, ``change``,
``price``, ``event_ms`` and ``rowtime`` — in one of two shapes: records in arrival order
(column ``seq``, one partition) or records as they sit in Kafka (``part`` and ``off``).

The rules are KDA's, written here without the engine's code: an event-time row is late when
its window ended at or before the largest event time before it (in arrival order, or in its
partition) minus the allowed lateness; a result aggregates the rows that are not late.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb
import pyarrow as pa

__all__ = [
    "TICKER_COLUMNS",
    "both_sides_oracle",
    "insert_rows",
    "judge_lateness",
    "rowtime_table",
    "sector_oracle",
    "ticker_table",
]

Rows = list[tuple[Any, ...]]

#: the ticker records' columns after the order columns and ``ts``
TICKER_COLUMNS = (
    "ticker VARCHAR", "sector VARCHAR", "change DOUBLE", "price DOUBLE", "event_ms BIGINT",
)  # fmt: skip


def insert_rows(
    con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[Sequence[Any]]
) -> None:
    """``INSERT INTO table`` every row of ``rows`` (values in the table's column order), in
    one statement over an Arrow table of the rows' columns; DuckDB casts each column to the
    table's type as it would a bound parameter. DuckDB's ``executemany`` binds one row at a
    time, about a millisecond a row on a quiet machine: seconds for one test's input. Rows
    that Arrow cannot put in typed columns (a column mixing strings and numbers, an integer
    beyond 64 bits) still go through ``executemany``."""
    rows = list(rows)
    if not rows:
        return
    try:
        columns = [pa.array(column) for column in zip(*rows, strict=True)]
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
        return
    name = f"rows_{uuid.uuid4().hex}"
    con.register(name, pa.table(columns, names=[f"c{i}" for i in range(len(columns))]))
    try:
        con.execute(f"INSERT INTO {table} SELECT * FROM {name}")
    finally:
        con.unregister(name)


def rowtime_table(
    columns: Sequence[str], rows: Iterable[tuple[Any, ...]], *, per_partition: bool
) -> duckdb.DuckDBPyConnection:
    """DuckDB with ``rows`` as table ``s``: each row ``seq`` (or ``part, off`` when
    ``per_partition``), ``ts`` (its Kafka timestamp), then ``columns`` (``"name TYPE"``); and
    ``rowtime``: the running maximum of ``ts`` in arrival order (in offset order within a
    partition when ``per_partition``)."""
    order = ("part INTEGER", "off BIGINT") if per_partition else ("seq BIGINT",)
    every = (*order, "ts BIGINT", *columns)
    con = duckdb.connect()
    con.execute(f"CREATE TABLE src ({', '.join(every)})")
    insert_rows(con, "src", rows)
    before = "PARTITION BY part ORDER BY off" if per_partition else "ORDER BY seq"
    con.execute(
        f"CREATE TABLE s AS SELECT *, max(ts) OVER ({before} ROWS UNBOUNDED PRECEDING) "
        "AS rowtime FROM src"
    )
    return con


def ticker_table(
    rows: Iterable[tuple[Any, ...]], *, per_partition: bool
) -> duckdb.DuckDBPyConnection:
    """:func:`rowtime_table` of ticker records (:data:`TICKER_COLUMNS`)."""
    return rowtime_table(TICKER_COLUMNS, rows, per_partition=per_partition)


def judge_lateness(
    con: duckdb.DuckDBPyConnection, *, window_ms: int, lateness_ms: int, per_partition: bool
) -> None:
    """Table ``judged``: ``s`` with each row's event-time window start ``ws`` and ``wm``, the
    watermark the rows before it built (``NULL`` for the first). The rows before it are those
    of its partition in offset order (``per_partition``) or all in arrival order. A row is
    late when ``ws + window_ms <= wm``."""
    before = "PARTITION BY part ORDER BY off" if per_partition else "ORDER BY seq"
    con.execute(
        f"""CREATE OR REPLACE TABLE judged AS
            SELECT *, event_ms - event_ms % {window_ms} AS ws,
                   max(event_ms) OVER ({before} ROWS BETWEEN
                       UNBOUNDED PRECEDING AND 1 PRECEDING) - {lateness_ms} AS wm
            FROM s"""
    )


def sector_oracle(
    con: duckdb.DuckDBPyConnection, *, lateness_ms: int, per_partition: bool
) -> dict[str, Rows]:
    """The outputs of the per-sector pumps both repartition tests run, from table ``s``:

    * ``SECTOR_ROWTIME``: sector, 10-second ROWTIME window, count, sum(price), max(change),
      distinct tickers;
    * ``SECTOR_EVENT_TIME``: sector, 10-second event-time window, count, sum(price), of the
      rows that are not late;
    * ``late``: the late rows' ``(part,) rowtime, ticker, price, event_ms`` (``part`` only
      ``per_partition``);
    * ``TOP_TICKERS``: the 3 most frequent tickers of each 30-second ROWTIME window, as
      window start, rank (from 0), ticker, count;
    * ``SECTOR_SWINGS``: the join of rising and falling rows of a sector within 1 second.
    """
    judge_lateness(con, window_ms=10_000, lateness_ms=lateness_ms, per_partition=per_partition)
    part = "part, " if per_partition else ""
    q = con.execute
    return {
        "SECTOR_ROWTIME": q(
            "SELECT sector, rowtime - rowtime % 10000, count(*), sum(price), max(change), "
            "count(DISTINCT ticker) FROM s GROUP BY ALL").fetchall(),
        "SECTOR_EVENT_TIME": q(
            "SELECT sector, ws, count(*), sum(price) FROM judged "
            "WHERE wm IS NULL OR ws + 10000 > wm GROUP BY ALL").fetchall(),
        "late": q(
            f"SELECT {part}rowtime, ticker, price, event_ms FROM judged "
            "WHERE ws + 10000 <= wm").fetchall(),
        "TOP_TICKERS": q(
            """SELECT ws, rank, ticker, c FROM (
                 SELECT ws, ticker, c,
                        row_number() OVER (PARTITION BY ws ORDER BY c DESC, ticker) - 1 AS rank
                 FROM (SELECT rowtime - rowtime % 30000 AS ws, ticker, count(*) AS c
                       FROM s GROUP BY ALL))
               WHERE rank < 3""").fetchall(),
        "SECTOR_SWINGS": q(
            """SELECT u.ticker, d.ticker, u.sector, u.price, d.price
               FROM s u JOIN s d ON u.sector = d.sector
                 AND d.rowtime BETWEEN u.rowtime - 1000 AND u.rowtime
               WHERE u.change > 1 AND d.change < -1""").fetchall(),
    }  # fmt: skip


def both_sides_oracle(con: duckdb.DuckDBPyConnection) -> dict[str, Rows]:
    """The application that writes one stream on both sides of a repartition
    (``tests/integration/sql_apps/repartition_both_sides``): ACTIVITY holds the rising trades
    at their ROWTIME and each sector's sum per 10 s of ROWTIME at its window's end; PER_LABEL
    counts and sums ACTIVITY per 20 s of ROWTIME; BIG is its amounts over 150."""
    con.execute(
        "CREATE TABLE activity AS "
        "SELECT ticker AS label, price::DOUBLE AS amount, rowtime FROM s WHERE change > 1 "
        "UNION ALL SELECT sector, sum(price), rowtime - rowtime % 10000 + 10000 FROM s "
        "GROUP BY sector, rowtime - rowtime % 10000"
    )
    return {
        "PER_LABEL": con.execute(
            "SELECT label, rowtime - rowtime % 20000, count(*), sum(amount) FROM activity "
            "GROUP BY ALL"
        ).fetchall(),
        "BIG": con.execute("SELECT label, amount FROM activity WHERE amount > 150").fetchall(),
    }
