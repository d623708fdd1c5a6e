"""The offline SQL corpus: KDA applications run by the engine over seeded ticker data, and
DuckDB, the independent computation each operator's results are compared with.

The data is shaped like KDA's demo stream, with disorder. Each record:
``(kafka_timestamp_ms, (TICKER_SYMBOL, SECTOR, CHANGE, PRICE, EVENT_TIME))``. Kafka
timestamps rise steadily; event times trail them by a few seconds, shuffled a little (out of
order), and about 1 % trail by up to three minutes (late for a 60-second window with a few
seconds of allowed lateness). The applications (``TUMBLING_ROWTIME`` …) are tested in
``tests/unit/pipelines/sql/operators/test_<operator>.py`` and restored in ``test_engine.py``.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import duckdb

from pipelines.sql.catalog import StreamColumn
from pipelines.sql.engine import run_rows
from pipelines.sql.plan import plan_application
from pipelines.sql.types import Timestamp, parse_type
from tests.duckdb_oracles import ticker_table

__all__ = [
    "CHAIN_AND_JOIN",
    "QUERIES",
    "INPUTS",
    "SLIDING",
    "STAGGER",
    "TICKER_COLUMNS",
    "TOP_K",
    "TUMBLING_EVENT_TIME",
    "TUMBLING_ROWTIME",
    "assert_rows_close",
    "input_table",
    "norm",
    "row_counts",
    "run",
    "ticker_records",
]

TICKER_COLUMNS = [
    StreamColumn("TICKER_SYMBOL", parse_type("VARCHAR(4)")),
    StreamColumn("SECTOR", parse_type("VARCHAR(16)")),
    StreamColumn("CHANGE", parse_type("REAL")),
    StreamColumn("PRICE", parse_type("REAL")),
    StreamColumn("EVENT_TIME", parse_type("TIMESTAMP")),
]
INPUTS = {"SOURCE_SQL_STREAM_001": TICKER_COLUMNS}
_SECTORS = ["TECHNOLOGY", "ENERGY", "HEALTHCARE", "FINANCIAL", "RETAIL"]
START_MS = 1_780_000_000_000 - 1_780_000_000_000 % 60_000


def ticker_records(
    count: int, *, seed: int = 7, symbols: int = 20, rate_per_s: int = 10
) -> list[tuple[int, tuple[Any, ...]]]:
    rng = random.Random(seed)
    names = [f"T{i:02d}" for i in range(symbols)]
    sector = {n: _SECTORS[i % len(_SECTORS)] for i, n in enumerate(names)}
    price = {n: 50.0 + 5 * i for i, n in enumerate(names)}
    records = []
    ts = START_MS + rng.randrange(0, 60_000)
    for _ in range(count):
        ts += rng.randrange(0, 2 * 1000 // rate_per_s + 1)
        name = rng.choice(names)
        change = round(rng.uniform(-2, 2), 2)
        price[name] = round(max(1.0, price[name] + change), 2)
        delay = rng.randrange(0, 4000)
        if rng.random() < 0.01:
            delay = rng.randrange(60_000, 180_000)
        records.append((ts, (name, sector[name], change, price[name], Timestamp(ts - delay))))
    # a little disorder in arrival: swap neighbours (Kafka timestamps stay as produced)
    for i in range(0, len(records) - 1, 7):
        records[i], records[i + 1] = records[i + 1], records[i]
    return records


def input_table(records: list[tuple[int, tuple[Any, ...]]]) -> duckdb.DuckDBPyConnection:
    """DuckDB with the records as table ``s``: ``seq``, ``ts``, the columns and ROWTIME (the
    running maximum of the Kafka timestamps in arrival order)."""
    rows = [(i, ts, *v[:4], int(v[4])) for i, (ts, v) in enumerate(records)]
    return ticker_table(rows, per_partition=False)


def norm(value: Any) -> Any:
    """A value as DuckDB gives it: floats to 6 places, timestamps as integers."""
    if isinstance(value, float):
        return round(value, 6)
    return int(value) if isinstance(value, Timestamp) else value


def row_counts(rows: list[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    """The multiset of ``rows``, values normalised."""
    return Counter(tuple(norm(v) for v in row) for row in rows)


def assert_rows_close(got: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    """Same multiset of rows: exact for everything but floats (relative 1e-9)."""

    def exact_part(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(None if isinstance(v, float) else norm(v) for v in row)

    got_sorted = sorted(got, key=lambda r: repr(exact_part(r)))
    want_sorted = sorted(expected, key=lambda r: repr(exact_part(r)))
    assert len(got_sorted) == len(want_sorted)
    for g, w in zip(got_sorted, want_sorted, strict=True):
        assert exact_part(g) == exact_part(w), (g, w)
        for a, b in zip(g, w, strict=True):
            if isinstance(a, float) or isinstance(b, float):
                assert math.isclose(a, b, rel_tol=1e-9), (g, w)


def run(code: str, records, *, lateness: int = 0, batch_size: int = 500):
    """Plan ``code`` and run ``records`` through a fresh engine: (streams, failures)."""
    plan = plan_application(code, application="corpus", inputs=INPUTS, allowed_lateness_ms=lateness)
    return run_rows(plan, records, batch_size=batch_size, allowed_lateness_ms=lateness)


# -- the applications -------------------------------------------------------------------------

TUMBLING_ROWTIME = """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    row_time TIMESTAMP, ticker_symbol VARCHAR(4), min_price REAL, max_price REAL, n BIGINT,
    avg_price DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ROWTIME, Ticker_Symbol, MIN(Price) AS min_price, MAX(Price) AS max_price,
       COUNT(*) AS n, AVG(price) AS avg_price
