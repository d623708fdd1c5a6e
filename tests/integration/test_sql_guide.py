"""The example applications of the KDA SQL Developer Guide, as published, on the real stack.

Each application of ``sql_apps/guide_*`` is the guide's SQL unchanged (the input columns are
mapped onto the test data in ``application.yaml``); each runs in a ``shardline run`` worker
over fresh topics and its committed output is compared with DuckDB's computation over the
records actually in the input topic, following KDA's rules (see ``test_sql_apps``). The
machine-learning examples (RANDOM_CUT_FOREST, HOTSPOTS) are in ``test_sql_ml``.

Every input is a topic of four partitions keyed by ticker, as a Kinesis producer keys it (two
shared inputs: the trades, and the guide's orders and trades). A stateful pump grouped by the
key runs where its input is; any other — a global top-k, a sliding window by a time column,
a count per ticker of a stream that declares no key, the stream-to-stream joins on the order
id — runs behind a repartition, so the oracle takes ROWTIME per input partition and, where
order matters, the order the stage behind a repartition takes rows in (ROWTIME, then input
partition). ``tests/unit/pipelines/sql/test_guide_stages.py`` pins which stages and
repartition topics ``sql explain`` shows for each.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from typing import Any

import duckdb
import pytest

from tests.duckdb_oracles import insert_rows
from tests.integration.fixtures_sinks import s3_client
from tests.integration.sql_apps_support import (
    PARTITIONS,
    RECORDS,
    Dataset,
    assert_keys_unique,
    by_partition,
    deploy,
    error_rows,
    input_table,
    output,
    produce,
    run_app,
    start_ms,
    ticker_records,
    ts_ms,
)
from tests.integration.workers import read_all
from tests.rows import assert_same_rows, assert_same_sequence

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def tickers(stack_settings, module_topic_factory) -> Dataset:
    """4,000 trades in 4 partitions, keyed by ticker (as in ``test_sql_apps``)."""
    topic = module_topic_factory(PARTITIONS, prefix="it-guide-ticker")
    produce(stack_settings.kafka, topic, ticker_records(RECORDS, seed=31, start_ms=start_ms()),
            PARTITIONS)
    return Dataset(topic, PARTITIONS, RECORDS)


# -- alerts -----------------------------------------------------------------------------------
def test_simple_alerts(stack_settings, tickers, topic_factory, tmp_path, workers):
    app = deploy("guide_simple_alerts", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka, tickers.topic)
    expected = con.execute(
        """SELECT part, ticker, sector, change, price FROM s
           WHERE abs(change / (price - change)) * 100 > 1 ORDER BY part, off"""
    ).fetchall()
    out = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out: len(expected)})
    got = by_partition(output(stack_settings, out))
    for p in range(tickers.partitions):
        rows = [(v["TICKER_SYMBOL"], v["SECTOR"], v["CHANGE"], v["PRICE"]) for v in got.get(p, [])]
        assert_same_sequence(rows, [r[1:] for r in expected if r[0] == p], what=f"partition {p}")
    assert 100 < len(expected) < tickers.records


def test_throttled_alerts_with_a_subquery(
    stack_settings, tickers, topic_factory, tmp_path, workers
):
    """The subquery counts each ticker's alerts of the last minute (a sliding window over the
    CHANGE_STREAM); the outer query keeps the rows it counts at least once."""
    app = deploy("guide_throttled_alerts", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka, tickers.topic)
    con.execute(
        """CREATE TABLE alerts AS SELECT part, off, rowtime, ticker, sector, change, price
           FROM s WHERE abs(change / (price - change)) * 100 > 1"""
    )
    changes = con.execute(
        "SELECT part, ticker, sector, change, price FROM alerts ORDER BY part, off"
    ).fetchall()
    # the window of a row: the alerts of its ticker so far (in its partition), at most a
    # minute of ROWTIME before it
    counts = con.execute(
        """SELECT a.part, a.ticker, a.change, count(*) FROM alerts a JOIN alerts b
             ON a.part = b.part AND a.ticker = b.ticker AND b.off <= a.off
            AND b.rowtime >= a.rowtime - 60000
           GROUP BY a.part, a.off, a.ticker, a.change ORDER BY a.part, a.off"""
    ).fetchall()
    change_topic = app.outputs["CHANGE_STREAM"]
    trigger_topic = app.outputs["TRIGGER_COUNT_STREAM"]
    run_app(stack_settings, app, workers, {change_topic: len(changes), trigger_topic: len(counts)})
    got_changes = by_partition(output(stack_settings, change_topic))
    got_counts = by_partition(output(stack_settings, trigger_topic))
    for p in range(tickers.partitions):
        assert_same_sequence(
            [(v["TICKER_SYMBOL"], v["SECTOR"], v["CHANGE"], v["PRICE"])
             for v in got_changes.get(p, [])],
            [r[1:] for r in changes if r[0] == p],
            what=f"CHANGE_STREAM partition {p}",
        )
        assert_same_sequence(
            [(v["TICKER_SYMBOL"], v["CHANGE"], v["TRIGGER_COUNT"]) for v in got_counts.get(p, [])],
            [r[1:] for r in counts if r[0] == p],
            rel_tol=1e-6,  # CHANGE is a REAL
            what=f"TRIGGER_COUNT_STREAM partition {p}",
        )
    assert max(r[3] for r in counts) > 1


def test_the_error_stream_example(stack_settings, tickers, topic_factory, tmp_path, workers):
    """``WHERE sector SIMILAR TO '%TECH%'`` and ``price / 0``: every technology trade is a
    Divide_By_Zero row in the error stream, nothing else comes out."""
    app = deploy("guide_error_stream", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka, tickers.topic)
    tech = con.execute(
        "SELECT part, ticker, price FROM s WHERE sector LIKE '%TECH%'"
    ).fetchall()
    out = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {app.errors: len(tech)})
    assert output(stack_settings, out) == []
    errors = error_rows(stack_settings, app.errors)
    got = []
    for e in errors:
        assert e["ERROR_NAME"] == "Divide_By_Zero" and e["PUMP_NAME"] == "STREAM_PUMP"
        row = json.loads(bytes.fromhex(e["DATA_ROW"]))
        got.append((e["SOURCE_PARTITION"], row[2], row[5]))
    assert_same_rows(got, tech, what="Divide_By_Zero errors")
    assert len(tech) > tickers.records // 5


# -- windows ----------------------------------------------------------------------------------
def test_tumbling_window_using_rowtime(stack_settings, tickers, topic_factory, tmp_path, workers):
    app = deploy("guide_tumbling_rowtime", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka, tickers.topic)
    expected = con.execute(
        "SELECT ticker, min(price), max(price) FROM s GROUP BY ticker, rowtime - rowtime % 60000"
    ).fetchall()
    out = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out: len(expected)})
    got = [(v["TICKER"], v["MIN_PRICE"], v["MAX_PRICE"]) for _, v in output(stack_settings, out)]
    assert_same_rows(got, expected, what="one-minute ROWTIME windows")


def test_tumbling_window_using_an_event_timestamp(
    stack_settings, tickers, topic_factory, tmp_path, workers
):
    """Grouped by ROWTIME (when results come) and by event time (what they are about): a
    late trade lands in the event-time group of its own minute, in a later ROWTIME window."""
    app = deploy("guide_tumbling_event_time", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka, tickers.topic)
    expected = con.execute(
        """SELECT event_ms - event_ms % 60000, ticker, min(price), max(price) FROM s
           GROUP BY ticker, rowtime - rowtime % 60000, event_ms - event_ms % 60000"""
    ).fetchall()
    out = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out: len(expected)})
    got = [
        (ts_ms(v["EVENT_TIME"]), v["TICKER"], v["MIN_PRICE"], v["MAX_PRICE"])
        for _, v in output(stack_settings, out)
    ]
    assert_same_rows(got, expected, what="ROWTIME and event-time windows")


def test_most_frequent_values_top_k(stack_settings, tickers, topic_factory, tmp_path, workers):
    """Over the whole stream of a topic of four partitions: each partition's counts cross a
    repartition to the stage that ranks them."""
    data = tickers
    app = deploy("guide_top_k", tmp_path, topic_factory, data)
    con = input_table(stack_settings.kafka, data.topic)
    expected = con.execute(
        """SELECT ticker, c FROM (
             SELECT ws, ticker, c,
                    row_number() OVER (PARTITION BY ws ORDER BY c DESC, ticker) AS n
             FROM (SELECT rowtime - rowtime % 60000 AS ws, ticker, count(*) AS c
                   FROM s GROUP BY ALL))
           WHERE n <= 5"""
    ).fetchall()
    out = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out: len(expected)})
    got = [(v["TICKER"], v["MOST_FREQUENT_VALUES"]) for _, v in output(stack_settings, out)]
    assert_same_rows(got, expected, what="TOP_K_ITEMS_TUMBLING")


def test_stagger_window(stack_settings, tickers, topic_factory, tmp_path, workers):
    app = deploy("guide_stagger", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka, tickers.topic)
    opened: dict[tuple[str, int], int] = {}
    assigned = []
    for part, off, ticker, minute, rowtime in con.execute(
        "SELECT part, off, ticker, event_ms - event_ms % 60000, rowtime FROM s ORDER BY part, off"
    ).fetchall():
        key = (ticker, minute)
        if key not in opened or rowtime >= opened[key] + 60_000:
            opened[key] = rowtime
        assigned.append((part, off, opened[key]))
    con.execute("CREATE TABLE opened (part INTEGER, off BIGINT, t0 BIGINT)")
    con.executemany("INSERT INTO opened VALUES (?, ?, ?)", assigned)
    expected = con.execute(
        """SELECT ticker, event_ms - event_ms % 60000, t0 + 60000, count(ticker)::DOUBLE
           FROM s JOIN opened USING (part, off) GROUP BY ALL"""
    ).fetchall()
    out = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out: len(expected)})
    got = [
        (v["TICKER_SYMBOL"], ts_ms(v["EVENT_TIME"]), r.timestamp_ms, v["TICKER_COUNT"])
        for r, v in output(stack_settings, out)
    ]
    assert_same_rows(got, expected, what="stagger windows")


def test_aggregating_partial_results(stack_settings, tickers, topic_factory, tmp_path, workers):
    """A tumbling count per ticker, ROWTIME minute and arrival-time minute (by the key: where
    the input is); then, per trade minute, the sum of the partial counts so far: a sliding
    window ``PARTITION BY "TRADETIME"``, behind a repartition of the first pump's rows by
    TRADETIME. Its stage takes them in ROWTIME order (a minute's rows all have its end as
    ROWTIME), ties by input partition, then in the order each partition wrote them (the
    order its groups began)."""
    app = deploy("guide_partial_results", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka, tickers.topic)
    con.execute(
        """CREATE TABLE partial AS
           SELECT part, ticker, rowtime - rowtime % 60000 AS tradetime, count(*)::DOUBLE AS n,
                  min(off) AS first
           FROM s GROUP BY part, ticker, rowtime - rowtime % 60000, ts - ts % 60000"""
    )
    partial = con.execute("SELECT ticker, tradetime, n FROM partial").fetchall()
    sums = con.execute(
        """SELECT ticker, tradetime, sum(n) OVER (PARTITION BY tradetime ORDER BY part, first
                  ROWS UNBOUNDED PRECEDING) FROM partial ORDER BY tradetime, part, first"""
    ).fetchall()
    calc, dest = app.outputs["CALC_COUNT_SQL_STREAM"], app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {calc: len(partial), dest: len(sums)})
    got_partial = output(stack_settings, calc)
    assert_keys_unique(got_partial)
    assert_same_rows(
        [(v["TICKER"], ts_ms(v["TRADETIME"]), v["TICKERCOUNT"]) for _, v in got_partial],
        partial, what="partial counts",
    )  # fmt: skip
    # each trade minute's running sums: in one partition of the output, in the stage's order
    got_sums: dict[int, list[tuple[Any, ...]]] = {}
    where: dict[int, set[int]] = {}
    for r, v in sorted(output(stack_settings, dest), key=lambda rv: (rv[0].partition,
                                                                      rv[0].offset)):
        minute = ts_ms(v["TRADETIME"])
        got_sums.setdefault(minute, []).append((v["TICKER"], minute, v["TICKERCOUNT"]))
        where.setdefault(minute, set()).add(r.partition)
    assert all(len(parts) == 1 for parts in where.values()), where
    assert sorted(got_sums) == sorted({m for _, m, _ in sums})
    for minute, rows in got_sums.items():
        assert_same_sequence(rows, [r for r in sums if r[1] == minute],
                             what=f"sums of the partial counts of minute {minute}")  # fmt: skip
    # the arrival-time minute splits some tickers' counts: partial results to add up; the
    # minutes' rows come from several input partitions
    assert len(partial) > len({(t, m) for t, m, _ in partial})
    assert len(con.execute("SELECT DISTINCT part FROM partial").fetchall()) == PARTITIONS


# -- joins ------------------------------------------------------------------------------------
#: the guide's reference data, as published
GUIDE_COMPANIES = (
    "Ticker, Company\nAMZN,Amazon\nASD, SomeCompanyA\nMMB, SomeCompanyB\nWAS,  SomeCompanyC\n"
)


def test_adding_reference_data(
    stack_settings, tickers, topic_factory, bucket_factory, tmp_path, workers
):
    bucket = bucket_factory("it-guide-ref")
    client = s3_client(stack_settings)
    client.put_object(Bucket=bucket, Key="companies.csv", Body=GUIDE_COMPANIES.encode())
    client.close()
    app = deploy("guide_reference_data", tmp_path, topic_factory, tickers, bucket=bucket)
    con = input_table(stack_settings.kafka, tickers.topic)
    companies = list(csv.reader(io.StringIO(GUIDE_COMPANIES)))[1:]
    con.execute("CREATE TABLE company (ticker VARCHAR, name VARCHAR)")
    con.executemany("INSERT INTO company VALUES (?, ?)", companies)
    expected = con.execute(
        """SELECT part, s.ticker, company.name, sector, change, price
           FROM s LEFT JOIN company USING (ticker) ORDER BY part, off"""
    ).fetchall()
    out = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out: tickers.records})
    got = by_partition(output(stack_settings, out))
    for p in range(tickers.partitions):
        rows = [(v["TICKER_SYMBOL"], v["Company"], v["SECTOR"], v["CHANGE"], v["PRICE"])
                for v in got.get(p, [])]
        assert_same_sequence(rows, [r[1:] for r in expected if r[0] == p], what=f"partition {p}")
    assert "Amazon" in {r[2] for r in expected}


def order_and_trade_records(n: int, *, seed: int) -> list[tuple[str, bytes, int]]:
    """The guide's order and trade records, keyed by ticker (as a producer of trades would
    key them): each order (``Oid``) is followed by zero to two trades (``Toid``) within 90 s;
    a third of the trades arrive before their order (an order re-sent), so that joins on the
    minute before an order meet them."""
    rng = random.Random(seed)
    clock = start_ms()
    events: list[tuple[int, str, dict[str, Any]]] = []
    symbols = ["AAAA", "BBBB", "CCCC", "DDDD"]  # one to each of 4 partitions
    for oid in range(1, n + 1):
        clock += rng.randrange(200, 900)
        ticker = rng.choice(symbols)
        order = {"RecordType": "Order", "Oprice": rng.randrange(1000, 9999),
                 "Otype": rng.choice(["Buy", "Sell"]), "Oid": oid, "Oticker": ticker}
        events.append((clock, ticker, order))
        for tid in range(rng.choice([0, 1, 1, 2])):
            delay = rng.randrange(1_000, 90_000)
            at = clock + delay if rng.random() > 0.33 else clock - rng.randrange(1_000, 50_000)
            events.append((at, ticker, {"RecordType": "Trade", "Tid": oid * 10 + tid,
                                        "Toid": oid, "Tprice": rng.randrange(1000, 9999),
                                        "Tticker": ticker}))
    events.sort(key=lambda e: e[0])
    return [(key, json.dumps(v).encode(), ts) for ts, key, v in events]


@pytest.fixture(scope="module")
def orders_and_trades(
    stack_settings, module_topic_factory
) -> tuple[Dataset, list[tuple[Any, ...]]]:
    """400 orders and their trades in 4 partitions, keyed by ticker; and their rows as they
    sit in Kafka (partition, offset, timestamp, then the columns)."""
    topic = module_topic_factory(PARTITIONS, prefix="it-guide-orders")
    records = order_and_trade_records(400, seed=21)
    produce(stack_settings.kafka, topic, records, PARTITIONS)
    rows = []
    for r in read_all(stack_settings.kafka, topic, committed_only=False):
        v = json.loads(r.value or b"")
        rows.append((r.partition, r.offset, r.timestamp_ms, v["RecordType"], v.get("Oid"),
                     v.get("Oprice"), v.get("Otype"), v.get("Oticker"), v.get("Tid"),
                     v.get("Toid"), v.get("Tprice"), v.get("Tticker")))
    return Dataset(topic, PARTITIONS, len(records)), rows


def orders_table(rows: list[tuple[Any, ...]]) -> duckdb.DuckDBPyConnection:
    """DuckDB table ``s``: the orders and trades, with ROWTIME per partition."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE src (part INTEGER, off BIGINT, ts BIGINT, kind VARCHAR, oid INTEGER, "
        "oprice INTEGER, otype VARCHAR, oticker VARCHAR, tid INTEGER, toid INTEGER, "
        "tprice INTEGER, tticker VARCHAR)"
    )
    insert_rows(con, "src", rows)
    con.execute(
        "CREATE TABLE s AS SELECT *, max(ts) OVER (PARTITION BY part ORDER BY off "
        "ROWS UNBOUNDED PRECEDING) AS rowtime FROM src"
    )
    return con


