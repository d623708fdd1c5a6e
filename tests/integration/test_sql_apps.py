"""KDA SQL applications on the real stack, each checked against DuckDB.

Every test runs an application of ``sql_apps/`` (the KDA Developer Guide's examples on the
ticker stream) in ``shardline run`` worker processes over its own topics, waits until the
worker committed the whole input and its idle windows closed, stops it, and reads the
output topics back with read_committed. The oracle recomputes the results with DuckDB from
the records that are actually in the input topic — their partitions, offsets and Kafka
timestamps — following KDA's rules, not the engine's code:

* ROWTIME is the running maximum of the Kafka timestamps of a partition, in offset order;
  state is per input partition (GROUP BY keys line up with the partition key, the ticker),
  but for TOP_K_ITEMS_TUMBLING and COUNT_DISTINCT_ITEMS_TUMBLING, which count over every
  partition (the planner repartitions them).
* An event-time window is closed for a row once its end is at or before the largest event
  time seen before the row (in its partition) minus the allowed lateness: such a row is a
  ``Late_Row`` in the error stream.
* A sliding RANGE window holds the rows of the key whose ROWTIME is at most the range behind;
  LAG looks back within it. A stagger window is opened by the first row of its key.

Window results must appear exactly once (their record keys are unique), also after a worker
was killed with SIGKILL mid-stream and restarted, or killed while another one took over.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Sequence
from typing import Any

import duckdb
import pytest

from ground.settings import Settings
from tests.duckdb_oracles import insert_rows
from tests.integration.fixtures_sinks import s3_client
from tests.integration.pace import Pace
from tests.integration.sql_apps_support import (
    LATENESS_MS,
    PARTITIONS,
    RECORDS,
    App,
    Dataset,
    assert_keys_unique,
    by_partition,
    deploy,
    error_rows,
    event_time_oracle,
    finish,
    input_table,
    join_producer,
    output,
    produce,
    produce_in_background,
    run_app,
    start_ms,
    ticker_partitions,
    ticker_records,
    ts_ms,
)
from tests.integration.workers import Consumed, Worker, read_all, wait_for, wait_log
from tests.rows import assert_same_rows, assert_same_sequence

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

@pytest.fixture(scope="module")
def tickers(stack_settings: Settings, module_topic_factory) -> Dataset:
    """The shared input: 4,000 trades in 4 partitions."""
    topic = module_topic_factory(PARTITIONS, prefix="it-ticker")
    records = ticker_records(RECORDS, seed=11, start_ms=start_ms())
    produce(stack_settings.kafka, topic, records, PARTITIONS)
    return Dataset(topic, PARTITIONS, RECORDS)


# -- 1. tumbling window on ROWTIME -----------------------------------------------------------
def test_tumbling_on_rowtime(stack_settings, tickers, topic_factory, tmp_path, workers):
    app = deploy("tumbling_rowtime", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka, tickers.topic)
    expected = con.execute(
        "SELECT ticker, rowtime - rowtime % 10000 AS ws, count(*), min(price), max(price), "
        "avg(price) FROM s GROUP BY ALL"
    ).fetchall()
    out_topic = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out_topic: len(expected)})

    records = output(stack_settings, out_topic)
    assert_keys_unique(records)
    got = [
        (v["TICKER_SYMBOL"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["MIN_PRICE"],
         v["MAX_PRICE"], v["AVG_PRICE"])
        for _, v in records
    ]  # fmt: skip
    assert_same_rows(got, expected, what="ROWTIME windows")
    # ROWTIME of a result is its window's end; it stays in its ticker's partition
    home = ticker_partitions(tickers.partitions)
    for r, v in records:
        assert r.timestamp_ms == ts_ms(v["WINDOW_START"]) + 10_000
        assert r.partition == home[v["TICKER_SYMBOL"]]
    assert len(expected) > 300
    assert error_rows(stack_settings, app.errors) == []


# -- 2. tumbling window on event time, with late rows ----------------------------------------
def check_event_time_results(
    settings: Settings, app: App, expected: list[tuple[Any, ...]], late: list[tuple[Any, ...]],
    *, data_shape: bool = True,
) -> None:
    """The application's windows and Late_Row errors equal the oracle's, row for row.
    ``data_shape``: and the data is ``ticker_records``' (many windows, some late rows)."""
    records = output(settings, app.outputs["DESTINATION_SQL_STREAM"])
    assert_keys_unique(records)
    got = [
        (v["TICKER_SYMBOL"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["TOTAL_PRICE"],
         v["MAX_CHANGE"])
        for _, v in records
    ]  # fmt: skip
    assert_same_rows(got, expected, what="event-time windows")
    errors = error_rows(settings, app.errors)
    assert {e["ERROR_NAME"] for e in errors} <= {"Late_Row"}
    got_late = []
    for e in errors:
        # DATA_ROW: the row as the pump saw it (ROWTIME, APPROXIMATE_ARRIVAL_TIME, columns)
        row = json.loads(bytes.fromhex(e["DATA_ROW"]))
        (_, rowtime), _arrival, ticker, _sector, _change, price, (_, event_ms) = row
        assert ts_ms(e["DATA_ROWTIME"]) == rowtime
        assert e["PUMP_NAME"] == "STREAM_PUMP" and e["MESSAGE"]
        got_late.append((e["SOURCE_PARTITION"], rowtime, ticker, price, event_ms))
    assert_same_rows(got_late, late, what="Late_Row errors")
    # the data exercises what it should: many windows, some late rows
    if data_shape:
        assert len(late) > app.input.records // 200 and len(expected) > app.input.records // 20


def finish_event_time_app(
    settings: Settings, app: App, producer: threading.Thread, survivors: Sequence[Worker]
) -> None:
    """Wait for the background producer; then the survivors must emit exactly what the
    oracle computes over the whole input."""
    join_producer(producer)
    con = input_table(settings.kafka, app.input.topic)
    expected, late = event_time_oracle(con, window_ms=10_000, lateness_ms=LATENESS_MS)
    finish(
        settings, app,
        {app.outputs["DESTINATION_SQL_STREAM"]: len(expected), app.errors: len(late)},
        survivors,
    )  # fmt: skip
    check_event_time_results(settings, app, expected, late)


def test_tumbling_on_event_time_with_late_rows(
    stack_settings, tickers, topic_factory, tmp_path, workers
):
    app = deploy("tumbling_event_time", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka, tickers.topic)
    expected, late = event_time_oracle(con, window_ms=10_000, lateness_ms=LATENESS_MS)
    run_app(
        stack_settings, app, workers,
        {app.outputs["DESTINATION_SQL_STREAM"]: len(expected), app.errors: len(late)},
    )  # fmt: skip
    check_event_time_results(stack_settings, app, expected, late)


# -- 3. sliding window ---------------------------------------------------------------------
def test_sliding_window_average(stack_settings, tickers, topic_factory, tmp_path, workers):
    app = deploy("sliding", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka, tickers.topic)
    # The window of a row: the earlier rows of its ticker (offset order in its partition)
    # whose ROWTIME is at most a minute behind. LAG: the previous row, if still inside.
    expected = con.execute(
        """WITH agg AS (
             SELECT a.part, a.off, avg(b.price) AS avg_p, min(b.price) AS min_p,
                    max(b.price) AS max_p, count(*) AS n
             FROM s a JOIN s b ON a.part = b.part AND a.ticker = b.ticker
                  AND b.off <= a.off AND b.rowtime >= a.rowtime - 60000
             GROUP BY a.part, a.off),
           prev AS (
             SELECT part, off, lag(price) OVER w AS p, lag(rowtime) OVER w AS t
             FROM s WINDOW w AS (PARTITION BY part, ticker ORDER BY off))
           SELECT s.part, s.ticker, s.price, s.event_ms, avg_p, min_p, max_p, n,
                  CASE WHEN prev.t >= s.rowtime - 60000 THEN prev.p END
           FROM s JOIN agg USING (part, off) JOIN prev USING (part, off)
           ORDER BY s.part, s.off"""
    ).fetchall()
    out_topic = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out_topic: tickers.records})

    got = by_partition(output(stack_settings, out_topic))
    for p in range(tickers.partitions):
        rows = [
            (v["TICKER_SYMBOL"], v["PRICE"], ts_ms(v["EVENT_TIME"]), v["AVG_PRICE"],
             v["MIN_PRICE"], v["MAX_PRICE"], v["TRADES"], v["PREV_PRICE"])
            for v in got.get(p, [])
        ]  # fmt: skip
        want = [tuple(r[1:]) for r in expected if r[0] == p]
        assert_same_sequence(rows, want, what=f"partition {p}")
    assert sum(1 for r in expected if r[-1] is None) < len(expected) // 10