FROM "SOURCE_SQL_STREAM_001"
WHERE change > -1.5
GROUP BY Ticker_Symbol, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '60' SECOND);
"""


TUMBLING_EVENT_TIME = """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4), window_start TIMESTAMP, n BIGINT, total REAL, sd DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, STEP(event_time BY INTERVAL '60' SECOND), COUNT(*), SUM(price),
       STDDEV_POP(price)
FROM "SOURCE_SQL_STREAM_001"
GROUP BY ticker_symbol, STEP(event_time BY INTERVAL '60' SECOND);
"""


SLIDING = """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4), price REAL, min_price REAL, max_price REAL, avg_price DOUBLE,
    n BIGINT, prev_price REAL);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, price,
       MIN(Price) OVER W1, MAX(Price) OVER W1, AVG(Price) OVER W1, COUNT(*) OVER W1,
       LAG(price, 1) OVER W1
FROM "SOURCE_SQL_STREAM_001"
WINDOW W1 AS (PARTITION BY ticker_symbol RANGE INTERVAL '10' SECOND PRECEDING);
"""


STAGGER = """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4), event_minute TIMESTAMP, ticker_count BIGINT);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM TICKER_SYMBOL, FLOOR(EVENT_TIME TO MINUTE), COUNT(*) AS TICKER_COUNT
FROM "SOURCE_SQL_STREAM_001"
WINDOWED BY STAGGER (
    PARTITION BY FLOOR(EVENT_TIME TO MINUTE), TICKER_SYMBOL RANGE INTERVAL '1' MINUTE);
"""


TOP_K = """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ITEM VARCHAR(4), ITEM_COUNT BIGINT);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM * FROM TABLE(TOP_K_ITEMS_TUMBLING(
    CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 'TICKER_SYMBOL', 3, 60));
