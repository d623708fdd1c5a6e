"""Avro with a real schema registry: the local stack's Apicurio Registry.

The producer registers its schema under ``<topic>-value`` and writes the registry's ids; a
running SQL application reads each record with the writer schema its id names and projects
it onto the schema it declares. Mid-stream the producer moves from the bundled ticker
schema (v1) to the user's v2 (a field added with a default, from ``SHARDLINE_SCHEMA_DIR``):
the registry accepts it as BACKWARD compatible, the application keeps running, and its
windows equal DuckDB's over what is in the topic. Records whose id the registry does not
know, or whose schema cannot be read as the application's, are error rows holding their
bytes. The oracle reads every record with its writer schema alone (no resolution).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import replace

import duckdb
import fastavro
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry import SchemaRegistryError as ClientError

from ground.errors import SchemaRegistryError
from ground.settings import Settings
from schemas import RegistryConfig, SchemaRegistry
from shardline.producer import DataSpec, ProduceConfig, produce
from tests.duckdb_oracles import insert_rows
from tests.integration.test_sql_apps import (
    Dataset,
    assert_keys_unique,
    deploy,
    error_rows,
    finish,
    output,
    start_ms,
    ts_ms,
)
from tests.integration.test_sql_apps import produce as produce_raw
from tests.integration.workers import ROOT, read_all, wait_for
from tests.rows import assert_same_rows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

PARTITIONS = 4
V1_RECORDS = 1_500
V2_RECORDS = 1_500
TICKER_V1 = json.loads((ROOT / "schemas" / "ticker.avsc").read_text())
TICKER_V2 = {
    **TICKER_V1,
    "fields": [*TICKER_V1["fields"],
               {"name": "exchange", "type": "string", "default": "XNYS"}],
}
#: The ticker with a price in text: not readable as the ticker (nor registrable after it).
TEXT_PRICE = {
    **TICKER_V1,
    "fields": [{**f, "type": "string"} if f["name"] == "price" else f
               for f in TICKER_V1["fields"]],
}
UNKNOWN_ID = 2_000_000_000
WINDOW_MS = 10_000  # the application's STEP(ROWTIME BY INTERVAL '10' SECOND)


@pytest.fixture
def registry_settings(stack_settings: Settings) -> Settings:
    """The stack's settings with the local registry as SHARDLINE_SCHEMA_REGISTRY_URL."""
    return replace(stack_settings, schema_registry_url=stack_settings.local_schema_registry_url)


def _body(schema: dict, record: dict) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), record)
    return buf.getvalue()