# -- 4. stagger window ---------------------------------------------------------------------
def test_stagger_window(stack_settings, tickers, topic_factory, tmp_path, workers):
    app = deploy("stagger", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka, tickers.topic)
    # Window of each row: per (minute, ticker), the first row opens one at its ROWTIME t0;
    # a row at t0 + 60 s or later opens the next (a recursion: assigned row by row).
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
        """SELECT ticker, event_ms - event_ms % 60000, t0 + 60000, count(*), max(price)
           FROM s JOIN opened USING (part, off) GROUP BY ALL"""
    ).fetchall()
    out_topic = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out_topic: len(expected)})

    records = output(stack_settings, out_topic)
    assert_keys_unique(records)
    got = [
        (v["TICKER_SYMBOL"], ts_ms(v["EVENT_MINUTE"]), r.timestamp_ms, v["TICKER_COUNT"],
         v["MAX_PRICE"])
        for r, v in records
    ]  # fmt: skip
    assert_same_rows(got, expected, what="stagger windows")
    assert len(expected) > 100


# -- 5. a chain of pumps -------------------------------------------------------------------
def test_multi_pump_chain(stack_settings, tickers, topic_factory, tmp_path, workers):
    app = deploy("pump_chain", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka, tickers.topic)
    expected = con.execute(
        """SELECT ticker, upper(substring(sector, 1, 3)),
                  lower(ticker) || '-' || CAST(length(sector) AS VARCHAR),
                  CASE WHEN change > 0.5 THEN 'UP' WHEN change < -0.5 THEN 'DOWN'
                       ELSE 'FLAT' END,
                  rowtime - rowtime % 30000, count(*), avg(change), max(price)
           FROM s WHERE sector <> 'RETAIL' AND price > 30 GROUP BY ALL"""
    ).fetchall()
    out_topic = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out_topic: len(expected)})

    records = output(stack_settings, out_topic)
    assert_keys_unique(records)
    got = [
        (v["TICKER_SYMBOL"], v["SECTOR_CODE"], v["LABEL"], v["DIRECTION"],
         ts_ms(v["WINDOW_START"]), v["TRADES"], v["AVG_CHANGE"], v["MAX_PRICE"])
        for _, v in records
    ]  # fmt: skip
    assert_same_rows(got, expected, what="chained windows")
    assert {r[3] for r in expected} == {"UP", "DOWN", "FLAT"}
    assert "RETAIL" not in {r[1] for r in expected}


