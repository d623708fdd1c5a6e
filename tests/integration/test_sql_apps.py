"""KDA SQL applications on the real stack, each checked against DuckDB.

Every test runs an application of ``sql_apps/`` (the KDA Developer Guide's examples on the
ticker stream) in ``shardline run`` worker processes over its own topics, waits until the
worker committed the whole input and its idle windows closed, stops it, and reads the
output topics back with read_committed. The oracle recomputes the results with DuckDB from
the records that are actually in the input topic — their partitions, offsets and Kafka
timestamps — following KDA's rules, not the engine's code:

* ROWTIME is the running maximum of the Kafka timestamps of a partition, in offset order;
  state is per input partition (GROUP BY keys line up with the partition key, the ticker).
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
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from confluent_kafka import KafkaError, KafkaException, Producer

from ground.settings import Settings
from pipelines.sql.application import check_application
from shardline.producer import TICKER_SYMBOLS, partition_for
from tests.integration.fixtures_sinks import s3_client
from tests.integration.pace import Pace
from tests.integration.workers import Consumed, Worker, read_all, wait_for, wait_log
from tests.rows import assert_same_rows, assert_same_sequence
from tests.timestamps import MINUTE_MS, recent_ms

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

APPS = Path(__file__).parent / "sql_apps"
PARTITIONS = 4
RECORDS = 4_000
IDLE_TIMEOUT_MS = 3_000
LATENESS_MS = 2_000
SECTORS = {symbol: sector for symbol, sector, _ in TICKER_SYMBOLS}

#: (Kafka key, JSON value, Kafka timestamp ms)
Record = tuple[str, bytes, int]


# -- input ---------------------------------------------------------------------------------
def ticker_records(n: int, *, seed: int, start_ms: int) -> list[Record]:
    """``n`` trades about 60 ms apart. Event times trail the clock by up to 3 s (2 % by
    15-45 s: late), and 5 % of the Kafka timestamps are up to 2 s behind the clock, so
    ROWTIME (their running maximum) differs from the timestamps."""
    rng = random.Random(seed)
    prices = {symbol: cents for symbol, _, cents in TICKER_SYMBOLS}
    symbols = sorted(prices)
    clock = start_ms
    out: list[Record] = []
    for _ in range(n):
        clock += rng.randrange(0, 120)
        symbol = rng.choice(symbols)
        old = prices[symbol]
        new = prices[symbol] = max(100, old + rng.randrange(-150, 151))
        delay = rng.randrange(0, 3_000) if rng.random() > 0.02 else rng.randrange(15_000, 45_000)
        ts = clock - (rng.randrange(0, 2_000) if rng.random() < 0.05 else 0)
        value = {
            "ticker_symbol": symbol,
            "sector": SECTORS[symbol],
            "change": (new - old) / 100,
            "price": new / 100,
            "event_time": clock - delay,
        }
        out.append((symbol, json.dumps(value).encode(), ts))
    return out


def start_ms() -> int:
    """Half an hour before the session started, on a minute boundary: inside the broker's
    accepted timestamps (Kafka 4 refuses more than an hour ahead) and far from retention."""
    return recent_ms(MINUTE_MS, ago_ms=30 * MINUTE_MS)


def produce(
    bootstrap: str,
    topic: str,
    records: Sequence[Record | tuple[str, bytes | None, int]],
    partitions: int,
    *,
    per_second: float | Pace | None = None,
) -> None:
    """Keyed by ticker, partitioned as Kinesis does (md5 ranges), with explicit timestamps;
    ``per_second`` paces the records (for tests that kill a worker mid-stream)."""
    pace = Pace(per_second) if isinstance(per_second, int | float) else per_second
    # idempotent, and patient: a broker restarted mid-stream (fault suite) loses nothing
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                         "enable.idempotence": True, "message.timeout.ms": 180_000})
    for i, (key, value, ts) in enumerate(records):
        for attempt in range(600):
            try:
                producer.produce(
                    topic, value, key.encode(), partition_for(key, partitions), timestamp=ts
                )
                break
            except KafkaException as exc:
                # a broker restarting mid-stream (fault suite): its metadata is not back yet
                if exc.args[0].code() != KafkaError._UNKNOWN_PARTITION or attempt == 599:
                    raise
                producer.poll(0.1)
        if pace is not None and (i % 20 == 19 or pace.holding(i + 1)):
            producer.flush(10)
            ahead = pace.delay(i + 1)
            if ahead > 0:
                time.sleep(ahead)
        producer.poll(0)
    assert producer.flush(120) == 0


def produce_in_background(
    bootstrap: str, topic: str, records: Sequence[Record], partitions: int,
    per_second: float | Pace,
) -> threading.Thread:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            produce(bootstrap, topic, records, partitions, per_second=per_second)
        except BaseException as exc:  # reported by join_producer
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.errors = errors  # type: ignore[attr-defined]
    thread.start()
    return thread


def join_producer(thread: threading.Thread, timeout_s: float = 60) -> None:
    thread.join(timeout_s)
    assert not thread.is_alive(), "the producer did not finish"
    assert not thread.errors, thread.errors  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Dataset:
    topic: str
    partitions: int
    records: int


@pytest.fixture(scope="module")
def tickers(stack_settings: Settings, module_topic_factory) -> Dataset:
    """The shared input: 4,000 trades in 4 partitions."""
    topic = module_topic_factory(PARTITIONS, prefix="it-ticker")
    records = ticker_records(RECORDS, seed=11, start_ms=start_ms())
    produce(stack_settings.kafka_bootstrap, topic, records, PARTITIONS)
    return Dataset(topic, PARTITIONS, RECORDS)


@pytest.fixture(scope="module")
def tickers_one_partition(stack_settings: Settings, module_topic_factory) -> Dataset:
    """2,000 trades in a single partition (for per-partition TOP_K / COUNT_DISTINCT)."""
    topic = module_topic_factory(1, prefix="it-ticker1")
    records = ticker_records(2_000, seed=12, start_ms=start_ms())
    produce(stack_settings.kafka_bootstrap, topic, records, 1)
    return Dataset(topic, 1, 2_000)


# -- the oracle's input table ---------------------------------------------------------------
def input_table(bootstrap: str, topic: str) -> duckdb.DuckDBPyConnection:
    """DuckDB table ``s``: the input as it is in Kafka, with ROWTIME per partition."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE src (part INTEGER, off BIGINT, ts BIGINT, ticker VARCHAR, "
        "sector VARCHAR, change DOUBLE, price DOUBLE, event_ms BIGINT)"
    )
    rows = []
    for r in read_all(bootstrap, topic, committed_only=False):
        v = json.loads(r.value or b"")
        rows.append(
            (r.partition, r.offset, r.timestamp_ms, v["ticker_symbol"], v["sector"],
             v["change"], v["price"], v["event_time"])
        )  # fmt: skip
    con.executemany("INSERT INTO src VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute(
        "CREATE TABLE s AS SELECT *, max(ts) OVER (PARTITION BY part ORDER BY off "
        "ROWS UNBOUNDED PRECEDING) AS rowtime FROM src"
    )
    return con


