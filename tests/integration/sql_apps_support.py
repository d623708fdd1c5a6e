"""What the SQL application tests share: the ticker input (produced to Kafka with explicit
timestamps, paced for the kill tests), the oracle's input table in DuckDB, deploying an
application of ``sql_apps/`` on fresh topics, running its workers to the end of the input,
and reading the outputs back (``test_sql_apps``, ``test_sql_repartition``)."""

from __future__ import annotations

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
import yaml
from confluent_kafka import KafkaError, KafkaException, Producer

from ground.kafka_config import KafkaConfig
from ground.settings import Settings
from pipelines.runtime.config import DEFAULT_MAX_MESSAGE_BYTES
from pipelines.runtime.plan_record import PLAN_TOPIC_CONFIG, plan_topic
from pipelines.runtime.topics import CHANGELOG_TOPIC_CONFIG, repartition_topic_config
from pipelines.sql.application import application_topology, check_application
from shardline.producer import TICKER_SYMBOLS, partition_for
from tests.duckdb_oracles import judge_lateness, ticker_table
from tests.integration.pace import Pace
from tests.integration.workers import Consumed, Worker, read_all, wait_for
from tests.timestamps import MINUTE_MS, recent_ms

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
    kafka: KafkaConfig,
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
    producer = Producer(kafka.client_config({"linger.ms": 5,
                         "enable.idempotence": True, "message.timeout.ms": 180_000}))
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
    kafka: KafkaConfig, topic: str, records: Sequence[Record], partitions: int,
    per_second: float | Pace,
) -> threading.Thread:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            produce(kafka, topic, records, partitions, per_second=per_second)
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


# -- the oracle's input table ---------------------------------------------------------------
def input_table(kafka: KafkaConfig, topic: str) -> duckdb.DuckDBPyConnection:
    """DuckDB table ``s``: the input as it is in Kafka, with ROWTIME per partition."""
    rows = []
    for r in read_all(kafka, topic, committed_only=False):
        v = json.loads(r.value or b"")
        rows.append(
            (r.partition, r.offset, r.timestamp_ms, v["ticker_symbol"], v["sector"],
             v["change"], v["price"], v["event_time"])
        )  # fmt: skip
    return ticker_table(rows, per_partition=True)


def event_time_oracle(
    con: duckdb.DuckDBPyConnection, *, window_ms: int, lateness_ms: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(window rows, late rows) of ``tumbling_event_time``: a row is late when its window
    ended at or before the largest event time before it in its partition minus the
    lateness."""
    judge_lateness(con, window_ms=window_ms, lateness_ms=lateness_ms, per_partition=True)
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
    internal_topics: bool = True,
) -> App:
    """Write ``template``'s configuration into ``tmp_path`` with a unique application name,
    the dataset's input topic, and new output and error topics (and changelog, and
    repartition topics with theirs, and the plan record, made as the worker makes them, for
    clean-up) of as
    many partitions as the input. ``internal_topics=False`` leaves the changelogs and
    repartition topics to the worker (the test deletes them: ``sql reset``)."""
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
    if internal_topics:
        topic_factory(
            dataset.partitions,
            name=f"{name}-{dataset.topic}-changelog",
            config={"cleanup.policy": "compact", "min.compaction.lag.ms": "0"},
        )
        topic_factory(1, name=plan_topic(name), config=PLAN_TOPIC_CONFIG)
    if bucket is not None:
        for ref in config["ReferenceDataSources"]:
            ref["S3ReferenceDataSource"]["BucketARN"] = f"arn:aws:s3:::{bucket}"
    config["EventTime"] = {"AllowedLatenessMs": LATENESS_MS, "IdleTimeoutMs": IDLE_TIMEOUT_MS}
    config["Runtime"] = {**config.get("Runtime", {}), **(runtime or {})}
    folder = tmp_path / template
    folder.mkdir()
    (folder / "application.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    checked, plan = check_application(folder)  # a bad deployment fails here, not in a log
    for topic in application_topology(checked, plan).repartitions if internal_topics else ():
        topic_factory(dataset.partitions, name=topic.topic,
                      config=repartition_topic_config(DEFAULT_MAX_MESSAGE_BYTES))  # fmt: skip
        topic_factory(dataset.partitions, name=f"{topic.topic}-changelog",
                      config=CHANGELOG_TOPIC_CONFIG)  # fmt: skip
    return App(name, folder, dataset, outputs, errors, tmp_path / "home")


def committed_count(kafka: KafkaConfig, topic: str) -> int:
    return len(read_all(kafka, topic, committed_only=True, settle=False))


def finish(
    settings: Settings,
    app: App,
    expected: dict[str, int],
    survivors: Sequence[Worker],
    *,
    timeout_s: float = 60,
) -> None:
    """Wait until the workers committed the whole input and the output topics hold
    ``expected`` records (the windows the idle timeout closes come last; bounded), then
    stop the workers with SIGTERM."""
    kafka = settings.kafka
    wait_for(
        settings, app.name, app.input.topic, app.input.partitions, app.input.records,
        timeout_s, survivors,
    )  # fmt: skip
    deadline = time.monotonic() + IDLE_TIMEOUT_MS / 1000 + 15
    while time.monotonic() < deadline:
        counts = {t: committed_count(kafka, t) for t in expected}
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
    records = read_all(settings.kafka, topic, committed_only=True)
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