# -- 6. reference data ---------------------------------------------------------------------
COMPANIES = {
    "AMZN": "Amazon.com, Inc.",
    "AAPL": "Apple Inc.",
    "MSFT": "Microsoft Corporation",
    "CRM": "Salesforce, Inc.",
    "XOM": "Exxon Mobil Corporation",
    "CVX": "Chevron Corporation",
    "JNJ": "Johnson & Johnson",
    "PFE": "Pfizer Inc.",
    "UNH": "UnitedHealth Group",
    "JPM": "JPMorgan Chase & Co.",
    "BAC": 'Bank of America "BofA"',
    "WMT": "Walmart Inc.",
    "TGT": "Target Corporation",
}  # NEE, GS and TSLA are not in the table: NULL


def test_reference_data_left_join(
    stack_settings, tickers, topic_factory, bucket_factory, tmp_path, workers
):
    bucket = bucket_factory("it-refdata")
    body = io.StringIO()
    csv.writer(body, lineterminator="\n").writerows([("Ticker", "Company"), *COMPANIES.items()])
    client = s3_client(stack_settings)
    client.put_object(Bucket=bucket, Key="companies.csv", Body=body.getvalue().encode())
    client.close()
    app = deploy("reference_join", tmp_path, topic_factory, tickers, bucket=bucket)
    con = input_table(stack_settings.kafka, tickers.topic)
    con.execute("CREATE TABLE company (ticker VARCHAR, name VARCHAR)")
    con.executemany("INSERT INTO company VALUES (?, ?)", list(COMPANIES.items()))
    expected = con.execute(
        """SELECT part, s.ticker, company.name, sector, change, price
           FROM s LEFT JOIN company USING (ticker) ORDER BY part, off"""
    ).fetchall()
    out_topic = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(stack_settings, app, workers, {out_topic: tickers.records})

    got = by_partition(output(stack_settings, out_topic))
    for p in range(tickers.partitions):
        rows = [
            (v["TICKER_SYMBOL"], v["Company"], v["SECTOR"], v["CHANGE"], v["PRICE"])
            for v in got.get(p, [])
        ]
        assert_same_sequence(rows, [r[1:] for r in expected if r[0] == p], what=f"partition {p}")
    names = {r[2] for r in expected}
    assert None in names and "Johnson & Johnson" in names