def event_time_oracle(
    con: duckdb.DuckDBPyConnection, *, window_ms: int, lateness_ms: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(window rows, late rows) of ``tumbling_event_time``: a row is late when its window
    ended at or before the largest event time before it in its partition minus the
    lateness."""
    con.execute(
        f"""CREATE OR REPLACE TABLE judged AS
            SELECT *, event_ms - event_ms % {window_ms} AS ws,
                   max(event_ms) OVER (PARTITION BY part ORDER BY off ROWS BETWEEN
                       UNBOUNDED PRECEDING AND 1 PRECEDING) - {lateness_ms} AS wm
            FROM s"""
    )
    windows = con.execute(
        f"""SELECT ticker, ws, count(*), sum(price), max(change) FROM judged
            WHERE wm IS NULL OR ws + {window_ms} > wm GROUP BY ALL"""
    ).fetchall()
    late = con.execute(
        f"""SELECT part, rowtime, ticker, price, event_ms FROM judged
            WHERE ws + {window_ms} <= wm"""
    ).fetchall()
    return windows, late


# -- running an application -----------------------------------------------------------------
@dataclass
class App:
    """One deployment of an application of ``sql_apps/`` on fresh topics."""

    name: str
    folder: Path
    input: Dataset
    outputs: dict[str, str]
    errors: str
    home: Path
    started: list[Worker] = field(default_factory=list)
    env: dict[str, str] | None = None  # e.g. another SHARDLINE_KAFKA_BOOTSTRAP

    def worker(self, instance: str, log: Path, workers: list[Worker]) -> Worker:
        w = Worker(
            self.home, log, "shardline", "-v", "run", str(self.folder),
            "--instance-id", instance, "--loglevel", "info", env=self.env,
        )  # fmt: skip
        workers.append(w)
        self.started.append(w)
        return w


def deploy(
    template: str,
    tmp_path: Path,
    topic_factory: Callable[..., str],
    dataset: Dataset,
    *,
    bucket: str | None = None,
    runtime: dict[str, int] | None = None,
) -> App:
    """Write ``template``'s configuration into ``tmp_path`` with a unique application name,
    the dataset's input topic, and new output and error topics (and changelog, for
    clean-up) of as many partitions as the input."""
    source = APPS / template
    config = yaml.safe_load((source / "application.yaml").read_text())
    name = f"it-sql-{template.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    config["ApplicationName"] = name
    config["ApplicationCode"] = str(source / "app.sql")
    config["Inputs"][0]["Topic"] = dataset.topic
    outputs: dict[str, str] = {}
    for out in config.get("Outputs", []):
        out["Topic"] = outputs[out["Name"]] = topic_factory(dataset.partitions, prefix="it-out")
    # error rows hold a rejected input in hex: up to twice the largest input Kafka takes
    errors = topic_factory(dataset.partitions, prefix="it-err",
                           config={"max.message.bytes": str(4 * 1024 * 1024)})
    config["ErrorOutput"]["Topic"] = errors
    topic_factory(
        dataset.partitions,
        name=f"{name}-{dataset.topic}-changelog",
        config={"cleanup.policy": "compact", "min.compaction.lag.ms": "0"},
    )
    if bucket is not None:
        for ref in config["ReferenceDataSources"]:
            ref["S3ReferenceDataSource"]["BucketARN"] = f"arn:aws:s3:::{bucket}"
    config["EventTime"] = {"AllowedLatenessMs": LATENESS_MS, "IdleTimeoutMs": IDLE_TIMEOUT_MS}
    config["Runtime"] = {**config.get("Runtime", {}), **(runtime or {})}
    folder = tmp_path / template
    folder.mkdir()
    (folder / "application.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    check_application(folder)  # a bad deployment fails here, not in the worker's log
    return App(name, folder, dataset, outputs, errors, tmp_path / "home")


def committed_count(bootstrap: str, topic: str) -> int:
    return len(read_all(bootstrap, topic, committed_only=True, settle=False))


def finish(
    settings: Settings, app: App, expected: dict[str, int], survivors: Sequence[Worker]
) -> None:
    """Wait until the workers committed the whole input and the output topics hold
    ``expected`` records (the windows the idle timeout closes come last; bounded), then
    stop the workers with SIGTERM."""
    bootstrap = settings.kafka_bootstrap
    wait_for(
        settings, app.name, app.input.topic, app.input.partitions, app.input.records, 60,
        survivors,
    )  # fmt: skip
    deadline = time.monotonic() + IDLE_TIMEOUT_MS / 1000 + 15
    while time.monotonic() < deadline:
        counts = {t: committed_count(bootstrap, t) for t in expected}
        if all(counts[t] >= n for t, n in expected.items()):
            break
        for w in survivors:
            assert w.alive(), f"worker died:\n{w.tail()}"
        time.sleep(0.5)
    for w in survivors:
        assert w.stop() == 0, w.tail()


def run_app(settings: Settings, app: App, workers: list[Worker], expected: dict[str, int]) -> None:
    w = app.worker("w1", app.home.parent / f"{app.folder.name}.log", workers)
    finish(settings, app, expected, [w])


def output(settings: Settings, topic: str) -> list[tuple[Consumed, dict[str, Any]]]:
    """The committed records of ``topic`` (read_committed), with their decoded JSON."""
    records = read_all(settings.kafka_bootstrap, topic, committed_only=True)
    return [(r, json.loads(r.value or b"")) for r in records]


def ts_ms(text: str) -> int:
    """Epoch ms of KDA's TIMESTAMP text ``YYYY-MM-DD HH:MM:SS.fff`` (UTC)."""
    from datetime import UTC, datetime

    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000 + 0.5)


