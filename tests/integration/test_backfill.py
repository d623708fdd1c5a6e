"""Replaying history: data 30 days old through a SQL application and both deliveries.

The input is produced with its event times as Kafka timestamps (``shardline produce
--timestamp event``, as a replay from an archive would be), 30 days in the past, into a topic
that keeps records for ever. A ROWTIME tumbling window runs over it (``shardline run``),
then deliveries to MinIO and Elasticsearch (``shardline deliver``). The results, the error
rows and the state the worker wrote must survive the broker's retention check:

* every record on the output, error and changelog topics has a broker-visible timestamp
  that the topic's retention does not delete at its next check, read back from Kafka and
  judged from the topic's configuration as the broker describes it (not with Shardline's
  code). Before the runtime created its topics ``LogAppendTime``, the results carried their
  ROWTIME — 30 days old — on a 7-day CreateTime topic, and this check failed;
* the windows in the output topic, in MinIO and in Elasticsearch each equal DuckDB's
  recomputation from the input as it is in Kafka; each result's ROWTIME (its header) is its
  window's end;
* the S3 prefix ``!{timestamp:…}`` and the index rotation follow the arrival time of the
  results (Firehose's ApproximateArrivalTimestamp: when they were written), not their ROWTIME.

``SHARDLINE_IT_RETENTION_CHECK=1`` also waits for the broker's next retention check (a canary
record is deleted; up to ``log.retention.check.interval.ms``, 5 minutes on the local stack)
between the application and the deliveries: then results the broker would delete are gone
before the deliveries start, as they were for a user before.

For topics made elsewhere (``CreateTime``, a finite ``retention.ms``), a worker writing
results older than the retention, and ``shardline produce`` writing such event timestamps,
warn naming the topic and the age, and count them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from confluent_kafka import (
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import ConfigResource

from ground.kafka import admin_client, delete_topics_with_prefix, ensure_topics
from ground.kafka_config import KafkaConfig
from ground.settings import Settings
from pipelines.runtime import ROWTIME_HEADER, RuntimeConfig, changelog_topic, run
from pipelines.sql.application import check_application
from shardline.producer import DataSpec, ProduceConfig, partition_for, produce
from tests.demo_counter import IDLE_KEY, CounterProcessor
from tests.duckdb_oracles import insert_rows
from tests.integration.fixtures_sinks import es_request, read_objects
from tests.integration.workers import ROOT, Worker
from tests.rows import assert_same_rows

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000
AGE_MS = 30 * DAY_MS
PARTITIONS = 3
RECORDS = 3_000
WINDOW_MS = 10_000
BROKEN = [b"{not json", b"[1, 2", b"\x00\x01", b'{"ticker_symbol": "AMZN", "price":', b"nan"]
APP_SQL = ROOT / "tests" / "integration" / "sql_apps" / "tumbling_rowtime" / "app.sql"
WORKER_TIMEOUT_S = 240
#: a canary record this old on a topic keeping a minute is gone after one retention check
CANARY_RETENTION_MS = 60_000


@dataclass(frozen=True)
class Stamped:
    """A record as the broker serves it: timestamp type and value, headers."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_type: int
    timestamp_ms: int
    headers: dict[str, bytes]


def read_stamped(kafka: KafkaConfig, topic: str, timeout_s: float = 60) -> list[Stamped]:
    """Every committed record of ``topic`` (read_committed), from the low to the high
    watermark read at the start (a partition ending in a transaction marker is done at its
    end-of-partition event)."""
    consumer = Consumer(kafka.client_config({
        "group.id": f"it-backfill-read-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False, "enable.partition.eof": True,
        "isolation.level": "read_committed", "auto.offset.reset": "earliest",
    }))  # fmt: skip
    try:
        parts = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), 10)[1] for p in parts}
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        pending = {p for p in parts if ends[p] > 0}
        out: list[Stamped] = []
        deadline = time.monotonic() + timeout_s
        while pending:
            assert time.monotonic() < deadline, f"reading {topic} timed out"
            for m in consumer.consume(5_000, 0.5):
                err, p = m.error(), m.partition()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF and m.offset() >= ends[p]:
                        pending.discard(p)
                    continue
                kind, ts = m.timestamp()
                out.append(Stamped(m.partition(), m.offset(), m.key(), m.value() or b"", kind, ts,
                                   dict(m.headers() or [])))  # fmt: skip
                if m.offset() + 1 >= ends[m.partition()]:
                    pending.discard(m.partition())
        return out
    finally:
        consumer.close()


