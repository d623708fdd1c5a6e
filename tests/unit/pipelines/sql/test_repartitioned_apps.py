"""Applications whose groups span input partitions, run by every processor of the application
over in-memory topics (:mod:`.local_cluster`): random batches, commits and crashes, and the
results checked against DuckDB over the input as it sits in its partitions.

The oracle follows the rules, not the engine: ROWTIME is the running maximum of the Kafka
timestamps of a partition; an event-time row is late when its window ended at or before the
largest event time before it in its partition minus the allowed lateness; results are the
aggregates of the rows that are not late, over all partitions.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from ground.settings import Settings
from pipelines.sql.application import SqlApplication, check_application
from pipelines.sql.engine import run_rows
from pipelines.sql.types import Timestamp
from tests.duckdb_oracles import judge_lateness, ticker_table
from tests.unit.pipelines.sql.corpus import norm, ticker_records
from tests.unit.pipelines.sql.local_cluster import LocalCluster

PARTITIONS = 4
LATENESS_MS = 3_000
COLUMNS = [
    {"Name": "TICKER_SYMBOL", "SqlType": "VARCHAR(4)", "Mapping": "$.ticker"},
    {"Name": "SECTOR", "SqlType": "VARCHAR(16)", "Mapping": "$.sector"},
    {"Name": "CHANGE", "SqlType": "REAL", "Mapping": "$.change"},
    {"Name": "PRICE", "SqlType": "REAL", "Mapping": "$.price"},
    {"Name": "EVENT_TIME", "SqlType": "TIMESTAMP", "Mapping": "$.event_ms"},
]
SRC = '"SOURCE_SQL_STREAM_001"'


def make_app(
    tmp_path: Path,
    code: str,
    outputs: Sequence[str],
    *,
    key: Sequence[str] = ("TICKER_SYMBOL",),
    event_time: Mapping[str, int] | None = None,
) -> SqlApplication:
    """The application of ``code`` over the JSON ticker input keyed by ``key``; ``event_time``
    adds to its ``EventTime`` settings (the allowed lateness is :data:`LATENESS_MS`)."""
    (tmp_path / "app.sql").write_text(code)
    (tmp_path / "application.yaml").write_text(yaml.safe_dump({
        "ApplicationName": "rp",
        "ApplicationCode": "app.sql",
        "Inputs": [{"NamePrefix": "SOURCE_SQL_STREAM", "Topic": "in", "PartitionKey": list(key),
                    "InputSchema": {"RecordFormat": {"RecordFormatType": "JSON"},
                                    "RecordColumns": COLUMNS}}],
        "Outputs": [{"Name": o, "Topic": f"out-{o.lower()}",
                     "DestinationSchema": {"RecordFormatType": "JSON"}} for o in outputs],
        "ErrorOutput": {"Topic": "errors", "RecordFormatType": "JSON"},
        "EventTime": {"AllowedLatenessMs": LATENESS_MS, **(event_time or {})},
    }))  # fmt: skip
    config, plan = check_application(tmp_path)
    return SqlApplication(config, plan, Settings.from_env({}))


def partition_of(ticker: str) -> int:
    return zlib.crc32(ticker.encode()) % PARTITIONS


def records(count: int = 3_000, seed: int = 7) -> list[tuple[int, int, dict[str, Any]]]:
    """``(partition, kafka timestamp, value)``, keyed by ticker."""
    out = []
    for ts, (ticker, sector, change, price, event) in ticker_records(count, seed=seed):
        value = {"ticker": ticker, "sector": sector, "change": change, "price": price,
                 "event_ms": int(event)}  # fmt: skip
        out.append((partition_of(ticker), ts, value))
    return out


def cluster(app: SqlApplication, data: list[tuple[int, int, dict[str, Any]]], seed: int):
    c = LocalCluster(app, {"in": PARTITIONS}, seed=seed)
    for part, ts, value in data:
        c.produce("in", part, [(ts, json.dumps(value).encode())])
    return c


def input_table(data: list[tuple[int, int, dict[str, Any]]]) -> duckdb.DuckDBPyConnection:
    offsets: dict[int, int] = {}
    rows = []
    for part, ts, v in data:
        off = offsets[part] = offsets.get(part, -1) + 1
        rows.append((part, off, ts, v["ticker"], v["sector"], v["change"], v["price"],
                     v["event_ms"]))  # fmt: skip
    return ticker_table(rows, per_partition=True)


def assert_rows_close(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    """The same multiset of rows: exact but for floats (relative 1e-9)."""
    assert len(got) == len(want)
    for g, w in zip(sorted(got, key=_order), sorted(want, key=_order), strict=True):
        assert len(g) == len(w)
        for a, b in zip(g, w, strict=True):
            if isinstance(a, float) or isinstance(b, float):
                assert a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9), (g, w)
            else:
                assert norm(a) == norm(b), (g, w)


def _order(row: tuple[Any, ...]) -> str:
    return repr(tuple(round(v, 6) if isinstance(v, float) else norm(v) for v in row))


def ts_ms(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000 + 0.5)


def values(c: LocalCluster, stream: str) -> list[dict[str, Any]]:
    out = c.rows(f"out-{stream.lower()}")
    keys = [o.key for o in out if o.key is not None]  # window results have one
    assert len(keys) == len(set(keys)), "a window result came out twice"
    return [json.loads(o.value) for o in out]


def errors(c: LocalCluster) -> list[dict[str, Any]]:
    return [json.loads(o.value) for o in c.rows("errors")]


# -- GROUP BY a column that is not the key -----------------------------------------------------
SECTOR_ROWTIME = f"""
CREATE OR REPLACE STREAM "PER_SECTOR" (sector VARCHAR(16), window_start TIMESTAMP, n BIGINT,
    total DOUBLE, low REAL, high REAL, sd DOUBLE, tickers BIGINT);