def assert_keys_unique(records: Sequence[tuple[Consumed, Any]]) -> None:
    keys = [r.key for r, _ in records]
    assert None not in keys, "window results carry a record key"
    dupes = [k for k in set(keys) if keys.count(k) > 1]
    assert not dupes, f"{len(keys) - len(set(keys))} duplicated window results, e.g. {dupes[:3]}"


def ticker_partitions(partitions: int) -> dict[str, int]:
    return {symbol: partition_for(symbol, partitions) for symbol in SECTORS}


def by_partition(records: Sequence[tuple[Consumed, Any]]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for r, v in sorted(records, key=lambda rv: (rv[0].partition, rv[0].offset)):
        out.setdefault(r.partition, []).append(v)
    return out


def error_rows(settings: Settings, topic: str) -> list[dict[str, Any]]:
    return [v for _, v in output(settings, topic)]


# -- 1. tumbling window on ROWTIME -----------------------------------------------------------
def test_tumbling_on_rowtime(stack_settings, tickers, topic_factory, tmp_path, workers):
    app = deploy("tumbling_rowtime", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka_bootstrap, tickers.topic)
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
    con = input_table(settings.kafka_bootstrap, app.input.topic)
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
    con = input_table(stack_settings.kafka_bootstrap, tickers.topic)
    expected, late = event_time_oracle(con, window_ms=10_000, lateness_ms=LATENESS_MS)
    run_app(
        stack_settings, app, workers,
        {app.outputs["DESTINATION_SQL_STREAM"]: len(expected), app.errors: len(late)},
    )  # fmt: skip
    check_event_time_results(stack_settings, app, expected, late)


# -- 3. sliding window ---------------------------------------------------------------------
def test_sliding_window_average(stack_settings, tickers, topic_factory, tmp_path, workers):
    app = deploy("sliding", tmp_path, topic_factory, tickers)
    con = input_table(stack_settings.kafka_bootstrap, tickers.topic)
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
    con = input_table(stack_settings.kafka_bootstrap, tickers.topic)
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
    con = input_table(stack_settings.kafka_bootstrap, tickers.topic)
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
    con = input_table(stack_settings.kafka_bootstrap, tickers.topic)
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
def test_top_k_and_count_distinct(
    stack_settings, tickers_one_partition, topic_factory, tmp_path, workers
):
    data = tickers_one_partition
    app = deploy("top_k", tmp_path, topic_factory, data)
    con = input_table(stack_settings.kafka_bootstrap, data.topic)
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
    bootstrap = stack_settings.kafka_bootstrap
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
    produce(bootstrap, topic, records, partitions)
    data = Dataset(topic, partitions, len(records))
    app = deploy("errors", tmp_path, topic_factory, data)

    # The oracle: parse what is in the topic; DuckDB divides.
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE s (part INTEGER, off BIGINT, ticker VARCHAR, change DOUBLE, price DOUBLE)"
    )
    bad: list[tuple[int, int, str]] = []
    good = []
    for r in read_all(bootstrap, topic, committed_only=False):
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
    con.executemany("INSERT INTO s VALUES (?, ?, ?, ?, ?)", good)
    expected = con.execute(
        "SELECT part, ticker, price, change, price / change FROM s WHERE change <> 0 "
        "ORDER BY part, off"
    ).fetchall()
    zero = con.execute("SELECT part, ticker, price FROM s WHERE change = 0").fetchall()
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
        (r.partition, r.offset): r.value for r in read_all(bootstrap, topic, committed_only=False)
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
        got_zero.append((e["SOURCE_PARTITION"], row[2], row[5]))
    assert_same_rows(got_zero, zero, what="Divide_By_Zero errors")