def topic_configs(kafka: KafkaConfig, topic: str) -> dict[str, str]:
    """The topic's effective configuration as the broker describes it."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    admin = admin_client(kafka)  # kept alive until the future resolves
    entries = admin.describe_configs([resource])[resource].result(timeout=10)
    return {name: e.value for name, e in entries.items() if e.value is not None}


def assert_kept_by_retention(kafka: KafkaConfig, topic: str, records: list[Stamped]) -> None:
    """No record of ``topic`` is old enough, by the timestamp the broker judges it by, for
    the topic's time retention to delete it at the next check."""
    configs = topic_configs(kafka, topic)
    retention_ms = int(configs["retention.ms"])
    if "delete" not in configs["cleanup.policy"] or retention_ms < 0:
        return  # nothing is deleted by time on this topic
    now = int(time.time() * 1000)
    doomed = [r for r in records if now - r.timestamp_ms > retention_ms]
    assert not doomed, (
        f"{topic} ({configs['message.timestamp.type']}, retention.ms {retention_ms}): "
        f"{len(doomed)} of {len(records)} records carry timestamps older than the topic's "
        f"retention, e.g. {(now - doomed[0].timestamp_ms) / DAY_MS:.1f} days: the broker "
        "deletes them at its next retention check")


# -- the input ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Replay:
    run: str
    topic: str
    start_ms: int


@pytest.fixture
def replay(stack_settings: Settings) -> Iterator[Replay]:
    """30-day-old tickers on a topic that keeps them (what a backfill's input needs), and
    every topic of the run (its prefix) deleted at the end."""
    run = f"it-backfill-{uuid.uuid4().hex[:8]}"
    kafka = stack_settings.kafka
    topic = f"{run}-input"
    ensure_topics(kafka, [topic], PARTITIONS, config={"retention.ms": "-1"})
    try:
        now = int(time.time() * 1000)
        start_ms = (now - AGE_MS) // 1000 * 1000
        report = produce(stack_settings, ProduceConfig(
            topic=topic, count=RECORDS, timestamp="event", linger_ms=5,
            data=DataSpec(start_ms=start_ms, seed=19, mean_step_ms=40, disorder_ms=800),
        ))  # fmt: skip
        assert report.ok, report.summary()
        assert report.past_retention == 0  # the input topic keeps them
        producer = Producer(kafka.client_config({"enable.idempotence": True}))
        for i, value in enumerate(BROKEN):  # error rows, just as old
            producer.produce(topic, value, b"AMZN", partition_for("AMZN", PARTITIONS),
                             timestamp=start_ms + i * 1000)  # fmt: skip
        assert producer.flush(30) == 0
        yield Replay(run, topic, start_ms)
    finally:
        delete_topics_with_prefix(kafka, run)


def deploy(tmp_path: Path, replay: Replay) -> tuple[Path, str, str, str]:
    """The ROWTIME tumbling window on the replay's input; output, error and changelog topics
    are left to the worker to create. Returns (folder, output, errors, changelog)."""
    name, out, errors = f"{replay.run}-app", f"{replay.run}-out", f"{replay.run}-errors"
    config = {
        "ApplicationName": name,
        "ApplicationCode": str(APP_SQL),
        "Inputs": [{
            "NamePrefix": "SOURCE_SQL_STREAM", "Topic": replay.topic,
            "StartingPosition": "TRIM_HORIZON", "PartitionKey": ["TICKER_SYMBOL"],
            "InputSchema": {"RecordFormat": {"RecordFormatType": "JSON"}, "RecordColumns": [
                {"Name": "TICKER_SYMBOL", "SqlType": "VARCHAR(4)", "Mapping": "$.ticker_symbol"},
                {"Name": "SECTOR", "SqlType": "VARCHAR(16)", "Mapping": "$.sector"},
                {"Name": "CHANGE", "SqlType": "REAL", "Mapping": "$.change"},
                {"Name": "PRICE", "SqlType": "REAL", "Mapping": "$.price"},
                {"Name": "EVENT_TIME", "SqlType": "TIMESTAMP", "Mapping": "$.event_time_ms"},
            ]},
        }],
        "Outputs": [{"Name": "DESTINATION_SQL_STREAM", "Topic": out,
                     "DestinationSchema": {"RecordFormatType": "JSON"}}],
        "ErrorOutput": {"Topic": errors, "RecordFormatType": "JSON"},
        "EventTime": {"AllowedLatenessMs": 2000, "IdleTimeoutMs": 2000},
        "Runtime": {"CommitIntervalMs": 200, "BatchMaxRecords": 500},
    }  # fmt: skip
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "application.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    check_application(folder)
    return folder, out, errors, f"{name}-{replay.topic}-changelog"