CREATE OR REPLACE PUMP "SECTOR_PUMP" AS INSERT INTO "PER_SECTOR"
SELECT STREAM sector, STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND), COUNT(*), SUM(price),
       MIN(price), MAX(price), STDDEV_POP(price), COUNT(DISTINCT ticker_symbol)
FROM {SRC} GROUP BY sector, STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND);
"""


@pytest.mark.parametrize("seed, crash_chance", [(1, 0.0), (2, 0.3), (3, 0.5)])
def test_group_by_sector_on_rowtime(tmp_path: Path, seed: int, crash_chance: float) -> None:
    app = make_app(tmp_path, SECTOR_ROWTIME, ["PER_SECTOR"])
    assert [r.partials for r in app.topology.repartitions] == [True]
    data = records()
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    assert crash_chance == 0 or c.crashes > 0
    got = [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["N"], v["TOTAL"], v["LOW"], v["HIGH"],
            v["SD"], v["TICKERS"]) for v in values(c, "PER_SECTOR")]  # fmt: skip
    want = input_table(data).execute(
        "SELECT sector, rowtime - rowtime % 10000, count(*), sum(price), min(price), "
        "max(price), stddev_pop(price), count(DISTINCT ticker) FROM s GROUP BY ALL"
    ).fetchall()
    assert len(want) > 50
    assert_rows_close(got, want)
    assert errors(c) == []


SECTOR_EVENT_TIME = f"""
CREATE OR REPLACE STREAM "PER_SECTOR" (sector VARCHAR(16), window_start TIMESTAMP, n BIGINT,
    total DOUBLE);