def test_transforming_multiple_data_types(
    stack_settings, orders_and_trades, topic_factory, tmp_path, workers
):
    """Two filter pumps split the record types where they are; the trades per ticker and
    minute span the partitions (the input declares no key): each partition counts its
    trades, a repartition by ticker carries the partial counts to the stage that adds them."""
    data, rows = orders_and_trades
    con = orders_table(rows)
    app = deploy("guide_two_record_types", tmp_path, topic_factory, data)
    orders = con.execute(
        """SELECT part, oid, otype, oticker, oprice::DOUBLE, kind FROM s WHERE kind = 'Order'
           ORDER BY part, off"""
    ).fetchall()
    trades = con.execute(
        """SELECT part, tid, toid, tprice::DOUBLE, tticker, kind FROM s WHERE kind = 'Trade'
           ORDER BY part, off"""
    ).fetchall()
    counts = con.execute(
        """SELECT tticker, count(*) FROM s WHERE kind = 'Trade'
           GROUP BY tticker, rowtime - rowtime % 60000"""
    ).fetchall()
    out = app.outputs
    run_app(stack_settings, app, workers, {
        out["Order_Stream"]: len(orders), out["Trade_Stream"]: len(trades),
        out["DESTINATION_SQL_STREAM"]: len(counts)})
    got_orders = by_partition(output(stack_settings, out["Order_Stream"]))
    got_trades = by_partition(output(stack_settings, out["Trade_Stream"]))
    for p in range(data.partitions):
        assert_same_sequence(
            [(v["ORDER_ID"], v["ORDER_TYPE"], v["TICKER"], v["ORDER_PRICE"], v["RECORD_TYPE"])
             for v in got_orders.get(p, [])],
            [r[1:] for r in orders if r[0] == p], what=f"Order_Stream partition {p}")
        assert_same_sequence(
            [(v["TRADE_ID"], v["ORDER_ID"], v["TRADE_PRICE"], v["TICKER"], v["RECORD_TYPE"])
             for v in got_trades.get(p, [])],
            [r[1:] for r in trades if r[0] == p], what=f"Trade_Stream partition {p}")
    windows = output(stack_settings, out["DESTINATION_SQL_STREAM"])
    assert_keys_unique(windows)
    assert_same_rows([(v["TICKER"], v["TRADE_COUNT"]) for _, v in windows], counts,
                     what="trades per ticker and minute")  # fmt: skip
    assert {r[0] for r in orders} == set(range(data.partitions))