# -- the oracle -----------------------------------------------------------------------------
def expected_windows(kafka: KafkaConfig, topic: str) -> tuple[list[tuple[Any, ...]], int]:
    """DuckDB's windows over the input as it is in Kafka: ROWTIME is the running maximum of
    a partition's Kafka timestamps in offset order (every record counts, broken ones too);
    per ticker and 10 s of ROWTIME: count, min, max and average price. Also the number of
    records that are not ticker JSON (error rows)."""
    rows, broken = [], 0
    for r in read_stamped(kafka, topic):
        try:
            v = json.loads(r.value)
            row = (v["ticker_symbol"], float(v["price"]))
        except (ValueError, KeyError, TypeError):
            row, broken = (None, None), broken + 1
        rows.append((r.partition, r.offset, r.timestamp_ms, *row))
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE src (part INTEGER, off BIGINT, ts BIGINT, ticker VARCHAR, "
                    "price DOUBLE)")  # fmt: skip
        insert_rows(con, "src", rows)
        windows = con.execute(
            """SELECT ticker, rowtime - rowtime % $w AS ws, count(*), min(price), max(price),
                      avg(price)
               FROM (SELECT *, max(ts) OVER (PARTITION BY part ORDER BY off
                                             ROWS UNBOUNDED PRECEDING) AS rowtime FROM src)
               WHERE ticker IS NOT NULL GROUP BY ALL""",
            {"w": WINDOW_MS},
        ).fetchall()
    finally:
        con.close()
    return windows, broken


def ts_ms(text: str) -> int:
    """``'2026-11-06 20:15:00.000'``, a SQL TIMESTAMP as the JSON encoder writes it (UTC)."""
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
               .timestamp() * 1000)  # fmt: skip