CREATE OR REPLACE PUMP "SECTOR_PUMP" AS INSERT INTO "PER_SECTOR"
SELECT STREAM sector, STEP(event_time BY INTERVAL '10' SECOND), COUNT(*), SUM(price)
FROM {SRC} GROUP BY sector, STEP(event_time BY INTERVAL '10' SECOND);
"""


@pytest.mark.parametrize("seed, crash_chance", [(4, 0.0), (5, 0.4)])
def test_group_by_sector_on_event_time_late_rows_as_without_repartition(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    app = make_app(tmp_path, SECTOR_EVENT_TIME, ["PER_SECTOR"])
    data = records()
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    con = input_table(data)
    judge_lateness(con, window_ms=10_000, lateness_ms=LATENESS_MS, per_partition=True)
    want = con.execute(
        "SELECT sector, ws, count(*), sum(price) FROM judged "
        "WHERE wm IS NULL OR ws + 10000 > wm GROUP BY ALL"
    ).fetchall()
    late = con.execute(
        "SELECT part, ticker, event_ms FROM judged WHERE ws + 10000 <= wm"
    ).fetchall()
    got = [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["N"], v["TOTAL"])
           for v in values(c, "PER_SECTOR")]  # fmt: skip
    assert_rows_close(got, want)
    got_late = []
    for e in errors(c):
        assert e["ERROR_NAME"] == "Late_Row" and e["PUMP_NAME"] == "SECTOR_PUMP"
        row = json.loads(bytes.fromhex(e["DATA_ROW"]))
        got_late.append((e["SOURCE_PARTITION"], row[2], row[-1][1]))
    assert sorted(got_late) == sorted(late)
    assert len(late) > 10


SECTOR_FIRST_VALUE = f"""
CREATE OR REPLACE STREAM "PER_SECTOR" (sector VARCHAR(16), window_start TIMESTAMP, n BIGINT,
    first_price REAL, last_change REAL);
CREATE OR REPLACE PUMP "SECTOR_PUMP" AS INSERT INTO "PER_SECTOR"
SELECT STREAM sector, STEP(event_time BY INTERVAL '10' SECOND), COUNT(*), FIRST_VALUE(price),
       LAST_VALUE(change)
FROM {SRC} GROUP BY sector, STEP(event_time BY INTERVAL '10' SECOND);
"""


@pytest.mark.parametrize("seed, crash_chance", [(1, 0.0), (2, 0.4)])
def test_rows_crossing_to_an_event_time_window_late_as_without_repartition(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    # FIRST_VALUE does not merge: the rows cross. Each input partition decides its late rows
    # before the repartition, by its own watermark, as the window would without it
    app = make_app(tmp_path, SECTOR_FIRST_VALUE, ["PER_SECTOR"])
    assert [(r.partials, r.gated) for r in app.topology.repartitions] == [(False, True)]
    data = records(seed=7)
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    assert crash_chance == 0 or c.crashes > 0
    con = input_table(data)
    judge_lateness(con, window_ms=10_000, lateness_ms=LATENESS_MS, per_partition=True)
    late = con.execute(
        "SELECT part, ticker, event_ms FROM judged WHERE ws + 10000 <= wm"
    ).fetchall()
    got_late = []
    for e in errors(c):
        assert e["ERROR_NAME"] == "Late_Row" and e["PUMP_NAME"] == "SECTOR_PUMP"
        row = json.loads(bytes.fromhex(e["DATA_ROW"]))
        got_late.append((e["SOURCE_PARTITION"], row[2], row[-1][1]))
    assert len(late) > 10
    assert sorted(got_late) == sorted(late)
    # the window behind sees every row that is not late, merged by ROWTIME (ties: by
    # partition, then offset): first and last of each window in that order
    want = con.execute(
        "SELECT sector, ws, count(*), first(price ORDER BY rowtime, part, off), "
        "last(change ORDER BY rowtime, part, off) FROM judged "
        "WHERE wm IS NULL OR ws + 10000 > wm GROUP BY ALL"
    ).fetchall()
    got = [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["N"], v["FIRST_PRICE"], v["LAST_CHANGE"])
           for v in values(c, "PER_SECTOR")]  # fmt: skip
    assert len(want) > 50
    assert_rows_close(got, want)


def test_a_partitions_frontier_waits_for_the_rows_it_sent_before_it(tmp_path: Path) -> None:
    """Partition 0 is ahead in ROWTIME, behind in event time: its first row waits in the
    stage's buffer for partition 1's ROWTIME while both watermarks pass its window. The
    window must not close before that row is handed over (it is not late in its partition)."""
    app = make_app(tmp_path, SECTOR_FIRST_VALUE, ["PER_SECTOR"])

    def value(ticker: str, price: float, event_ms: int) -> bytes:
        return json.dumps({"ticker": ticker, "sector": "S", "change": 0.5, "price": price,
                           "event_ms": event_ms}).encode()  # fmt: skip

    for seed in range(4):
        c = LocalCluster(app, {"in": 2}, seed=seed)
        c.produce("in", 0, [(20_000, value("A", 1.0, 1_500)), (20_000, value("A", 2.0, 30_000))])
        c.produce("in", 1, [(5_000, value("B", 3.0, 50_000)), (15_000, value("B", 4.0, 50_500))])
        c.run(max_batch=1)
        assert errors(c) == []
        got = sorted((ts_ms(v["WINDOW_START"]), v["N"], v["FIRST_PRICE"])
                     for v in values(c, "PER_SECTOR"))  # fmt: skip
        assert got == [(0, 1, 1.0), (30_000, 1, 2.0), (50_000, 2, 3.0)]


# -- global aggregations ----------------------------------------------------------------------
GLOBAL = f"""
CREATE OR REPLACE STREAM "TOTALS" (window_start TIMESTAMP, n BIGINT, avg_price DOUBLE);
CREATE OR REPLACE PUMP "TOTAL_PUMP" AS INSERT INTO "TOTALS"
SELECT STREAM STEP(ROWTIME BY INTERVAL '10' SECOND), COUNT(*), AVG(price)
FROM {SRC} GROUP BY STEP(ROWTIME BY INTERVAL '10' SECOND);
CREATE OR REPLACE STREAM "TOP" (item VARCHAR(4), item_count BIGINT);
CREATE OR REPLACE PUMP "TOP_PUMP" AS INSERT INTO "TOP"
SELECT STREAM * FROM TABLE(TOP_K_ITEMS_TUMBLING(
    CURSOR(SELECT STREAM * FROM {SRC}), 'TICKER_SYMBOL', 3, 20));