# -- 9. kill -9 and restart ------------------------------------------------------------------
SLOW = {"CommitIntervalMs": 100, "BatchMaxRecords": 50}


@pytest.mark.faults
def test_event_time_app_survives_kill9_and_restart(
    stack_settings, topic_factory, tmp_path, workers
):
    bootstrap = stack_settings.kafka_bootstrap
    topic = topic_factory(PARTITIONS, prefix="it-ticker-restart")
    data = Dataset(topic, PARTITIONS, 3_000)
    app = deploy("tumbling_event_time", tmp_path, topic_factory, data, runtime=SLOW)
    # the last third trickles until the restart: the input is still arriving however slow
    pace = Pace(400, hold_at=2_000)
    producer = produce_in_background(
        bootstrap, topic, ticker_records(data.records, seed=14, start_ms=start_ms()),
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


# -- 10. two workers, one killed, a third joins ---------------------------------------------
@pytest.mark.faults
@pytest.mark.timeout(240)
def test_two_workers_one_killed_then_a_third_joins(
    stack_settings, topic_factory, tmp_path, workers
):
    """Fault suite scenario 2: the survivor takes the killed worker's partitions and a third
    worker joins mid-stream (a second rebalance); the windows still equal the oracle, each
    once."""
    bootstrap = stack_settings.kafka_bootstrap
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
        bootstrap, topic, ticker_records(data.records, seed=15, start_ms=start_ms()),
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
