"""A Faust user's agent beside a SQL application, in one worker (``examples/faust_agents``).

``faust -A examples.faust_agents.app worker`` runs the example's SQL application (per ticker,
10-second tumbling windows of event time) on the exactly-once runtime, its agent reading the
application's output with Faust's consumer, and a delivery of the agent's reports to
Elasticsearch. Before the worker starts, an aborted transaction leaves rows in the output
topic that a ``read_uncommitted`` reader would see. Checked against DuckDB and the topics:

* the application's committed output is the oracle's windows;
* the agent saw exactly the committed windows — one report per window, with the window's
  key, none of the aborted rows — and its reports (topic and Elasticsearch documents) carry
  no Faust metadata;
* ``/health`` and ``/metrics`` of the worker describe both loops; SIGTERM exits 0.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from ground.kafka_config import KafkaConfig
from ground.settings import Settings
from pipelines.sql.application import check_application
from tests.duckdb_oracles import insert_rows
from tests.integration.fixtures_sinks import es_request
from tests.integration.test_sql_apps import (
    LATENESS_MS,
    event_time_oracle,
    produce,
    start_ms,
    ticker_records,
    ts_ms,
)
from tests.integration.workers import ROOT, Worker, free_port, http_get, read_all
from tests.rows import assert_same_rows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

EXAMPLE = ROOT / "examples" / "faust_agents"
PARTITIONS = 4
RECORDS = 3_000
WINDOW_MS = 10_000
ABORTED = 8
BIG_MOVE = 2.0  # examples/faust_agents/app.py


def trades(n: int) -> list[tuple[str, bytes, int]]:
    """The SQL tests' ticker trades, with the event time where ``shardline produce`` puts it."""
    out = []
    for key, value, ts in ticker_records(n, seed=21, start_ms=start_ms()):
        row = json.loads(value)
        row["event_time_ms"] = row.pop("event_time")
        out.append((key, json.dumps(row).encode(), ts))
    return out