# -- 7. TOP_K_ITEMS_TUMBLING and COUNT_DISTINCT_ITEMS_TUMBLING ----------------------------------
def test_top_k_and_count_distinct(stack_settings, tickers, topic_factory, tmp_path, workers):
    """Over the whole stream of four partitions keyed by ticker: each partition counts, the
    stage behind the repartition merges (the oracle counts over all partitions at once)."""
    data = tickers
    app = deploy("top_k", tmp_path, topic_factory, data)
    con = input_table(stack_settings.kafka, data.topic)
    top = con.execute(
        """SELECT ws, rank, ticker, c FROM (
             SELECT ws, ticker, c,
                    row_number() OVER (PARTITION BY ws ORDER BY c DESC, ticker) - 1 AS rank
             FROM (SELECT rowtime - rowtime % 30000 AS ws, ticker, count(*) AS c
                   FROM s GROUP BY ALL))
           WHERE rank < 3"""
    ).fetchall()
    distinct = con.execute(
        """SELECT rowtime - rowtime % 30000 AS ws, count(DISTINCT ticker) FROM s
           WHERE price > 100 GROUP BY ALL"""
    ).fetchall()
    top_topic, distinct_topic = app.outputs["TOP_TICKERS_STREAM"], app.outputs["DISTINCT_STREAM"]
    run_app(stack_settings, app, workers, {top_topic: len(top), distinct_topic: len(distinct)})

    def window_and_rank(r: Consumed) -> tuple[int, int]:
        # key: <application>/<stream>/<window start>/<rank>; ROWTIME: the window's end
        start, rank = (r.key or b"").decode().rsplit("/", 2)[1:]
        assert r.timestamp_ms == int(start) + 30_000
        return int(start), int(rank)

    tops = output(stack_settings, top_topic)
    assert_keys_unique(tops)
    got_top = [(*window_and_rank(r), v["ITEM"], v["ITEM_COUNT"]) for r, v in tops]
    assert_same_rows(got_top, top, what="TOP_K_ITEMS_TUMBLING")
    counts = output(stack_settings, distinct_topic)
    assert_keys_unique(counts)
    got_distinct = [(window_and_rank(r)[0], v["NUMBER_OF_DISTINCT_ITEMS"]) for r, v in counts]
    assert_same_rows(got_distinct, distinct, what="COUNT_DISTINCT_ITEMS_TUMBLING")
    assert len(distinct) > 3