def test_stream_joins(stack_settings, orders_and_trades, topic_factory, tmp_path, workers):
    """Orders joined with the trades of the minute before them (the window on the trades),
    written inline and with a named window: the same rows, each at its order's ROWTIME. The
    join is on the order id, the input is keyed by ticker: both sides cross a repartition by
    the order id, each join in its own stage."""
    data, rows = orders_and_trades
    con = orders_table(rows)
    app = deploy("guide_stream_join", tmp_path, topic_factory, data)
    expected = con.execute(
        """SELECT o.rowtime, o.oid, o.oticker, o.oprice, t.tprice
           FROM s o JOIN s t ON o.kind = 'Order' AND t.kind = 'Trade' AND o.oid = t.toid
                AND t.rowtime BETWEEN o.rowtime - 60000 AND o.rowtime"""
    ).fetchall()
    out = app.outputs
    run_app(stack_settings, app, workers, {
        out["JOINED_STREAM"]: len(expected), out["NAMED_WINDOW_STREAM"]: len(expected)})
    for stream in ("JOINED_STREAM", "NAMED_WINDOW_STREAM"):
        records = output(stack_settings, out[stream])
        got = [(ts_ms(v["RESULTTIME"]), v["ORDERID"], v["TICKER"], v["ORDERAMOUNT"],
                v["TRADEAMOUNT"]) for _, v in records]
        assert_same_rows(got, expected, what=stream)
        assert all(r.timestamp_ms == ts_ms(v["RESULTTIME"]) for r, v in records)
    assert len(expected) > 60
    assert len({r[2] for r in expected}) == data.partitions