CREATE OR REPLACE STREAM "DISTINCT_SECTORS" (n BIGINT);
CREATE OR REPLACE PUMP "DISTINCT_PUMP" AS INSERT INTO "DISTINCT_SECTORS"
SELECT STREAM * FROM TABLE(COUNT_DISTINCT_ITEMS_TUMBLING(
    CURSOR(SELECT STREAM * FROM {SRC} WHERE price > 100), 'SECTOR', 20));
"""


@pytest.mark.parametrize("seed, crash_chance", [(6, 0.0), (7, 0.4)])
def test_global_windows_in_two_phases(tmp_path: Path, seed: int, crash_chance: float) -> None:
    app = make_app(tmp_path, GLOBAL, ["TOTALS", "TOP", "DISTINCT_SECTORS"])
    assert len(app.topology.repartitions) == 3
    data = records()
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    con = input_table(data)
    totals = con.execute(
        "SELECT rowtime - rowtime % 10000, count(*), avg(price) FROM s GROUP BY ALL"
    ).fetchall()
    got = [(ts_ms(v["WINDOW_START"]), v["N"], v["AVG_PRICE"]) for v in values(c, "TOTALS")]
    assert_rows_close(got, totals)

    def window(o: Any) -> tuple[int, int]:
        start, rank = o.key.decode().rsplit("/", 2)[1:]
        assert o.timestamp_ms == int(start) + 20_000
        return int(start), int(rank)

    top = con.execute(
        """SELECT ws, rank, ticker, c FROM (
             SELECT ws, ticker, c,
                    row_number() OVER (PARTITION BY ws ORDER BY c DESC, ticker) - 1 AS rank
             FROM (SELECT rowtime - rowtime % 20000 AS ws, ticker, count(*) AS c
                   FROM s GROUP BY ALL)) WHERE rank < 3"""
    ).fetchall()
    got_top = [(*window(o), json.loads(o.value)["ITEM"], json.loads(o.value)["ITEM_COUNT"])
               for o in c.rows("out-top")]  # fmt: skip
    assert sorted(got_top) == sorted(top)
    distinct = con.execute(
        "SELECT rowtime - rowtime % 20000, count(DISTINCT sector) FROM s WHERE price > 100 "
        "GROUP BY ALL"
    ).fetchall()
    got_distinct = [(window(o)[0], json.loads(o.value)["N"])
                    for o in c.rows("out-distinct_sectors")]  # fmt: skip
    assert sorted(got_distinct) == sorted(distinct)
    # a window's sectors come from several partitions: a sum of per-partition counts is more
    per_partition = con.execute(
        "SELECT sum(n) FROM (SELECT part, rowtime - rowtime % 20000 AS ws, "
        "count(DISTINCT sector) AS n FROM s WHERE price > 100 GROUP BY ALL)"
    ).fetchone()
    assert per_partition is not None and per_partition[0] > sum(n for _, n in distinct)


# -- a filter pump, then a per-sector window; a renamed key needs no repartition -------------
CHAIN = f"""
CREATE OR REPLACE STREAM "FILTERED" (sym VARCHAR(4), sect VARCHAR(16), price REAL);
CREATE OR REPLACE PUMP "FILTER_PUMP" AS INSERT INTO "FILTERED"
SELECT STREAM ticker_symbol AS sym, sector AS sect, price FROM {SRC} WHERE change > 0;
CREATE OR REPLACE STREAM "PER_SECTOR" (sect VARCHAR(16), ws TIMESTAMP, n BIGINT, high REAL);
CREATE OR REPLACE PUMP "SECTOR_PUMP" AS INSERT INTO "PER_SECTOR"
SELECT STREAM sect, STEP("FILTERED".ROWTIME BY INTERVAL '10' SECOND), COUNT(*), MAX(price)
FROM "FILTERED"
GROUP BY sect, STEP("FILTERED".ROWTIME BY INTERVAL '10' SECOND);
CREATE OR REPLACE STREAM "PER_SYMBOL" (sym VARCHAR(4), n BIGINT);
CREATE OR REPLACE PUMP "SYMBOL_PUMP" AS INSERT INTO "PER_SYMBOL"
SELECT STREAM sym, COUNT(*) FROM "FILTERED"
GROUP BY sym, STEP("FILTERED".ROWTIME BY INTERVAL '10' SECOND);
"""


def test_filter_then_per_sector_window_and_a_renamed_key(tmp_path: Path) -> None:
    app = make_app(tmp_path, CHAIN, ["PER_SECTOR", "PER_SYMBOL"])
    topology = app.topology
    assert [r.pump for r in topology.repartitions] == ["SECTOR_PUMP"]
    assert topology.notes["SYMBOL_PUMP"].startswith("no repartition: its keys include SYM")
    data = records()
    c = cluster(app, data, 8)
    c.run(crash_chance=0.3)
    con = input_table(data)
    want = con.execute(
        "SELECT sector, rowtime - rowtime % 10000, count(*), max(price) FROM s WHERE change > 0 "
        "GROUP BY ALL"
    ).fetchall()
    got = [(v["SECT"], ts_ms(v["WS"]), v["N"], v["HIGH"]) for v in values(c, "PER_SECTOR")]
    assert_rows_close(got, want)
    per_symbol = con.execute(
        "SELECT ticker, count(*) FROM s WHERE change > 0 GROUP BY ticker, rowtime - rowtime % 10000"
    ).fetchall()
    assert sorted((v["SYM"], v["N"]) for v in values(c, "PER_SYMBOL")) == sorted(per_symbol)


# -- rows behind a repartition: a join on a column that is not the key -----------------------
JOIN = f"""
CREATE OR REPLACE STREAM "UPS" (ticker VARCHAR(4), sector VARCHAR(16), price REAL);
CREATE OR REPLACE STREAM "DOWNS" (ticker VARCHAR(4), sector VARCHAR(16), price REAL);
CREATE OR REPLACE STREAM "PAIRS" (up_ticker VARCHAR(4), down_ticker VARCHAR(4),
    sector VARCHAR(16), up_price REAL, down_price REAL);