def window(v: dict[str, Any]) -> tuple[Any, ...]:
    return (v["TICKER_SYMBOL"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["MIN_PRICE"],
            v["MAX_PRICE"], v["AVG_PRICE"])  # fmt: skip


# -- running --------------------------------------------------------------------------------
def run_to_end(worker: Worker, what: str) -> None:
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    while worker.alive():
        assert time.monotonic() < deadline, f"{what} did not finish:\n{worker.tail()}"
        time.sleep(0.3)
    assert worker.proc.returncode == 0, f"{what} failed:\n{worker.tail()}"


def wait_for_a_retention_check(kafka: KafkaConfig, run: str) -> None:
    """Until the broker ran its retention check once from now: a canary record 30 days old
    on a topic keeping a minute is deleted then (its partition's low watermark moves)."""
    canary = f"{run}-canary"
    ensure_topics(kafka, [canary], 1, config={"retention.ms": str(CANARY_RETENTION_MS)})
    producer = Producer(kafka.client_config())
    producer.produce(canary, b"old", timestamp=int(time.time() * 1000) - AGE_MS)
    assert producer.flush(30) == 0
    probe = Consumer(kafka.client_config({"group.id": f"{run}-probe"}))
    try:
        deadline = time.monotonic() + 7 * 60  # the check runs every 5 minutes
        while probe.get_watermark_offsets(TopicPartition(canary, 0), 10)[0] < 1:
            assert time.monotonic() < deadline, "no retention check ran within 7 minutes"
            time.sleep(2)
    finally:
        probe.close()


def test_a_replay_of_30_day_old_data_keeps_every_result_through_both_deliveries(
    stack_settings: Settings, replay: Replay, bucket_factory, workers: list[Worker],
    tmp_path: Path,
) -> None:
    settings, kafka = stack_settings, stack_settings.kafka
    folder, out, errors, changelog = deploy(tmp_path, replay)
    expected, broken = expected_windows(kafka, replay.topic)
    assert broken == len(BROKEN) and len(expected) > 100
    home = tmp_path / "home"

    started_ms = int(time.time() * 1000)
    app = Worker(home, tmp_path / "app.log", "shardline", "-v", "run", str(folder),
                 "--until-idle", "3", "--loglevel", "info")  # fmt: skip
    workers.append(app)
    run_to_end(app, "the SQL application")
    if os.environ.get("SHARDLINE_IT_RETENTION_CHECK") == "1":
        wait_for_a_retention_check(kafka, replay.run)

    bucket, index = bucket_factory("backfill"), f"{replay.run}-index"
    deliveries = tmp_path / "deliveries.yaml"
    deliveries.write_text(yaml.safe_dump({"deliveries": [
        {"name": f"{replay.run}-s3", "topic": out, "group": f"{replay.run}-s3",
         "s3": {"bucket": bucket, "prefix": "results/!{timestamp:yyyy-MM-dd}/",
                "error_output_prefix": "failed/!{firehose:error-output-type}/",
                "compression": "UNCOMPRESSED", "buffering": {"interval_ms": 500}}},
        {"name": f"{replay.run}-es", "topic": out, "group": f"{replay.run}-es",
         "elasticsearch": {"index": index, "index_rotation_period": "OneDay",
                           "document_id": "record_key", "buffering": {"interval_ms": 500}}},
    ]}))  # fmt: skip
    try:
        deliver = Worker(home, tmp_path / "deliver.log", "shardline", "-v", "deliver",
                         str(deliveries), "-q", "--until-idle", "3")  # fmt: skip
        workers.append(deliver)
        run_to_end(deliver, "the deliveries")
        finished_ms = int(time.time() * 1000)

        # Kafka: every result, error row and state entry survives the retention check.
        results, error_rows = read_stamped(kafka, out), read_stamped(kafka, errors)
        state = read_stamped(kafka, changelog)
        assert len(results) == len(expected), f"{len(results)} of {len(expected)} results"
        assert len(error_rows) == len(BROKEN) and state
        for topic, records in ((out, results), (errors, error_rows), (changelog, state)):
            assert_kept_by_retention(kafka, topic, records)
            assert all(r.timestamp_type == TIMESTAMP_LOG_APPEND_TIME for r in records), topic
            assert all(started_ms - 60_000 <= r.timestamp_ms <= finished_ms for r in records)

        # The windows equal DuckDB's, and ROWTIME (the header) is the window's end.
        decoded = [(r, json.loads(r.value)) for r in results]
        assert_same_rows([window(v) for _, v in decoded], expected, what="output topic")
        for r, v in decoded:
            assert int(r.headers[ROWTIME_HEADER]) == ts_ms(v["WINDOW_START"]) + WINDOW_MS
        assert min(ts_ms(v["WINDOW_START"]) for _, v in decoded) < started_ms - AGE_MS + DAY_MS
        for r in error_rows:
            e = json.loads(r.value)
            assert e["ERROR_NAME"] and e["SOURCE_TOPIC"] == replay.topic
            assert started_ms - int(r.headers[ROWTIME_HEADER]) > AGE_MS - DAY_MS  # 30 days old

        # MinIO: every window once, under the date the results arrived (Firehose's
        # ApproximateArrivalTimestamp), not their ROWTIME's 30 days ago.
        days = {f"{datetime.fromtimestamp(t / 1000, UTC):%Y-%m-%d}"
                for t in (started_ms, finished_ms)}  # fmt: skip
        objects = read_objects(settings, bucket, "results/")
        assert objects and {key.split("/")[1] for key in objects} <= days, sorted(objects)
        s3_rows = [json.loads(line) for body in objects.values() for line in body.splitlines()]
        assert_same_rows([window(v) for v in s3_rows], expected, what="MinIO")
        assert not read_objects(settings, bucket, "failed/")

        # Elasticsearch: every window once, in the index of the day the results arrived.
        found = es_request(settings, "GET", f"/_cat/indices/{index}-*?format=json")
        assert {i["index"] for i in found} <= {f"{index}-{d}" for d in days}, found
        es_request(settings, "POST", f"/{index}-*/_refresh")
        hits = es_request(settings, "POST", f"/{index}-*/_search",
                          {"size": 10_000, "query": {"match_all": {}}})["hits"]["hits"]
        assert_same_rows([window(h["_source"]) for h in hits], expected, what="Elasticsearch")
    finally:  # by name: Elasticsearch refuses to delete by wildcard
        for made in es_request(settings, "GET", f"/_cat/indices/{index}-*?format=json"):
            es_request(settings, "DELETE", f"/{made['index']}")


# -- topics made elsewhere: warned about and counted ----------------------------------------
def test_a_worker_writing_old_results_to_a_create_time_topic_made_elsewhere_warns_and_counts(
    stack_settings: Settings, topic_factory, tmp_path: Path, caplog
) -> None:
    kafka = stack_settings.kafka
    source = topic_factory(2, config={"retention.ms": "-1"})
    output = topic_factory(2)  # made elsewhere: CreateTime, Kafka's default 7 days
    app = f"it-backfill-worker-{uuid.uuid4().hex[:8]}"
    changelog = topic_factory(2, name=changelog_topic(app, source),  # made elsewhere, too
                              config={"cleanup.policy": "compact,delete",
                                      "retention.ms": str(DAY_MS)})  # fmt: skip
    now = int(time.time() * 1000)
    producer = Producer(kafka.client_config())
    for i in range(30):  # 20 records 30 days old, then 10 of today
        producer.produce(source, b"1", b"k%d" % (i % 4), i % 2,
                         timestamp=now - AGE_MS + i if i < 20 else now - 60_000 + i)  # fmt: skip
    assert producer.flush(30) == 0
    config = RuntimeConfig(app, (source,), output_topics=(output,), idle_timeout_ms=500,
                           idle_check_interval_ms=200)  # fmt: skip
    local = Settings.from_env(dict(os.environ, SHARDLINE_HOME=str(tmp_path / "home")))
    caplog.set_level(logging.INFO, "ground.retention")
    caplog.set_level(logging.INFO, "pipelines.runtime.topics")
    stats = run(config, local, lambda _t, p: CounterProcessor(p, output),
                stop=threading.Event(), until_idle_ms=1_000)  # fmt: skip
    assert stats.records == 30 and stats.past_retention == 20
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"output topic {output} is CreateTime with retention.ms 604800000" in m
               for m in messages), messages  # fmt: skip
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    old, state = sorted(warnings, key=lambda m: "changelog" in m)
    assert f"worker {app} wrote a record to topic {output}" in old and "30.0 days old" in old
    assert f"changelog {changelog} has cleanup.policy=compact,delete" in state
    # the results carry the record times in the header as well
    results = [r for r in read_stamped(kafka, output) if r.key != IDLE_KEY]
    assert len(results) == 30
    assert all(int(r.headers[ROWTIME_HEADER]) == r.timestamp_ms for r in results)


def test_produce_warns_about_event_timestamps_its_topic_deletes_at_once(
    stack_settings: Settings, topic_factory, caplog
) -> None:
    data = DataSpec(start_ms=int(time.time() * 1000) - AGE_MS, seed=3)

    def send(topic: str) -> int:
        report = produce(stack_settings, ProduceConfig(topic=topic, data=data, count=50,
                                                       timestamp="event", linger_ms=5))
        assert report.ok, report.summary()
        return report.past_retention

    caplog.set_level(logging.WARNING, "shardline.producer.producer")
    deleting = topic_factory(2)  # CreateTime, 7 days
    assert send(deleting) == 50
    (warning,) = caplog.records
    assert f"shardline produce wrote a record to topic {deleting}" in warning.getMessage()
    assert "30.0 days old" in warning.getMessage()
    caplog.clear()
    assert send(topic_factory(1, config={"retention.ms": "-1"})) == 0
    assert send(topic_factory(1, config={"cleanup.policy": "compact"})) == 0
    assert caplog.records == []
    appended = topic_factory(1, config={"message.timestamp.type": "LogAppendTime"})
    assert send(appended) == 0
    (note,) = caplog.records
    assert f"topic {appended} is message.timestamp.type=LogAppendTime" in note.getMessage()
