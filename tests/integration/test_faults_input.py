"""Fault suite, bad input (issue 5): a delivery or SQL application with a bad config or
missing credentials fails at start against the real stack, and nothing was started: no
consumer group joined, no topic created, no bucket created.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from confluent_kafka.admin import AdminClient

from ground.settings import Settings
from tests.duckdb_oracles import insert_rows
from tests.integration.fixtures_sinks import s3_client
from tests.integration.workers import read_all

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
SQL_APP = ROOT / "tests" / "integration" / "sql_apps" / "tumbling_event_time"


def _shardline(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "shardline", *args], capture_output=True, text=True,
        timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    return proc.returncode, proc.stderr, time.monotonic() - start


def _nothing_exists(settings: Settings, *, group: str, topics: list[str],
                    bucket: str | None) -> None:
    admin = AdminClient(settings.kafka.client_config())
    groups = admin.list_consumer_groups(request_timeout=10).result(timeout=15)
    assert not [g.group_id for g in groups.valid if g.group_id.startswith(group)]
    existing = set(admin.list_topics(timeout=10).topics)
    assert not [t for t in existing if any(t.startswith(name) for name in topics)]
    if bucket is not None:
        client = s3_client(settings)
        with pytest.raises(ClientError) as err:
            client.head_bucket(Bucket=bucket)
        assert err.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
        client.close()


@pytest.mark.parametrize(("extra", "env", "field"), [
    ("  buffering: {size_mb: 5, interval_seconds: 5000}\n", {},
     "s3.buffering.interval_seconds"),
    ("", {"SHARDLINE_S3_ACCESS_KEY": ""}, "SHARDLINE_S3_ACCESS_KEY"),
    ("  bogus: 1\n", {}, "s3.bogus"),
], ids=["out-of-range-hint", "missing-access-key", "unknown-field"])
def test_bad_delivery_starts_nothing(
    stack_settings: Settings, tmp_path: Path, extra: str, env: dict[str, str], field: str
) -> None:
    tag = uuid.uuid4().hex[:10]
    topic, group, bucket = f"badcfg-{tag}", f"badcfg-group-{tag}", f"badcfg-{tag}"
    file = tmp_path / "d.yaml"
    file.write_text(f"name: badcfg-{tag}\ntopic: {topic}\ngroup: {group}\n"
                    f"s3:\n  bucket: {bucket}\n  ensure_bucket: true\n{extra}")
    code, stderr, seconds = _shardline("deliver", str(file), env=env)
    print(f"bad delivery ({field}): exit {code} in {seconds:.2f} s: {stderr.strip()}")
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"shardline: error: {field}"), stderr
    _nothing_exists(stack_settings, group=group, topics=[topic], bucket=bucket)


def test_bad_sql_application_starts_nothing(stack_settings: Settings, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:10]
    name = f"badcfg-app-{tag}"
    topics = [f"badcfg-in-{tag}", f"badcfg-out-{tag}", f"badcfg-err-{tag}"]
    text = (SQL_APP / "application.yaml").read_text()
    for old, new in [("it-sql-tumbling-event-time", name), ("Topic: ticker", f"Topic: {topics[0]}"),
                     ("tumbling-event-time-destination-sql-stream", topics[1]),
                     ("tumbling-event-time-errors", topics[2]),
                     ("BatchMaxRecords: 500", "BatchMaxRecords: 0")]:
        assert old in text
        text = text.replace(old, new)
    app = tmp_path / "app"
    app.mkdir()
    (app / "application.yaml").write_text(text)
    (app / "app.sql").write_text((SQL_APP / "app.sql").read_text())
    code, stderr, seconds = _shardline("run", str(app))
    print(f"bad SQL application: exit {code} in {seconds:.2f} s: {stderr.strip()}")
    assert code == 2
    assert stderr.strip().splitlines() == [
        "shardline: error: Runtime.BatchMaxRecords: must be at least 1, got 0"]
    _nothing_exists(stack_settings, group=name, topics=topics, bucket=None)

def _poison_oracle_run_and_check(settings, app, workers, topic, records, poison, decode):
    """The oracle (DuckDB: ROWTIME over every record, poison included; windows over the valid
    ones), one worker run, then: the windows equal the oracle's, and each poison record is
    exactly one error row with its reason and its original bytes. Returns (windows, error
    rows, seconds)."""
    import duckdb

    from tests.integration.test_sql_apps import error_rows, output, run_app, ts_ms
    from tests.rows import assert_same_rows

    con = duckdb.connect()
    con.execute("CREATE TABLE src (part INTEGER, off BIGINT, ts BIGINT, ticker VARCHAR, "
                "price DOUBLE, valid BOOLEAN)")
    by_bytes = {raw: names for raw, names in poison.values()}
    raw_at: dict[tuple[int, int], bytes] = {}
    reasons: dict[tuple[int, int], set[str]] = {}
    rows = []
    for r in read_all(settings.kafka, topic, committed_only=False):
        value = r.value or b""
        raw_at[(r.partition, r.offset)] = value
        if value in by_bytes:
            reasons[(r.partition, r.offset)] = by_bytes[value]
            rows.append((r.partition, r.offset, r.timestamp_ms, None, None, False))
            continue
        v = decode(value)
        rows.append((r.partition, r.offset, r.timestamp_ms, v["ticker_symbol"], v["price"], True))
    assert len(reasons) == len(poison) and len(rows) == len(records)
    insert_rows(con, "src", rows)
    con.execute("CREATE TABLE s AS SELECT *, max(ts) OVER (PARTITION BY part ORDER BY off "
                "ROWS UNBOUNDED PRECEDING) AS rowtime FROM src")
    expected = con.execute(
        "SELECT ticker, rowtime - rowtime % 10000 AS ws, count(*), min(price), max(price), "
        "avg(price) FROM s WHERE valid GROUP BY ALL").fetchall()
    out_topic = app.outputs["DESTINATION_SQL_STREAM"]
    started = time.monotonic()
    run_app(settings, app, workers, {out_topic: len(expected), app.errors: len(poison)})
    seconds = time.monotonic() - started

    got = [(v["TICKER_SYMBOL"], ts_ms(v["WINDOW_START"]), v["TRADES"], v["MIN_PRICE"],
            v["MAX_PRICE"], v["AVG_PRICE"]) for _, v in output(settings, out_topic)]
    assert_same_rows(got, expected, what="windows of the valid trades")
    assert sum(g[2] for g in got) == len(records) - len(poison)
    errors = error_rows(settings, app.errors)
    assert sorted((e["SOURCE_PARTITION"], e["SOURCE_OFFSET"]) for e in errors) == sorted(reasons)
    for e in errors:
        where = (e["SOURCE_PARTITION"], e["SOURCE_OFFSET"])
        assert bytes.fromhex(e["DATA_ROW"]) == raw_at[where]
        assert e["ERROR_NAME"] in reasons[where], (e["ERROR_NAME"], e["MESSAGE"])
        assert e["MESSAGE"] and e["SOURCE_TOPIC"] == topic
    return expected, errors, seconds


# -- scenario 8: poison input into a JSON SQL application -------------------------------------
def test_poison_input_json_sql_application(stack_settings, topic_factory, tmp_path, workers):
    """Not JSON, invalid UTF-8, the wrong shape, a wrongly typed field and a record over
    Runtime.MaxRecordBytes, between valid trades: each poison record is one error row with its
    reason and its original bytes; the windows of the valid trades equal DuckDB's."""
    from tests.integration.fault_report import report
    from tests.integration.test_sql_apps import (
        Dataset,
        deploy,
        produce,
        start_ms,
        ticker_records,
    )

    kafka = stack_settings.kafka
    partitions = 2  # Runtime.MaxRecordBytes: the default, 524,288
    records = list(ticker_records(1_500, seed=8, start_ms=start_ms()))
    poison = {
        100: (b"\x00\x01\x02 not json at all", {"Malformed_Record"}),
        300: (b'{"ticker_symbol": "\xff\xfe", "price": 1.0}', {"Malformed_Record"}),
        500: (b"[1, 2, 3]", {"Schema_Mismatch", "Malformed_Record"}),
        700: (b'{"ticker_symbol": "AMZN", "price": "n/a", "change": 1, "event_time": 1}',
              {"Type_Coercion_Error"}),
        900: (b'{"ticker_symbol": "AMZN", "pad": "' + b"x" * 600_000 + b'"}',
              {"Record_Too_Large"}),
        # just under the default limit (512 KB) and malformed: its error row (hex) is > 1 MB
        1100: (b'{"ticker_symbol": "AMZN", "pad": "' + b"\xff" * 520_000 + b'"}',
               {"Malformed_Record"}),
    }
    for i, (raw, _) in poison.items():
        key, _, ts = records[i]
        records[i] = (key, raw, ts)
    topic = topic_factory(partitions, prefix="it-poison-json")
    produce(kafka, topic, records, partitions)
    app = deploy("tumbling_rowtime", tmp_path, topic_factory,
                 Dataset(topic, partitions, len(records)))

    expected, errors, seconds = _poison_oracle_run_and_check(
        stack_settings, app, workers, topic, records, poison, json.loads)
    report(8, app="json-sql", records=len(records), poison=len(poison), windows=len(expected),
           error_rows=len(errors), seconds=round(seconds, 1),
           reasons=sorted(e["ERROR_NAME"] for e in errors))