CREATE OR REPLACE PUMP "UP_PUMP" AS INSERT INTO "UPS"
SELECT STREAM ticker_symbol, sector, price FROM {SRC} WHERE change > 1;
CREATE OR REPLACE PUMP "DOWN_PUMP" AS INSERT INTO "DOWNS"
SELECT STREAM ticker_symbol, sector, price FROM {SRC} WHERE change < -1;
CREATE OR REPLACE PUMP "PAIR_PUMP" AS INSERT INTO "PAIRS"
SELECT STREAM u.ticker, d.ticker, u.sector, u.price, d.price
FROM "UPS" AS u JOIN "DOWNS" OVER (RANGE INTERVAL '2' SECOND PRECEDING) AS d
  ON u.sector = d.sector;
"""


@pytest.mark.parametrize("seed, crash_chance", [(9, 0.0), (10, 0.4)])
def test_stream_join_on_a_column_that_is_not_the_key(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    app = make_app(tmp_path, JOIN, ["PAIRS"])
    (repartition,) = app.topology.repartitions
    assert not repartition.partials
    data = records()
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    want = input_table(data).execute(
        """SELECT u.ticker, d.ticker, u.sector, u.price, d.price
           FROM s u JOIN s d ON u.sector = d.sector
             AND d.rowtime BETWEEN u.rowtime - 2000 AND u.rowtime
           WHERE u.change > 1 AND d.change < -1"""
    ).fetchall()
    got = [(v["UP_TICKER"], v["DOWN_TICKER"], v["SECTOR"], v["UP_PRICE"], v["DOWN_PRICE"])
           for v in values(c, "PAIRS")]  # fmt: skip
    assert len(want) > 100
    assert_rows_close(got, want)


# -- rows in ROWTIME order: sliding and stagger windows by a column that is not the key -------
ORDERED = f"""
CREATE OR REPLACE STREAM "MOVING" (ticker VARCHAR(4), sector VARCHAR(16), price REAL,
    avg_price DOUBLE, n BIGINT, prev REAL);