CREATE OR REPLACE STREAM "DISTINCT_STREAM" (N BIGINT);
CREATE OR REPLACE PUMP "DISTINCT_PUMP" AS INSERT INTO "DISTINCT_STREAM"
SELECT STREAM * FROM TABLE(COUNT_DISTINCT_ITEMS_TUMBLING(
    CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001" WHERE price > 100), 'TICKER_SYMBOL', 60));
"""


CHAIN_AND_JOIN = """
CREATE OR REPLACE STREAM "BUYS" (ticker VARCHAR(4), price REAL, label VARCHAR(32));
CREATE OR REPLACE STREAM "SELLS" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker VARCHAR(4), label VARCHAR(32), buy_price REAL, sell_price REAL);
CREATE OR REPLACE PUMP "BUY_PUMP" AS INSERT INTO "BUYS"
SELECT STREAM ticker_symbol, price,
       LOWER(SUBSTRING(sector FROM 1 FOR 3)) || '-' ||
       CASE WHEN price >= 100 THEN 'HIGH' ELSE 'LOW' END
FROM "SOURCE_SQL_STREAM_001" WHERE change > 0;
CREATE OR REPLACE PUMP "SELL_PUMP" AS INSERT INTO "SELLS"
SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001" WHERE change <= 0;
CREATE OR REPLACE PUMP "JOIN_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM b.ticker, b.label, b.price, s.price
FROM "BUYS" AS b
LEFT JOIN "SELLS" OVER (RANGE INTERVAL '2' SECOND PRECEDING) AS s
  ON b.ticker = s.ticker;
"""


#: KDA's query language over the pumps: ORDER BY, DISTINCT, group_rank, AS ROWTIME, a
#: subquery with UNION ALL inside, a FOLLOWING join and a reference-free window over a join.
QUERIES = """
CREATE OR REPLACE STREAM "SORTED" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "SORT_PUMP" AS INSERT INTO "SORTED"
SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001"
ORDER BY FLOOR("SOURCE_SQL_STREAM_001".ROWTIME TO SECOND), price DESC;

CREATE OR REPLACE STREAM "FIRSTS" (minute TIMESTAMP, ticker VARCHAR(4));
CREATE OR REPLACE PUMP "DISTINCT_PUMP" AS INSERT INTO "FIRSTS"
SELECT STREAM DISTINCT FLOOR(ROWTIME TO MINUTE), ticker_symbol FROM "SOURCE_SQL_STREAM_001";

CREATE OR REPLACE STREAM "RANKED" (ticker VARCHAR(4), high REAL, trades BIGINT, place INTEGER);
CREATE OR REPLACE PUMP "RANK_PUMP" AS INSERT INTO "RANKED"
SELECT STREAM * FROM TABLE(group_rank(CURSOR(
    SELECT STREAM ticker_symbol, MAX(price) AS high, COUNT(*) AS trades
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY ticker_symbol, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND)),
    'HIGH', 'groupRank', 'desc', 'asc', 0, 3));

CREATE OR REPLACE STREAM "BY_EVENT_TIME" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "RETIME_PUMP" AS INSERT INTO "BY_EVENT_TIME"
SELECT STREAM ticker_symbol, price, event_time AS ROWTIME FROM "SOURCE_SQL_STREAM_001";

CREATE OR REPLACE STREAM "MOVES" (ticker VARCHAR(4), move REAL, kind VARCHAR(4));
CREATE OR REPLACE PUMP "MOVES_PUMP" AS INSERT INTO "MOVES"
SELECT STREAM t, m, k FROM (
    SELECT STREAM ticker_symbol, change, 'UP' FROM "SOURCE_SQL_STREAM_001" WHERE change > 1
    UNION ALL
    SELECT STREAM ticker_symbol, -change, 'DOWN' FROM "SOURCE_SQL_STREAM_001" WHERE change < -1
) AS x(t, m, k)
WHERE m > 1.5;

CREATE OR REPLACE STREAM "UPS" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "UP_PUMP" AS INSERT INTO "UPS"
SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001" WHERE change > 0;
CREATE OR REPLACE STREAM "PAIRS" (ticker VARCHAR(4), pairs BIGINT, best REAL);
CREATE OR REPLACE PUMP "PAIR_PUMP" AS INSERT INTO "PAIRS"
SELECT STREAM u.ticker, COUNT(*), MAX(n.price - u.price)
FROM "UPS" AS u
JOIN "UPS" OVER (RANGE INTERVAL '5' SECOND FOLLOWING) AS n ON u.ticker = n.ticker
GROUP BY u.ticker, STEP(ROWTIME BY INTERVAL '30' SECOND);
"""