def test_poison_input_avro_sql_application(stack_settings, topic_factory, tmp_path, workers):
    """Into an AVRO application (Confluent framing): bytes that are not Avro, an unknown
    schema id, another schema's record, a truncated body and a record over
    Runtime.MaxRecordBytes; each is one error row with its reason and original bytes, and the
    windows of the valid trades equal DuckDB's."""
    import yaml

    from schemas import codec_for
    from tests.integration.fault_report import report
    from tests.integration.test_sql_apps import (
        Dataset,
        deploy,
        produce,
        start_ms,
        ticker_records,
    )

    kafka = stack_settings.kafka
    partitions, limit = 2, 200_000
    ticker = codec_for("avro", "ticker")
    trades = list(ticker_records(1_500, seed=88, start_ms=start_ms()))
    records: list[tuple[str, bytes | None, int]] = []
    for key, value, ts in trades:
        v = json.loads(value or b"")
        v["event_time_ms"] = v.pop("event_time")
        records.append((key, ticker.encode(v), ts))
    good = records[0][1] or b""
    other = b"\x00\x00\x00\x00\x02" + good[5:]  # clickstream's id, ticker's body
    big = ticker.encode({"ticker_symbol": "AMZN", "sector": "x" * 300_000, "change": 0.0,
                         "price": 1.0, "event_time_ms": 0})
    poison = {
        100: (b'{"ticker_symbol": "AMZN"}', {"Malformed_Record"}),
        300: (b"\x00\x00\x00\x27\x0f" + good[5:], {"Malformed_Record", "Schema_Mismatch"}),
        500: (other, {"Malformed_Record", "Schema_Mismatch"}),
        700: (good[:9], {"Malformed_Record", "Schema_Mismatch"}),
        900: (big, {"Record_Too_Large"}),
    }
    for i, (raw, _) in poison.items():
        key, _, ts = records[i]
        records[i] = (key, raw, ts)
    topic = topic_factory(partitions, prefix="it-poison-avro")
    produce(kafka, topic, records, partitions)
    app = deploy("tumbling_rowtime", tmp_path, topic_factory,
                 Dataset(topic, partitions, len(records)), runtime={"MaxRecordBytes": limit})
    config_file = app.folder / "application.yaml"
    config = yaml.safe_load(config_file.read_text())
    schema = config["Inputs"][0]["InputSchema"]
    schema["RecordFormat"] = {"RecordFormatType": "AVRO", "AvroSchema": "ticker"}
    for column in schema["RecordColumns"]:
        if column["Name"] == "EVENT_TIME":
            column["Mapping"] = "$.event_time_ms"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))

    expected, errors, seconds = _poison_oracle_run_and_check(
        stack_settings, app, workers, topic, records, poison, ticker.decode)
    report(8, app="avro-sql", records=len(records), poison=len(poison), windows=len(expected),
           error_rows=len(errors), seconds=round(seconds, 1),
           reasons=sorted(f"{e['ERROR_NAME']}: {e['MESSAGE'][:60]}" for e in errors))