# -- strings ----------------------------------------------------------------------------------
REFERRERS = ["http://www.amazon.com", "http://www.example.com", "http://www.aws.com",
             "http://www.kinesis-analytics.com"]


def _referrers(stack_settings, topic_factory) -> tuple[Dataset, list[tuple[int, str]]]:
    topic = topic_factory(1, prefix="it-referrer")
    rng = random.Random(5)
    clock = start_ms()
    records = []
    for _ in range(300):
        clock += rng.randrange(0, 500)
        records.append(("k", json.dumps({"REFERRER": rng.choice(REFERRERS)}).encode(), clock))
    produce(stack_settings.kafka, topic, records, 1)
    stored = [(r.timestamp_ms, json.loads(r.value or b"")["REFERRER"])
              for r in read_all(stack_settings.kafka, topic, committed_only=False)]
    return Dataset(topic, 1, len(records)), stored


@pytest.mark.parametrize("example", ["guide_substring", "guide_regex_replace"])
def test_string_examples(stack_settings, topic_factory, tmp_path, workers, example):
    data, stored = _referrers(stack_settings, topic_factory)
    app = deploy(example, tmp_path, topic_factory, data)
    con = duckdb.connect()
    con.execute("CREATE TABLE s (ts BIGINT, referrer VARCHAR)")
    insert_rows(con, "s", stored)
    expression = (
        "substring(referrer, 12, position('.com' IN referrer) - position('www.' IN referrer) - 4)"
        if example == "guide_substring"
        else "regexp_replace(referrer, 'http://', 'https://', 'g')"
    )
    # "referrer" is a VARCHAR(32): a longer value is cut to its length
    expected = con.execute(f"SELECT ts, left({expression}, 32) FROM s ORDER BY rowid").fetchall()
    out = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out: len(expected)})
    got = [(ts_ms(v["ingest_time"]), v["referrer"]) for _, v in output(stack_settings, out)]
    assert_same_sequence(got, expected, what=example)
    assert len({r[1] for r in got}) == len(REFERRERS)


