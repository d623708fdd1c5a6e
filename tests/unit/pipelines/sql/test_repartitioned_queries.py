"""The query constructs that need rows of several input partitions together — DISTINCT,
streaming ORDER BY, ``group_rank``, ``expr AS ROWTIME`` — run by every processor of the
application over in-memory topics, with commits and crashes, checked against DuckDB over the
input as it sits in its partitions (see :mod:`.test_repartitioned_apps`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.pipelines.sql.test_repartitioned_apps import (
    SRC,
    assert_rows_close,
    cluster,
    errors,
    input_table,
    make_app,
    records,
    ts_ms,
    values,
)

WS = f"STEP({SRC}.ROWTIME BY INTERVAL '10' SECOND)"

DISTINCT = f"""
CREATE OR REPLACE STREAM "SECTORS" (ws TIMESTAMP, sector VARCHAR(16));
CREATE OR REPLACE PUMP "SECTORS_PUMP" AS INSERT INTO "SECTORS"
SELECT STREAM DISTINCT {WS}, sector FROM {SRC} WHERE change > 0;
CREATE OR REPLACE STREAM "TICKERS" (ws TIMESTAMP, ticker VARCHAR(4));
CREATE OR REPLACE PUMP "TICKERS_PUMP" AS INSERT INTO "TICKERS"
SELECT STREAM DISTINCT {WS}, ticker_symbol FROM {SRC};
"""


@pytest.mark.parametrize("seed, crash_chance", [(21, 0.0), (22, 0.4)])
def test_distinct_meets_equal_rows_of_every_partition(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    app = make_app(tmp_path, DISTINCT, ["SECTORS", "TICKERS"])
    # the sectors of a window come from every partition; the tickers of one are in one
    assert [r.pump for r in app.topology.repartitions] == ["SECTORS_PUMP"]
    assert app.topology.notes["TICKERS_PUMP"].startswith("no repartition: its keys include")
    data = records()
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    con = input_table(data)
    sectors = con.execute(
        "SELECT DISTINCT rowtime - rowtime % 10000, sector FROM s WHERE change > 0"
    ).fetchall()
    got = [(ts_ms(v["WS"]), v["SECTOR"]) for v in values(c, "SECTORS")]
    assert_rows_close(got, sectors)
    tickers = con.execute("SELECT DISTINCT rowtime - rowtime % 10000, ticker FROM s").fetchall()
    assert_rows_close([(ts_ms(v["WS"]), v["TICKER"]) for v in values(c, "TICKERS")], tickers)
    assert len(sectors) > 50 and errors(c) == []


SORTED = f"""
CREATE OR REPLACE STREAM "SORTED" (ws TIMESTAMP, ticker VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "SORT_PUMP" AS INSERT INTO "SORTED"
SELECT STREAM {WS}, ticker_symbol, price FROM {SRC} WHERE change > 1
ORDER BY {WS}, price DESC, ticker_symbol;
CREATE OR REPLACE STREAM "RANKED" (ticker VARCHAR(4), price REAL, price_rank INTEGER);
CREATE OR REPLACE PUMP "RANK_PUMP" AS INSERT INTO "RANKED"
SELECT STREAM * FROM TABLE(group_rank(CURSOR(
    SELECT STREAM ticker_symbol, price FROM {SRC}), 'PRICE', 'PRICE_RANK', 'desc', 'asc', 5, 0));
"""


@pytest.mark.parametrize("seed, crash_chance", [(23, 0.0), (24, 0.4)])
def test_order_by_and_group_rank_see_the_whole_stream(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    app = make_app(tmp_path, SORTED, ["SORTED", "RANKED"])
    # group_rank is a pump of its own (RANK_PUMP$2) before the one that writes RANKED
    assert {(r.pump, r.key) for r in app.topology.repartitions} == {
        ("SORT_PUMP", "SORT_PUMP$1: (one partition)"),
        ("RANK_PUMP$2", "RANK_PUMP$1: (one partition)"),
    }
    data = records()
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    con = input_table(data)
    got = [(ts_ms(v["WS"]), v["TICKER"], v["PRICE"]) for v in values(c, "SORTED")]
    want = con.execute(
        "SELECT rowtime - rowtime % 10000, ticker, price FROM s WHERE change > 1"
    ).fetchall()
    assert_rows_close(got, want)
    # in the order the pump wrote them: by window, then by price, largest first
    assert got == sorted(got, key=lambda r: (r[0], -r[2], r[1])) and len(got) > 200
    ranked = [(v["TICKER"], v["PRICE"], v["PRICE_RANK"]) for v in values(c, "RANKED")]
    ranks = con.execute(
        "SELECT ticker, price, rank() OVER (PARTITION BY rowtime ORDER BY price DESC) FROM s"
    ).fetchall()
    assert_rows_close(ranked, ranks)
    assert max(r for _, _, r in ranked) > 1 and errors(c) == []


RETIMED = f"""
CREATE OR REPLACE STREAM "RETIMED" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "RETIME_PUMP" AS INSERT INTO "RETIMED"
SELECT STREAM ticker_symbol, price, event_time AS ROWTIME FROM {SRC};
"""


@pytest.mark.parametrize("seed, crash_chance", [(25, 0.0), (26, 0.4)])
def test_as_rowtime_orders_the_whole_stream(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    """A row whose new ROWTIME is before one already in the stream is Out_Of_Order_Row: the
    stream is the partitions' rows merged by ROWTIME (ties: by partition, then offset)."""
    app = make_app(tmp_path, RETIMED, ["RETIMED"])
    (repartition,) = app.topology.repartitions
    assert repartition.pump == "RETIME_PUMP" and repartition.key.endswith("(one partition)")
    data = records(2_000)
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    merged = input_table(data).execute(
        "SELECT ticker, price, event_ms FROM s ORDER BY rowtime, part, off"
    ).fetchall()
    want, late, last = [], [], None
    for ticker, price, event_ms in merged:
        if last is not None and event_ms < last:
            late.append(ticker)
            continue
        last = event_ms
        want.append((ticker, price, event_ms))
    got = [
        (json.loads(o.value)["TICKER"], json.loads(o.value)["PRICE"], o.timestamp_ms)
        for o in c.rows("out-retimed")
    ]
    assert got == want
    names = [e["ERROR_NAME"] for e in errors(c)]
    assert names == ["Out_Of_Order_Row"] * len(late) and len(late) > 100


RETIMED_DISTINCT = f"""
CREATE OR REPLACE STREAM "KINDS" (sector VARCHAR(16));
CREATE OR REPLACE PUMP "KINDS_PUMP" AS INSERT INTO "KINDS"
SELECT STREAM DISTINCT FLOOR(event_time TO SECOND) AS ROWTIME, sector FROM {SRC}
ORDER BY ROWTIME, sector DESC;
"""


@pytest.mark.parametrize("seed, crash_chance", [(27, 0.0), (28, 0.4)])
def test_as_rowtime_with_distinct_and_order_by_over_partitions(
    tmp_path: Path, seed: int, crash_chance: float
) -> None:
    """``expr AS ROWTIME`` with DISTINCT and ORDER BY: the rows re-timed in one partition
    (those going back are Out_Of_Order_Row), made distinct where equal rows meet (by their
    columns), then sorted in one partition by the new ROWTIME and the sector."""
    app = make_app(tmp_path, RETIMED_DISTINCT, ["KINDS"])
    data = records(2_000)
    c = cluster(app, data, seed)
    c.run(crash_chance=crash_chance)
    merged = input_table(data).execute(
        "SELECT sector, event_ms - event_ms % 1000 FROM s ORDER BY rowtime, part, off"
    ).fetchall()
    kinds: dict[tuple[int, str], None] = {}
    late, last = 0, None
    for sector, second in merged:
        if last is not None and second < last:
            late += 1
            continue
        last = second
        kinds.setdefault((second, sector), None)
    want = sorted(sorted(kinds, key=lambda k: k[1], reverse=True), key=lambda k: k[0])
    got = [(o.timestamp_ms, json.loads(o.value)["SECTOR"]) for o in c.rows("out-kinds")]
    assert got == want and len(want) > 100
    names = [e["ERROR_NAME"] for e in errors(c)]
    assert names == ["Out_Of_Order_Row"] * late and late > 100