def test_schema_evolution_mid_stream(registry_settings, topic_factory, tmp_path, workers):
    settings = registry_settings
    url = settings.schema_registry_url
    client = SchemaRegistryClient({"url": url})
    topic = topic_factory(PARTITIONS, prefix="it-ticker-avro")
    subject = f"{topic}-value"
    client.set_compatibility(subject, "BACKWARD")
    total = V1_RECORDS + V2_RECORDS + 5
    app = deploy("avro_evolution", tmp_path, topic_factory, Dataset(topic, PARTITIONS, total))
    app.env = {"SHARDLINE_SCHEMA_REGISTRY_URL": url}
    worker = app.worker("w1", tmp_path / "avro_evolution.log", workers)

    # 1. v1, the bundled schema, with the producer's own function
    t1 = start_ms()
    report = produce(settings, ProduceConfig(
        topic=topic, data=DataSpec(start_ms=t1, seed=21, format="avro"), count=V1_RECORDS,
        partitions=PARTITIONS, timestamp="event"))  # fmt: skip
    assert report.ok, report.summary()
    v1_id = client.get_latest_version(subject).schema_id
    # the running application has read the v1 records before any v2 one is written
    wait_for(settings, app.name, topic, PARTITIONS, V1_RECORDS, 60, [worker])

    # 2. v2, the user's schema, with `shardline produce` from the user's schema folder
    folder = tmp_path / "avro"
    folder.mkdir()
    (folder / "ticker.avsc").write_text(json.dumps(TICKER_V2))
    last_ms = max(r.data["event_time_ms"] for r in report.records() if r.data)
    # v2 starts in a window of its own: the pause between the two runs may close the last
    # v1 window by the idle timeout, as the application is meant to
    v2_start_ms = (last_ms // WINDOW_MS + 2) * WINDOW_MS
    cli = subprocess.run(
        [sys.executable, "-m", "shardline", "produce", "--kind", "ticker", "--topic", topic,
         "--count", str(V2_RECORDS), "--seed", "22", "--start-ms", str(v2_start_ms),
         "--format", "avro", "--timestamp", "event", "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "SHARDLINE_SCHEMA_REGISTRY_URL": url,
             "SHARDLINE_SCHEMA_DIR": str(folder),
             "SHARDLINE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap},
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert f"delivered {V2_RECORDS}" in cli.stdout
    assert client.get_versions(subject) == [1, 2]
    latest = client.get_version(subject, 2)
    v2_id = latest.schema_id
    assert latest.version == 2 and v2_id != v1_id
    assert "exchange" in latest.schema.schema_str

    # 3. the registry refuses an incompatible version of the subject...
    registry = SchemaRegistry(RegistryConfig(url))
    with pytest.raises(SchemaRegistryError, match="could not register") as refused:
        registry.register(subject, json.dumps(TEXT_PRICE))
    assert refused.value.status == 409
    # ... which another subject takes; its records, and records of an id nobody has, go to
    # the error stream
    bad_id = client.register_schema(f"{topic}-other", Schema(json.dumps(TEXT_PRICE), "AVRO"))
    with pytest.raises(ClientError):
        client.get_schema(UNKNOWN_ID)
    tick = {"ticker_symbol": "AMZN", "sector": "TECHNOLOGY", "change": 0.5,
            "event_time_ms": v2_start_ms}
    bad_body = _body(TEXT_PRICE, {**tick, "price": "185.50"})
    good_body = _body(TICKER_V1, {**tick, "price": 185.5})
    bad = [(f"B{i}", b"\x00" + bad_id.to_bytes(4, "big") + bad_body, v2_start_ms)
           for i in range(3)]
    bad += [(f"U{i}", b"\x00" + UNKNOWN_ID.to_bytes(4, "big") + good_body, v2_start_ms)
            for i in range(2)]
    produce_raw(settings.kafka, topic, bad, PARTITIONS)

    # the oracle: each record read with its writer schema only; DuckDB makes the windows
    writers = {sid: fastavro.parse_schema(json.loads(client.get_schema(sid).schema_str))
               for sid in (v1_id, v2_id)}  # fmt: skip
    rows, rejected = [], {}
    ids_seen: dict[int, int] = {}
    for r in read_all(settings.kafka, topic, committed_only=False):
        raw = r.value or b""
        sid = int.from_bytes(raw[1:5], "big")
        ids_seen[sid] = ids_seen.get(sid, 0) + 1
        if sid not in writers:
            rejected[(r.partition, r.offset)] = raw
            continue
        rec = fastavro.schemaless_reader(io.BytesIO(raw[5:]), writers[sid], None)
        rows.append((r.partition, r.offset, r.timestamp_ms, rec["ticker_symbol"], rec["price"]))
    assert ids_seen == {v1_id: V1_RECORDS, v2_id: V2_RECORDS, bad_id: 3, UNKNOWN_ID: 2}
    con = duckdb.connect()
    con.execute("CREATE TABLE src (part INTEGER, off BIGINT, ts BIGINT, ticker VARCHAR, "
                "price DOUBLE)")
    insert_rows(con, "src", rows)
    expected = con.execute(
        "WITH s AS (SELECT *, max(ts) OVER (PARTITION BY part ORDER BY off ROWS UNBOUNDED "
        "PRECEDING) AS rowtime FROM src) "
        f"SELECT ticker, rowtime - rowtime % {WINDOW_MS} AS ws, count(*), min(price), max(price), "
        "avg(price) FROM s GROUP BY ALL"
    ).fetchall()
    out_topic = app.outputs["DESTINATION_SQL_STREAM"]
    finish(settings, app, {out_topic: len(expected), app.errors: len(rejected)}, [worker])

    records = output(settings, out_topic)
    assert_keys_unique(records)
    got = [
        (v["TICKER_SYMBOL"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["MIN_PRICE"],
         v["MAX_PRICE"], v["AVG_PRICE"])
        for _, v in records
    ]  # fmt: skip
    assert_same_rows(got, expected, what="windows over v1 and v2 records")
    assert sum(n for _, _, n, *_ in expected) == V1_RECORDS + V2_RECORDS
    errors = error_rows(settings, app.errors)
    assert sorted((e["SOURCE_PARTITION"], e["SOURCE_OFFSET"]) for e in errors) == sorted(rejected)
    for e in errors:
        assert e["ERROR_NAME"] == "Schema_Mismatch", e
        assert bytes.fromhex(e["DATA_ROW"]) == rejected[(e["SOURCE_PARTITION"], e["SOURCE_OFFSET"])]
        assert e["SOURCE_TOPIC"] == topic
    messages = sorted(e["MESSAGE"] for e in errors)
    assert sum(f"unknown schema id {UNKNOWN_ID}" in m for m in messages) == 2, messages
    assert sum(f"schema id {bad_id} " in m and "cannot be read as ticker" in m
               for m in messages) == 3, messages