CREATE OR REPLACE PUMP "MOVING_PUMP" AS INSERT INTO "MOVING"
SELECT STREAM ticker_symbol, sector, price, AVG(price) OVER W, COUNT(*) OVER W,
       LAG(price, 1) OVER W
FROM {SRC} WINDOW W AS (PARTITION BY sector RANGE INTERVAL '10' SECOND PRECEDING);
CREATE OR REPLACE STREAM "STAGGERED" (sector VARCHAR(16), minute TIMESTAMP, n BIGINT);
CREATE OR REPLACE PUMP "STAGGER_PUMP" AS INSERT INTO "STAGGERED"
SELECT STREAM sector, FLOOR(event_time TO MINUTE), COUNT(*) FROM {SRC}
WINDOWED BY STAGGER (PARTITION BY FLOOR(event_time TO MINUTE), sector RANGE INTERVAL '1' MINUTE);
"""


@pytest.mark.parametrize("seed, crash_chance", [(11, 0.0), (12, 0.4)])
def test_rows_behind_a_repartition_come_in_rowtime_order(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    """Sliding and stagger windows see the partitions' rows merged by ROWTIME (ties: by
    partition, then offset): the results of one partition fed that merged stream."""
    app = make_app(tmp_path, ORDERED, ["MOVING", "STAGGERED"])
    assert [r.partials for r in app.topology.repartitions] == [False, False]
    data = records(2_000)
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    merged = input_table(data).execute(
        "SELECT rowtime, ticker, sector, change, price, event_ms FROM s ORDER BY rowtime, part, off"
    ).fetchall()
    plan = app.plan
    streams, failures = run_rows(
        plan,
        [(rowtime, (t, s, ch, p, Timestamp(e))) for rowtime, t, s, ch, p, e in merged],
        batch_size=97,
    )
    assert failures == []
    want_moving = [r[1:] for r in streams["MOVING"]]
    got_moving = [(v["TICKER"], v["SECTOR"], v["PRICE"], v["AVG_PRICE"], v["N"], v["PREV"])
                  for v in values(c, "MOVING")]  # fmt: skip
    assert_rows_close(got_moving, want_moving)
    want_stagger = [(r[1], int(r[2]), r[3], int(r[0])) for r in streams["STAGGERED"]]
    got_stagger = [
        (json.loads(o.value)["SECTOR"], ts_ms(json.loads(o.value)["MINUTE"]),
         json.loads(o.value)["N"], o.timestamp_ms)
        for o in c.rows("out-staggered")
    ]  # fmt: skip
    assert_rows_close(got_stagger, want_stagger)
    assert len(want_stagger) > 20


# -- an output stream that a pump behind a repartition reads ----------------------------------
PARTIAL_COUNTS = f"""
CREATE OR REPLACE STREAM "CALC" (ticker VARCHAR(4), tradetime TIMESTAMP, n DOUBLE);
CREATE OR REPLACE STREAM "DEST" (ticker VARCHAR(4), tradetime TIMESTAMP, n DOUBLE);
CREATE PUMP "P1" AS INSERT INTO "CALC"
SELECT STREAM ticker_symbol, STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND), COUNT(*)
FROM {SRC} GROUP BY STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND), ticker_symbol;
CREATE PUMP "P2" AS INSERT INTO "DEST"
SELECT STREAM ticker, tradetime, SUM(n) OVER W1 FROM "CALC"
WINDOW W1 AS (PARTITION BY tradetime RANGE INTERVAL '10' MINUTE PRECEDING);
"""


def test_an_output_stream_read_behind_a_repartition_is_written_once(tmp_path: Path) -> None:
    app = make_app(tmp_path, PARTIAL_COUNTS, ["CALC", "DEST"])
    assert [r.pump for r in app.topology.repartitions] == ["P2"]
    data = records(1_000)
    c = cluster(app, data, 13)
    c.run(crash_chance=0.3)
    want = input_table(data).execute(
        "SELECT ticker, rowtime - rowtime % 10000, count(*)::DOUBLE FROM s GROUP BY ALL"
    ).fetchall()
    got = [(v["TICKER"], ts_ms(v["TRADETIME"]), v["N"]) for v in values(c, "CALC")]
    assert_rows_close(got, want)
    assert len(values(c, "DEST")) == len(want)


# -- a stream joined with itself on a column that is not the key ------------------------------
SELF_JOIN = f"""
CREATE OR REPLACE STREAM "PAIRS" (up_ticker VARCHAR(4), down_ticker VARCHAR(4),
    sector VARCHAR(16), up_price REAL, down_price REAL);