# -- log parsing and datetime values ----------------------------------------------------------
def _log_lines(rng: random.Random, n: int) -> list[dict[str, str]]:
    """Web log lines in the common log format, as the guide's examples send them."""
    paths = ["/index.php", "/icons/apache_pb.gif", "/a/b/c.html", "/x"]
    out = []
    for i in range(n):
        ip = f"{rng.randrange(1, 255)}.{rng.randrange(0, 255)}.{rng.randrange(0, 255)}.{i % 250}"
        user = rng.choice(["-", "John", "ann"])
        when = f"[{rng.randrange(10, 28)}/May/2004:22:{rng.randrange(10, 59)}:02 -0700]"
        request = f"GET {rng.choice(paths)} HTTP/1.1"
        status, size = rng.choice(["200", "304", "404"]), str(rng.randrange(0, 5000))
        common = f'{ip} - {user} {when} "{request}" {status} {size}'
        out.append({"log": common,
                    "LOGENTRY": f'{common} "-" "Mozilla/5.0 [en] Gecko/20100101 Firefox/52.0"',
                    "Col_A": f"a{i}", "Col_B": "b", "Col_C": rng.choice(["c", "cc"]),
                    "Col_E_Unstructured": ",".join(
                        rng.choice(["x", "y", "zzz", ""]) for _ in range(rng.randrange(1, 5)))})
    return out