# -- scenario 8: poison records delivered to Elasticsearch --------------------------------------
def test_poison_records_delivered_to_elasticsearch(stack_settings, bucket_factory) -> None:
    """Invalid JSON, invalid UTF-8 (alone and inside a JSON string), a JSON array, an empty
    record and a field whose type clashes with the index mapping, between valid documents:
    ids in the index ∪ ids in the S3 failed-document backup == ids sent, each once, and each
    backup holds the record's original bytes (rawData)."""
    import base64
    import gzip

    from confluent_kafka import Producer

    from connectors import DeliveryConfig, build_worker, preflight
    from ground.kafka import ensure_topics
    from tests.integration.fault_report import report
    from tests.integration.fixtures_sinks import es_request, read_objects

    settings = stack_settings
    tag = uuid.uuid4().hex[:10]
    topic, index = f"poison-es-{tag}", f"poison-es-{tag}"
    bucket = bucket_factory("poison-es")
    ensure_topics(settings.kafka, [topic], 2)
    es_request(settings, "PUT", f"/{index}",
               {"mappings": {"properties": {"id": {"type": "long"}, "price": {"type": "float"}}}})
    poison = {
        "p-json": b'{"id": "p-json", "price": ',
        "p-utf8": b"\xff\xfe\xfd not utf-8",
        "p-utf8-in-string": b'{"id": 1, "note": "\xff\xfe"}',
        "p-array": b"[1, 2, 3]",
        "p-empty": b"",
        "p-mapping": b'{"id": 2, "price": "not a number"}',
    }
    producer = Producer(settings.kafka.client_config({"linger.ms": 5}))
    sent: dict[str, bytes] = {}
    for i in range(600):
        key = f"ok-{i}"
        sent[key] = json.dumps({"id": i, "key": key, "price": i / 4}).encode()
        producer.produce(topic, key=key.encode(), value=sent[key], partition=i % 2)
        if i % 100 == 50:
            name = list(poison)[i // 100]
            sent[name] = poison[name]
            producer.produce(topic, key=name.encode(), value=poison[name], partition=i % 2)
    assert producer.flush(30) == 0
    config = DeliveryConfig.from_mapping({
        "name": f"poison-es-{tag}", "topic": topic, "group": f"poison-es-{tag}",
        "elasticsearch": {"index": index, "document_id": "offset",
                          "buffering": {"max_records": 200, "interval_ms": 60_000},
                          "retry": {"duration_seconds": 0},
                          "s3_backup": {"bucket": bucket, "prefix": "es-failed/"}},
    })
    try:
        started = time.monotonic()
        preflight(config, settings)
        result = build_worker(config, settings).run(until_idle_ms=3_000)
        seconds = time.monotonic() - started
        assert result.records == len(sent)

        es_request(settings, "POST", f"/{index}/_refresh")
        hits = es_request(settings, "POST", f"/{index}/_search",
                          {"size": 10_000, "query": {"match_all": {}}})["hits"]["hits"]
        indexed = [h["_source"].get("key") for h in hits]
        backup = read_objects(settings, bucket, "es-failed/")
        failures = [json.loads(line) for key, body in backup.items()
                    for line in (gzip.decompress(body) if key.endswith(".gz") else body)
                    .splitlines()]
        by_bytes = {v: k for k, v in poison.items()}
        failed = [by_bytes.get(base64.b64decode(f["rawData"]), "?") for f in failures]
        print(f"poison to ES: indexed {len(indexed)}, backed up {sorted(failed)}, "
              f"codes {sorted(f['errorCode'] for f in failures)}")
        assert sorted(indexed + failed) == sorted(sent), "ids in index ∪ backup != ids sent"
        assert len(set(indexed)) == len(indexed)
        for f in failures:
            assert f["errorCode"] and f["errorMessage"]
        report(8, destination="elasticsearch", records=len(sent), poison=len(poison),
               indexed=len(indexed), backed_up=len(failed), seconds=round(seconds, 1),
               codes=sorted(f["errorCode"] for f in failures))
    finally:
        es_request(settings, "DELETE", f"/{index}")
