"""The guide's examples that run behind a repartition, with their SQL as the integration corpus
holds it, by every processor of the application over in-memory topics of four partitions
keyed by ticker (:mod:`.local_cluster`): random batches, commits and crashes; the results
checked against DuckDB over the input as it sits in its partitions, as ``test_sql_guide``
checks them on the stack."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ground.settings import Settings
from pipelines.sql.application import SqlApplication, check_application
from tests.duckdb_oracles import rowtime_table
from tests.unit.pipelines.sql.local_cluster import LocalCluster
from tests.unit.pipelines.sql.test_repartitioned_apps import (
    PARTITIONS,
    assert_rows_close,
    input_table,
    partition_of,
    records,
    ts_ms,
)

APPS = Path(__file__).resolve().parents[3] / "integration" / "sql_apps"


def guide_app(name: str) -> SqlApplication:
    config, plan = check_application(APPS / name)
    return SqlApplication(config, plan, Settings.from_env({}))


def outputs(c: LocalCluster, app: SqlApplication, stream: str) -> list[tuple[int, dict[str, Any]]]:
    """``(partition, value)`` of an output stream's committed records, in order."""
    (topic,) = [o.topic for o in app.config.outputs if o.name == stream]
    out = c.rows(topic)
    keys = [o.key for o in out if o.key is not None]
    assert len(keys) == len(set(keys)), "a window result came out twice"
    return [(o.partition or 0, json.loads(o.value)) for o in out]


# -- aggregating partial results: a sliding window PARTITION BY a time column ----------------
@pytest.mark.parametrize("seed, crash_chance", [(1, 0.0), (2, 0.3), (3, 0.5)])
def test_aggregating_partial_results(seed: int, crash_chance: float) -> None:
    app = guide_app("guide_partial_results")
    data = records(seed=seed)
    c = LocalCluster(app, {"ticker": PARTITIONS}, seed=seed)
    for part, ts, v in data:
        value = {"ticker_symbol": v["ticker"], "sector": v["sector"], "change": v["change"],
                 "price": v["price"]}  # fmt: skip
        c.produce("ticker", part, [(ts, json.dumps(value).encode())])
    c.run(crash_chance=crash_chance)
    assert crash_chance == 0 or c.crashes > 0
    con = input_table(data)
    con.execute(
        """CREATE TABLE partial AS
           SELECT part, ticker, rowtime - rowtime % 60000 AS tradetime, count(*)::DOUBLE AS n,
                  min(off) AS first
           FROM s GROUP BY part, ticker, rowtime - rowtime % 60000, ts - ts % 60000"""
    )
    got = [(v["TICKER"], ts_ms(v["TRADETIME"]), v["TICKERCOUNT"])
           for _, v in outputs(c, app, "CALC_COUNT_SQL_STREAM")]  # fmt: skip
    assert_rows_close(got, con.execute("SELECT ticker, tradetime, n FROM partial").fetchall())
    # the stage behind the repartition takes a minute's rows by input partition, then in the
    # order that partition wrote them (the order its groups began)
    sums = con.execute(
        """SELECT ticker, tradetime, sum(n) OVER (PARTITION BY tradetime ORDER BY part, first
                  ROWS UNBOUNDED PRECEDING) FROM partial ORDER BY tradetime, part, first"""
    ).fetchall()
    per_minute: dict[int, list[tuple[Any, ...]]] = {}
    where: dict[int, set[int]] = {}
    for part, v in outputs(c, app, "DESTINATION_SQL_STREAM"):
        minute = ts_ms(v["TRADETIME"])
        per_minute.setdefault(minute, []).append((v["TICKER"], minute, v["TICKERCOUNT"]))
        where.setdefault(minute, set()).add(part)
    assert all(len(parts) == 1 for parts in where.values()), where
    assert sorted(per_minute) == sorted({m for _, m, _ in sums})
    for minute, rows in per_minute.items():
        assert rows == [r for r in sums if r[1] == minute], minute
    assert len(sums) > 50


# -- the stream joins on the order id, the input keyed by ticker ------------------------------
def orders_and_trades(n: int, seed: int) -> list[tuple[int, int, dict[str, Any]]]:
    """``(partition, timestamp, value)``: orders, each with zero to two trades within 90 s,
    a third of them before it; keyed by ticker."""
    rng = random.Random(seed)
    clock = 1_700_000_000_000
    events: list[tuple[int, str, dict[str, Any]]] = []
    for oid in range(1, n + 1):
        clock += rng.randrange(200, 900)
        ticker = f"T{rng.randrange(10):02d}"
        events.append((clock, ticker, {"RecordType": "Order", "Oprice": rng.randrange(1000, 9999),
                                       "Otype": "Buy", "Oid": oid, "Oticker": ticker}))
        for tid in range(rng.choice([0, 1, 1, 2])):
            at = (clock + rng.randrange(1_000, 90_000) if rng.random() > 0.33
                  else clock - rng.randrange(1_000, 50_000))
            events.append((at, ticker, {"RecordType": "Trade", "Tid": oid * 10 + tid, "Toid": oid,
                                        "Tprice": rng.randrange(1000, 9999), "Tticker": ticker}))
    events.sort(key=lambda e: e[0])
    return [(partition_of(ticker), ts, v) for ts, ticker, v in events]


def orders_table(data: list[tuple[int, int, dict[str, Any]]]) -> duckdb.DuckDBPyConnection:
    offsets: dict[int, int] = {}
    rows = []
    for part, ts, v in data:
        off = offsets[part] = offsets.get(part, -1) + 1
        rows.append((part, off, ts, v["RecordType"], v.get("Oid"), v.get("Oprice"),
                     v.get("Oticker"), v.get("Toid"), v.get("Tprice")))
    columns = ("kind VARCHAR", "oid INTEGER", "oprice INTEGER", "oticker VARCHAR",
               "toid INTEGER", "tprice INTEGER")  # fmt: skip
    return rowtime_table(columns, rows, per_partition=True)


@pytest.mark.parametrize("seed, crash_chance", [(4, 0.0), (5, 0.4)])
def test_stream_joins(seed: int, crash_chance: float) -> None:
    app = guide_app("guide_stream_join")
    data = orders_and_trades(600, seed)
    c = LocalCluster(app, {"ticker": PARTITIONS}, seed=seed)
    for part, ts, v in data:
        c.produce("ticker", part, [(ts, json.dumps(v).encode())])
    c.run(crash_chance=crash_chance)
    assert crash_chance == 0 or c.crashes > 0
    want = orders_table(data).execute(
        """SELECT o.rowtime, o.oid, o.oticker, o.oprice, t.tprice
           FROM s o JOIN s t ON o.kind = 'Order' AND t.kind = 'Trade' AND o.oid = t.toid
                AND t.rowtime BETWEEN o.rowtime - 60000 AND o.rowtime"""
    ).fetchall()
    assert len(want) > 100
    for stream in ("JOINED_STREAM", "NAMED_WINDOW_STREAM"):
        got = [(ts_ms(v["RESULTTIME"]), v["ORDERID"], v["TICKER"], v["ORDERAMOUNT"],
                v["TRADEAMOUNT"]) for _, v in outputs(c, app, stream)]  # fmt: skip
        assert sorted(got) == sorted(want), stream
    assert c.rows(app.config.error_output.topic) == []