# -- 8. the error stream -------------------------------------------------------------------
def test_error_stream(stack_settings, topic_factory, tmp_path, workers):
    kafka = stack_settings.kafka
    partitions = 2
    records: list[tuple[str, bytes | None, int]] = list(
        ticker_records(600, seed=13, start_ms=start_ms())
    )
    # Bad records at fixed places: not JSON, a value that does not fit its column, and a
    # zero CHANGE (a division by zero in the pump).
    for i in (10, 200, 420):
        key, _, ts = records[i]
        records[i] = (key, b'{"ticker_symbol": "' + key.encode() + b'", "price": ', ts)
    misfits = {30: {"price": "n/a"}, 250: {"event_time": "yesterday"}, 480: {"change": [1]}}
    for i, bad in misfits.items():
        key, value, ts = records[i]
        records[i] = (key, json.dumps({**json.loads(value or b""), **bad}).encode(), ts)
    for i in (50, 300, 550):
        key, value, ts = records[i]
        records[i] = (key, json.dumps({**json.loads(value or b""), "change": 0.0}).encode(), ts)
    topic = topic_factory(partitions, prefix="it-ticker-bad")
    produce(kafka, topic, records, partitions)
    data = Dataset(topic, partitions, len(records))
    app = deploy("errors", tmp_path, topic_factory, data)

    # The oracle: parse what is in the topic; DuckDB divides.
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE s (part INTEGER, off BIGINT, ticker VARCHAR, change DOUBLE, price DOUBLE)"
    )
    bad: list[tuple[int, int, str]] = []
    good = []
    for r in read_all(kafka, topic, committed_only=False):
        try:
            v = json.loads(r.value or b"")
        except ValueError:
            bad.append((r.partition, r.offset, "Malformed_Record"))
            continue
        numbers = [v["change"], v["price"], v["event_time"]]
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in numbers):
            bad.append((r.partition, r.offset, "Type_Coercion_Error"))
            continue
        good.append((r.partition, r.offset, v["ticker_symbol"], v["change"], v["price"]))
    insert_rows(con, "s", good)
    expected = con.execute(
        "SELECT part, ticker, price, change, price / change FROM s WHERE change <> 0 "
        "ORDER BY part, off"
    ).fetchall()
    zero = con.execute("SELECT part, off, ticker, price FROM s WHERE change = 0").fetchall()
    assert len(bad) == 6 and len(zero) >= 3
    out_topic = app.outputs["DESTINATION_SQL_STREAM"]
    run_app(
        stack_settings, app, workers, {out_topic: len(expected), app.errors: len(bad) + len(zero)}
    )

    got = by_partition(output(stack_settings, out_topic))
    for p in range(partitions):
        rows = [
            (v["TICKER_SYMBOL"], v["PRICE"], v["CHANGE"], v["PRICE_PER_CHANGE"])
            for v in got.get(p, [])
        ]
        assert_same_sequence(rows, [r[1:] for r in expected if r[0] == p], what=f"partition {p}")
    raw = {
        (r.partition, r.offset): r.value for r in read_all(kafka, topic, committed_only=False)
    }
    errors = error_rows(stack_settings, app.errors)
    decoding = [e for e in errors if e["ERROR_NAME"] != "Divide_By_Zero"]
    assert sorted(
        (e["SOURCE_PARTITION"], e["SOURCE_OFFSET"], e["ERROR_NAME"]) for e in decoding
    ) == sorted(bad)
    for e in decoding:
        assert bytes.fromhex(e["DATA_ROW"]) == raw[(e["SOURCE_PARTITION"], e["SOURCE_OFFSET"])]
        assert e["SOURCE_TOPIC"] == topic and e["PUMP_NAME"] == "SOURCE_SQL_STREAM_001"
        assert e["MESSAGE"]
    divisions = [e for e in errors if e["ERROR_NAME"] == "Divide_By_Zero"]
    got_zero = []
    for e in divisions:
        row = json.loads(bytes.fromhex(e["DATA_ROW"]))
        assert e["PUMP_NAME"] == "STREAM_PUMP" and "zero" in e["MESSAGE"]
        assert row[4] == 0
        # the pump reads the input stream: its error row names the record it came from
        got_zero.append((e["SOURCE_PARTITION"], e["SOURCE_OFFSET"], row[2], row[5]))
    assert_same_rows(got_zero, zero, what="Divide_By_Zero errors")


# -- 9. kill -9 and restart ------------------------------------------------------------------
SLOW = {"CommitIntervalMs": 100, "BatchMaxRecords": 50}


@pytest.mark.faults
def test_event_time_app_survives_kill9_and_restart(
    stack_settings, topic_factory, tmp_path, workers
):
    kafka = stack_settings.kafka
    topic = topic_factory(PARTITIONS, prefix="it-ticker-restart")
    data = Dataset(topic, PARTITIONS, 3_000)
    app = deploy("tumbling_event_time", tmp_path, topic_factory, data, runtime=SLOW)
    # the last third trickles until the restart: the input is still arriving however slow
    pace = Pace(400, hold_at=2_000)
    producer = produce_in_background(
        kafka, topic, ticker_records(data.records, seed=14, start_ms=start_ms()),
        PARTITIONS, per_second=pace,
    )  # fmt: skip
    first = app.worker("w1", tmp_path / "w1.log", workers)
    wait_for(stack_settings, app.name, topic, PARTITIONS, 800, 60, [first])
    first.kill9()  # windows are open: the input is still arriving
    # the killed worker's open transaction is aborted by the restart (same instance id)
    assert producer.is_alive(), "the input was complete before the kill"
    second = app.worker("w1", tmp_path / "w2.log", workers)
    pace.release()
    finish_event_time_app(stack_settings, app, producer, [second])
    assert "restored" in second.tail(20_000)


def _one_worker_through_a_fault(
    stack_settings, topic_factory, tmp_path, workers, fault: str, *, prefix: str, seed: int,
    until: str,
) -> tuple[Any, str]:
    """The event-time application on one worker with ``SHARDLINE_FAULTS=fault``: the last
    third of the input held back until the worker logged ``until``; then every window must
    come out once, equal to DuckDB. Returns the worker and its log."""
    topic = topic_factory(PARTITIONS, prefix=prefix)
    data = Dataset(topic, PARTITIONS, 3_000)
    app = deploy("tumbling_event_time", tmp_path, topic_factory, data, runtime=SLOW)
    app.env = {**(app.env or {}), "SHARDLINE_FAULTS": fault}
    pace = Pace(400, hold_at=2_000)
    producer = produce_in_background(
        stack_settings.kafka, topic, ticker_records(data.records, seed=seed, start_ms=start_ms()),
        PARTITIONS, per_second=pace,
    )  # fmt: skip
    worker = app.worker("w1", tmp_path / "w1.log", workers)
    wait_log([worker], until, 120)
    pace.release()
    finish_event_time_app(stack_settings, app, producer, [worker])
    return worker, worker.log.read_text(errors="replace")