def _log_topic(stack_settings, topic_factory) -> tuple[Dataset, list[dict[str, str]]]:
    topic = topic_factory(1, prefix="it-logs")
    rng = random.Random(9)
    clock = start_ms()
    records = []
    for line in _log_lines(rng, 300):
        clock += rng.randrange(0, 400)
        records.append(("k", json.dumps(line).encode(), clock))
    produce(stack_settings.kafka, topic, records, 1)
    stored = [json.loads(r.value or b"")
              for r in read_all(stack_settings.kafka, topic, committed_only=False)]
    return Dataset(topic, 1, len(records)), stored


def _cut(value: Any, length: int) -> Any:
    return value[:length] if isinstance(value, str) else value


def test_regex_log_parse_in_a_subquery(stack_settings, topic_factory, tmp_path, workers):
    """``FROM (SELECT STREAM LOGENTRY, REGEX_LOG_PARSE(…) AS REC …) AS T``: the subquery's
    row-typed column read field by field (``T.REC.COLUMN1``); the whole entry must match."""
    data, lines = _log_topic(stack_settings, topic_factory)
    app = deploy("guide_regex_log_parse", tmp_path, topic_factory, data)
    pattern = re.compile(r"(\w.+) (\d.+) (\w.+) (\w.+)")
    expected = []
    for line in lines:
        match = pattern.fullmatch(line["LOGENTRY"])
        groups = match.groups() if match else (None, None)
        expected.append(tuple(_cut(v, 24) for v in (line["LOGENTRY"], *groups[:2])))
    out = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out: len(expected)})
    got = [(v["LOGENTRY"], v["MATCH1"], v["MATCH2"]) for _, v in output(stack_settings, out)]
    assert_same_sequence(got, expected, what="REGEX_LOG_PARSE")