CREATE OR REPLACE PUMP "PAIR_PUMP" AS INSERT INTO "PAIRS"
SELECT STREAM u.ticker_symbol, d.ticker_symbol, u.sector, u.price, d.price
FROM {SRC} AS u JOIN {SRC} OVER (RANGE INTERVAL '2' SECOND PRECEDING) AS d
  ON u.sector = d.sector
WHERE u.change > 1 AND d.change < -1;
"""


@pytest.mark.parametrize("seed, crash_chance", [(21, 0.0), (22, 0.4)])
def test_a_self_join_on_a_column_that_is_not_the_key(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    app = make_app(tmp_path, SELF_JOIN, ["PAIRS"])
    (repartition,) = app.topology.repartitions
    assert not repartition.partials
    data = records()
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    want = input_table(data).execute(
        """SELECT u.ticker, d.ticker, u.sector, u.price, d.price
           FROM s u JOIN s d ON u.sector = d.sector
             AND d.rowtime BETWEEN u.rowtime - 2000 AND u.rowtime
           WHERE u.change > 1 AND d.change < -1"""
    ).fetchall()
    got = [(v["UP_TICKER"], v["DOWN_TICKER"], v["SECTOR"], v["UP_PRICE"], v["DOWN_PRICE"])
           for v in values(c, "PAIRS")]  # fmt: skip
    assert len(want) > 100
    assert_rows_close(got, want)
