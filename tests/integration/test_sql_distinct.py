"""DISTINCT over windows on the real stack (``sql_apps/distinct``): aggregates of DISTINCT
values per sector (their partial sets merged behind a repartition), ``SELECT STREAM
DISTINCT`` over the rows of a GROUP BY (equal rows from several partitions), and a sliding
window of DISTINCT values. The input is a topic of four partitions keyed by ticker, with
timestamps near now; every output is compared with DuckDB over the input as it sits in
Kafka (ROWTIME: the running maximum of a partition's timestamps in offset order).
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from ground.settings import Settings
from tests.integration.sql_apps_support import (
    App,
    Dataset,
    assert_keys_unique,
    deploy,
    finish,
    input_table,
    output,
    produce,
    start_ms,
    ticker_records,
    ts_ms,
)
from tests.rows import assert_same_rows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

TEMPLATE = "distinct"
PARTITIONS = 4
RECORDS = 4_000


def oracle(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    q = con.execute
    return {
        "SECTOR_DISTINCT": q(
            "SELECT sector, rowtime - rowtime % 10000, count(*), sum(DISTINCT round(price)), "
            "avg(DISTINCT round(price)), stddev_pop(DISTINCT round(price)) "
            "FROM s GROUP BY ALL").fetchall(),
        "WINDOW_KINDS": q(
            "SELECT DISTINCT ws, sector, high FROM (SELECT rowtime - rowtime % 10000 AS ws, "
            "sector, max(price) > 100 AS high FROM s GROUP BY ticker, sector, ws)").fetchall(),
        "TICKER_SLIDING": q(
            "SELECT ticker, price, avg(DISTINCT round(price)) OVER w, "
            "var_samp(DISTINCT round(price)) OVER w FROM s "
            "WINDOW w AS (PARTITION BY ticker ORDER BY part, off "
            "ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)").fetchall(),
    }  # fmt: skip


def check(settings: Settings, app: App, want: dict[str, list[tuple[Any, ...]]]) -> None:
    got = output(settings, app.outputs["SECTOR_DISTINCT"])
    assert_keys_unique(got)
    for r, v in got:
        assert r.timestamp_ms == ts_ms(v["WINDOW_START"]) + 10_000  # ROWTIME: the window end
    assert_same_rows(
        [(v["SECTOR"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["PRICE_SUM"], v["PRICE_MEAN"],
          v["PRICE_SD"]) for _, v in got],
        want["SECTOR_DISTINCT"], what="aggregates of DISTINCT values per sector",
    )  # fmt: skip
    kinds = output(settings, app.outputs["WINDOW_KINDS"])
    for r, v in kinds:
        assert r.timestamp_ms == ts_ms(v["WINDOW_START"]) + 10_000
    assert_same_rows(
        [(ts_ms(v["WINDOW_START"]), v["SECTOR"], v["HIGH"]) for _, v in kinds],
        want["WINDOW_KINDS"], what="SELECT DISTINCT over the rows of a GROUP BY",
    )  # fmt: skip
    assert_same_rows(
        [(v["TICKER"], v["PRICE"], v["MEAN_LEVEL"], v["LEVEL_VAR"])
         for _, v in output(settings, app.outputs["TICKER_SLIDING"])],
        want["TICKER_SLIDING"], what="a sliding window of DISTINCT values",
    )  # fmt: skip
    assert output(settings, app.errors) == []
    assert len(want["SECTOR_DISTINCT"]) > 5 * 15


def test_distinct_over_windows_of_four_partitions(
    stack_settings, topic_factory, tmp_path, workers
) -> None:
    topic = topic_factory(PARTITIONS, prefix="it-ticker-distinct")
    produce(stack_settings.kafka, topic,
            ticker_records(RECORDS, seed=31, start_ms=start_ms()), PARTITIONS)  # fmt: skip
    app = deploy(TEMPLATE, tmp_path, topic_factory, Dataset(topic, PARTITIONS, RECORDS))
    con = input_table(stack_settings.kafka, topic)
    want = oracle(con)
    # the data has duplicates to drop: fewer kinds than (ticker, window) groups, fewer
    # distinct levels than rows
    groups = con.execute("SELECT count(DISTINCT (ticker, rowtime - rowtime % 10000)) FROM s")
    assert len(want["WINDOW_KINDS"]) < 0.7 * groups.fetchone()[0]
    dups = con.execute("SELECT count(*) - count(DISTINCT (sector, rowtime - rowtime % 10000, "
                       "round(price))) FROM s").fetchone()[0]  # fmt: skip
    assert dups > RECORDS / 4
    counts = {app.outputs[name]: len(rows) for name, rows in want.items()}
    w = app.worker("w1", tmp_path / "w1.log", workers)
    finish(stack_settings, app, counts, [w], timeout_s=90)
    check(stack_settings, app, want)