def test_w3c_log_parse_with_a_named_row_column(stack_settings, topic_factory, tmp_path, workers):
    """``FROM (SELECT STREAM W3C_LOG_PARSE("log", 'COMMON') …) AS l(r)``: ``AS l(r)`` names
    the subquery's one column; ``l.r.COLUMN1`` … are the fields of the COMMON format."""
    data, lines = _log_topic(stack_settings, topic_factory)
    app = deploy("guide_w3c_log_parse", tmp_path, topic_factory, data)
    common = re.compile(r'(\S+) (\S+) (\S+) (\[[^\]]*\]) "([^"]*)" (\S+) (\S+)')
    expected = []
    for line in lines:
        match = common.fullmatch(line["log"])
        assert match is not None
        expected.append(tuple(_cut(v, 16) for v in match.groups()))
    out = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out: len(expected)})
    got = [tuple(v[f"COLUMN{i}"] for i in range(1, 8)) for _, v in output(stack_settings, out)]
    assert_same_sequence(got, expected, what="W3C_LOG_PARSE COMMON")


def test_variable_column_log_parse(stack_settings, topic_factory, tmp_path, workers):
    data, lines = _log_topic(stack_settings, topic_factory)
    app = deploy("guide_variable_column_log_parse", tmp_path, topic_factory, data)
    expected = []
    for line in lines:
        fields = line["Col_E_Unstructured"].split(",")
        fields = [*fields[:3], *[None] * (3 - len(fields[:3]))]
        expected.append((line["Col_A"], line["Col_B"], line["Col_C"], *fields))
    out = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out: len(expected)})
    got = [(v["column_A"], v["column_B"], v["column_C"], v["COL_1"], v["COL_2"], v["COL_3"])
           for _, v in output(stack_settings, out)]
    # (an empty field between two commas is an empty string, as the parser reads it)
    assert_same_sequence(got, expected, what="VARIABLE_COLUMN_LOG_PARSE")