@pytest.mark.faults
@pytest.mark.timeout(240)
def test_a_stuck_commit_starts_the_worker_process_again(
    stack_settings, topic_factory, tmp_path, workers
):
    """librdkafka's ``send_offsets_to_transaction`` that never returns (#5456), injected: the
    worker stops its loop after the deadline and ``shardline run`` starts its process again
    (same pid, its stuck producer freed); the new image resumes from the last commit and
    every window comes out once, equal to DuckDB."""
    worker, log = _one_worker_through_a_fault(
        stack_settings, topic_factory, tmp_path, workers, "stuck_offsets_after=5",
        prefix="it-ticker-stuck", seed=15, until="starting the worker's process again",
    )  # fmt: skip
    pid = worker.proc.pid  # the same pid: the process started again with exec
    assert log.count("starting the worker's process again") == 1, log[-3000:]
    # the same process, two images: the runtime started twice under one pid
    started = [line for line in log.splitlines() if "init_transactions (transactional.id" in line]
    assert len(started) == 2 and all(f"[{pid}]" in line for line in started), started


@pytest.mark.faults
@pytest.mark.timeout(240)
def test_a_commit_whose_reply_is_lost_is_not_replayed(
    stack_settings, topic_factory, tmp_path, workers
):
    """A commit that landed although the worker was told it failed (its reply lost to a
    broker restart), injected: the worker must not replay from the commit before, which
    wrote every window of that transaction twice. It learns the outcome from the broker once
    a new producer has fenced the transaction, and every window comes out once, = DuckDB."""
    _, log = _one_worker_through_a_fault(
        stack_settings, topic_factory, tmp_path, workers, "lost_commit_reply_after=40",
        prefix="it-ticker-lost-reply", seed=16, until="the transaction in doubt committed",
    )  # fmt: skip
    assert "replacing the transactional producer" in log, log[-3000:]


# -- 10. two workers, one killed, a third joins ---------------------------------------------
@pytest.mark.faults
@pytest.mark.timeout(240)
def test_two_workers_one_killed_then_a_third_joins(
    stack_settings, topic_factory, tmp_path, workers
):
    """Fault suite scenario 2: the survivor takes the killed worker's partitions and a third
    worker joins mid-stream (a second rebalance); the windows still equal the oracle, each
    once."""
    kafka = stack_settings.kafka
    partitions = 6
    topic = topic_factory(partitions, prefix="it-ticker-pair")
    data = Dataset(topic, partitions, 5_000)
    app = deploy(
        "tumbling_event_time", tmp_path, topic_factory, data,
        runtime={**SLOW, "SessionTimeoutMs": 6_000, "TransactionTimeoutMs": 10_000},
    )  # fmt: skip
    # The input keeps arriving from before the workers start until after the kill: no
    # partition is quiet for the idle timeout (that would close its windows early).
    # The last 1,500 records trickle until the third worker owns partitions.
    pace = Pace(250, hold_at=3_500)
    producer = produce_in_background(
        kafka, topic, ticker_records(data.records, seed=15, start_ms=start_ms()),
        partitions, per_second=pace,
    )  # fmt: skip
    a = app.worker("a", tmp_path / "a.log", workers)
    b = app.worker("b", tmp_path / "b.log", workers)
    wait_log([a, b], "assigned ", 45)  # both own partitions
    wait_for(stack_settings, app.name, topic, partitions, 900, 60, [a, b])
    a.kill9()
    assert producer.is_alive(), "the input was complete before the kill"
    # the survivor takes a's partitions once a's session times out
    wait_log([b], "assigned ", 30, times=2)
    c = app.worker("c", tmp_path / "c.log", workers)
    wait_log([c], "assigned ", 45)  # c owns partitions: the group rebalanced again
    assert producer.is_alive(), "the input was complete before the third worker joined"
    pace.release()
    finish_event_time_app(stack_settings, app, producer, [b, c])