def oracle_windows(kafka: KafkaConfig, topic: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    con.execute("CREATE TABLE src (part INTEGER, off BIGINT, ts BIGINT, ticker VARCHAR, "
                "change DOUBLE, price DOUBLE, event_ms BIGINT)")
    rows = []
    for r in read_all(kafka, topic, committed_only=False):
        v = json.loads(r.value or b"")
        rows.append((r.partition, r.offset, r.timestamp_ms, v["ticker_symbol"], v["change"],
                     v["price"], v["event_time_ms"]))
    insert_rows(con, "src", rows)
    con.execute("CREATE TABLE s AS SELECT *, max(ts) OVER (PARTITION BY part ORDER BY off "
                "ROWS UNBOUNDED PRECEDING) AS rowtime FROM src")
    windows, _late = event_time_oracle(con, window_ms=WINDOW_MS, lateness_ms=LATENESS_MS)
    return windows


def deploy(tmp_path: Path, topic_factory: Callable[..., str], source: str) -> tuple[Path, str]:
    """The example's application on fresh topics: (its folder, its output topic)."""
    config = yaml.safe_load((EXAMPLE / "ticker_windows" / "application.yaml").read_text())
    name = f"it-agents-sql-{uuid.uuid4().hex[:6]}"
    config["ApplicationName"] = name
    config["ApplicationCode"] = str(EXAMPLE / "ticker_windows" / "app.sql")
    config["Inputs"][0]["Topic"] = source
    output = config["Outputs"][0]["Topic"] = topic_factory(PARTITIONS, prefix="it-agents-out")
    config["ErrorOutput"]["Topic"] = topic_factory(
        PARTITIONS, prefix="it-agents-err", config={"max.message.bytes": str(4 * 1024 * 1024)})
    topic_factory(PARTITIONS, name=f"{name}-{source}-changelog",
                  config={"cleanup.policy": "compact", "min.compaction.lag.ms": "0"})
    config["EventTime"] = {"AllowedLatenessMs": LATENESS_MS, "IdleTimeoutMs": 3_000}
    folder = tmp_path / "ticker_windows"
    folder.mkdir()
    (folder / "application.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    check_application(folder)
    return folder, output


def abort_rows(kafka: KafkaConfig, topic: str) -> None:
    """Rows of an aborted transaction: a ``read_uncommitted`` reader sees them."""
    producer = Producer(kafka.client_config(
        {"transactional.id": f"it-agents-abort-{uuid.uuid4().hex[:8]}"}))
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(ABORTED):
        row = {"TICKER_SYMBOL": "ZZZZ", "WINDOW_START": "2026-01-01 00:00:00.000",
               "TRADES": 1, "TOTAL_PRICE": 1.0, "MAX_CHANGE": 9.0}
        producer.produce(topic, json.dumps(row).encode(), f"aborted-{i}".encode(),
                         partition=i % PARTITIONS)
    producer.flush(30)
    producer.abort_transaction(30)


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def es_documents(settings: Settings, index: str) -> dict[str, dict[str, Any]]:
    es_request(settings, "POST", f"/{index}/_refresh")
    found = es_request(settings, "POST", f"/{index}/_search",
                       {"size": 10_000, "query": {"match_all": {}}})
    hits = found.get("hits", {}).get("hits", []) if isinstance(found, dict) else []
    return {h["_id"]: h["_source"] for h in hits}


def test_an_agent_beside_a_sql_application_sees_exactly_the_committed_results(
    stack_settings: Settings, topic_factory, tmp_path: Path, workers: list[Worker],
) -> None:
    settings = stack_settings
    kafka = settings.kafka
    source = topic_factory(PARTITIONS, prefix="it-agents-in")
    produce(kafka, source, trades(RECORDS), PARTITIONS)
    expected = oracle_windows(kafka, source)
    folder, output = deploy(tmp_path, topic_factory, source)
    abort_rows(kafka, output)
    reports_topic = topic_factory(PARTITIONS, prefix="it-agents-reports")
    index = f"it-agents-{uuid.uuid4().hex[:10]}"
    agents_id = f"it-agents-{uuid.uuid4().hex[:6]}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        worker = Worker(
            tmp_path / "home", tmp_path / "worker.log", "faust", "-A", "examples.faust_agents.app",
            "worker", "-l", "info", "--web-port", str(port),
            env={"TICKER_WINDOWS_APP": str(folder), "TICKER_REPORTS_TOPIC": reports_topic,
                 "TICKER_REPORTS_INDEX": index, "TICKER_AGENTS_ID": agents_id},
        )  # fmt: skip
        workers.append(worker)

        # -- 1. running: wait for every window in Elasticsearch; health and metrics -------
        deadline = time.monotonic() + 120
        while len(es_documents(settings, index)) < len(expected):
            assert worker.alive(), worker.tail()
            assert time.monotonic() < deadline, worker.tail()
            time.sleep(0.5)
        status, _, health = http_get(f"{base}/health")
        assert status == 200 and health["status"] == "ready", health
        assert {(s["kind"], s["state"]) for s in health["services"]} == {
            ("sql", "running"), ("delivery", "running")}
        [sql] = [s for s in health["services"] if s["kind"] == "sql"]
        assert sql["records"] == RECORDS and sql["aborts"] == 0
        deadline = time.monotonic() + 30
        while True:  # the delivery's commit follows its last flush
            got = metric_samples(http_get(f"{base}/metrics")[2])
            delivered = sum(v for (name, _), v in got.items()
                            if name == "firehose_delivery_records_total")
            if delivered >= len(expected) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert delivered == len(expected)
        app = sql["application_id"]
        assert got[("shardline_runtime_records_total", (("application", app),))] == RECORDS
        assert worker.stop() == 0, worker.tail()

        # -- 2. the application's committed output is the oracle's -------------------------
        committed = read_all(kafka, output, committed_only=True)
        rows = [json.loads(r.value or b"") for r in committed]
        assert_same_rows(
            [(v["TICKER_SYMBOL"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["TOTAL_PRICE"],
              v["MAX_CHANGE"]) for v in rows],
            expected, what="SQL windows")
        everything = read_all(kafka, output, committed_only=False)
        assert sum(1 for r in everything if b"ZZZZ" in (r.value or b"")) == ABORTED  # control

        # -- 3. the agent saw exactly those: one report per window, no metadata ---------------
        reports = read_all(kafka, reports_topic, committed_only=False)
        assert not [r for r in reports if b"__faust" in (r.value or b"")]
        assert Counter(r.key for r in reports) == Counter(r.key for r in committed)
        decoded = [json.loads(r.value or b"") for r in reports]
        assert_same_rows(
            [(d["ticker"], ts_ms(d["window_start"]), d["trades"], d["average_price"],
              d["max_change"]) for d in decoded],
            [(t, ws, n, total / n, change) for t, ws, n, total, change in expected],
            what="agent reports")
        assert all(d["big_move"] == (d["max_change"] >= BIG_MOVE) for d in decoded)
        assert not any(d["ticker"] == "ZZZZ" for d in decoded)

        # -- 4. delivered as they are: id = the window's key, the report as the document ---
        documents = es_documents(settings, index)
        assert set(documents) == {(r.key or b"").decode() for r in committed}
        by_key = {(r.key or b"").decode(): d for r, d in zip(reports, decoded, strict=True)}
        assert documents == by_key
    finally:
        es_request(settings, "DELETE", f"/{index}?ignore_unavailable=true")