def test_transforming_datetime_values(stack_settings, tickers, topic_factory, tmp_path, workers):
    app = deploy("guide_datetime", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka, tickers.topic)
    expected = con.execute(
        """SELECT part, ticker, event_ms, event_ms - 300000, event_ms,
                  strftime(make_timestamp(event_ms * 1000), '%Y-%m-%d %I:%M:%S'),
                  -- EXTRACT(SECOND …) is a DECIMAL(5,3) (KDA), cast into the INTEGER column
                  CAST(CAST((event_ms % 60000) / 1000 AS DECIMAL(5, 3)) AS INTEGER)
           FROM s ORDER BY part, off"""
    ).fetchall()
    out = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out: tickers.records})
    got = by_partition(output(stack_settings, out))
    for p in range(tickers.partitions):
        rows = [(v["TICKER"], ts_ms(v["EVENT_TIME"]), ts_ms(v["FIVE_MINUTES_BEFORE"]),
                 v["EVENT_UNIX_TIMESTAMP"], v["EVENT_TIMESTAMP_AS_CHAR"], v["EVENT_SECOND"])
                for v in got.get(p, [])]
        assert_same_sequence(rows, [r[1:] for r in expected if r[0] == p], what=f"partition {p}")


def test_every_guide_application_is_tested() -> None:
    from tests.integration.sql_apps_support import APPS

    tested = {"guide_simple_alerts", "guide_throttled_alerts", "guide_error_stream",
              "guide_tumbling_rowtime", "guide_tumbling_event_time", "guide_top_k",
              "guide_stagger", "guide_partial_results", "guide_reference_data",
              "guide_two_record_types", "guide_stream_join", "guide_substring",
              "guide_regex_replace", "guide_regex_log_parse", "guide_w3c_log_parse",
              "guide_variable_column_log_parse", "guide_datetime"}
    assert {p.name for p in APPS.iterdir() if p.name.startswith("guide_")} == tested
