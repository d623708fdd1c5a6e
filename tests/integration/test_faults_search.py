"""Fault scenarios 6, 7, 9 and 10 (issue 5): Elasticsearch throttled and down, a processing
hook that fails, and a producer that sends records twice.

Every record carries a unique integer ``id``. After each scenario the ids read back —
Elasticsearch documents (all hits of a search, by ``_source.id``), S3 objects and the error
outputs (Firehose's failed-document and processing-failed envelopes, ``rawData`` decoded and
compared with the bytes sent), all read with botocore and plain HTTP, not with ``connectors``
— are compared with the ids sent: exactly, with no duplicates in Elasticsearch or S3 unless
the scenario is about them.

Elasticsearch sits behind :class:`~tests.integration.fault_proxy.FaultProxy`, which faults
only ``_bulk`` requests (start-up's health check goes through). Each test prints one
``FAULTS`` line with what it measured (faulted requests, outage, duplicates, duration) for
docs/faults.md; ``pytest -s`` shows them.

- Scenario 6 (``test_search_throttled_then_recovers``) keeps the fault for
  ``THROTTLE_S`` = 60 s, as the issue says, so it runs on the stack's engine only (~90 s).
- Scenarios 7 and 10 run against Elasticsearch and OpenSearch (``search_settings``).
- Scenario 9 delivers to MinIO (the hook is the fault, not the destination).
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Producer

from connectors import DeliveryConfig, build_worker, preflight
from ground.settings import Settings
from tests.integration.fault_hooks import CALLS_ENV, HANG_REMAINDER, RAISE_REMAINDER, verdict
from tests.integration.fault_proxy import FaultProxy, Mode
from tests.integration.fault_report import report
from tests.integration.fixtures_sinks import es_request, read_objects
from tests.integration.offsets import committed_and_end
from tests.integration.workers import Worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.faults]

PARTITIONS = 2
BULK_ONLY = r"/_bulk$"
ES_FAILED = "es-failed/AmazonOpenSearchService-failed/"

THROTTLE_S = 60  # scenario 6: the 60 s of 429/503
REJECT_ITEMS_S = 10  # scenario 6: then per-item 429s on every other document
OUTAGE_S = 25  # scenario 7: ES down this long …
SHORT_RETRY_S = 10  # … with RetryOptions.DurationInSeconds this short
RECOVERY_TIMEOUT_S = 120  # from the end of a fault until everything is committed


def value_of(i: int, pad: int = 40) -> bytes:
    return json.dumps({"id": i, "page": f"/p/{i % 17}", "pad": "x" * pad}).encode()


def produce(settings: Settings, topic: str, values: Iterable[tuple[int, bytes]]) -> int:
    """Each (id, value) to partition ``id % PARTITIONS``; returns how many Kafka acked."""
    acked = 0

    def ack(err: object, _msg: object) -> None:
        nonlocal acked
        assert err is None, err
        acked += 1

    producer = Producer(settings.kafka.client_config({"linger.ms": 5,
                         "enable.idempotence": True}))
    for i, value in values:
        producer.produce(topic, value=value, partition=i % PARTITIONS, on_delivery=ack)
    assert producer.flush(30) == 0
    return acked


def es_ids(settings: Settings, index: str) -> Counter[int]:
    """How many documents each id has in ``index`` (every hit of one search)."""
    refreshed = es_request(settings, "POST", f"/{index}/_refresh")
    if refreshed.get("status") == 404:
        return Counter()
    answer = es_request(settings, "POST", f"/{index}/_search",
                        {"size": 10_000, "track_total_hits": True, "_source": ["id"],
                         "query": {"match_all": {}}})
    hits = answer["hits"]["hits"]
    assert answer["hits"]["total"]["value"] == len(hits) < 10_000
    return Counter(h["_source"]["id"] for h in hits)


def envelopes(settings: Settings, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """The error envelopes (one JSON object per line, gzip) under ``prefix``."""
    return [json.loads(line) for body in read_objects(settings, bucket, prefix).values()
            for line in gzip.decompress(body).splitlines()]


def backed_up(settings: Settings, bucket: str, sent: dict[int, bytes]) -> Counter[int]:
    """Ids in the failed-document backup; each envelope's rawData is the bytes sent."""
    out: Counter[int] = Counter()
    for doc in envelopes(settings, bucket, ES_FAILED):
        raw = base64.b64decode(doc["rawData"])
        i = json.loads(raw)["id"]
        assert raw == sent[i], (i, raw[:80])
        out[i] += 1
    return out


def es_config_file(tmp_path: Path, topic: str, index: str, bucket: str,
                   retry: dict[str, int]) -> Path:
    path = tmp_path / "delivery.yaml"
    path.write_text(yaml.safe_dump({
        "name": "faults-es", "topic": topic, "group": f"{topic}-es",
        "elasticsearch": {
            "index": index, "document_id": "offset",
            "buffering": {"max_records": 250, "interval_ms": 1_000},
            "retry": {**retry, "initial_backoff_ms": 200, "max_backoff_ms": 2_000},
            "s3_backup": {"bucket": bucket, "prefix": "es-failed/"},
        },
    }))
    return path


def wait_until(condition: Any, timeout_s: float, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert worker.alive(), f"worker died:\n{worker.tail()}"
        assert time.monotonic() < deadline, f"{what} after {timeout_s}s:\n{worker.tail()}"
        time.sleep(0.2)


@pytest.fixture
def es_proxy(search_settings: Settings) -> Iterator[FaultProxy]:
    with FaultProxy(search_settings.search_url, fault_paths=BULK_ONLY) as proxy:
        yield proxy


# -- scenario 6 ---------------------------------------------------------------------------


def test_search_throttled_then_recovers(
    stack_settings: Settings, topic_factory: Any, bucket_factory: Any, tmp_path: Path,
    workers: list[Worker],
) -> None:
    """429 and 503 in turn for THROTTLE_S, then per-item 429s for REJECT_ITEMS_S, with a retry
    duration well above both: everything is retried, every id is indexed once, nothing is
    backed up, and the offsets are committed to the end."""
    settings = stack_settings
    started = time.monotonic()
    topic = topic_factory(PARTITIONS, prefix="throttle")
    bucket = bucket_factory("throttle")
    index = f"faults-throttle-{topic.rsplit('-', 1)[1]}"
    sent = {i: value_of(i) for i in range(3_000)}
    waves = [range(0, 1_500), range(1_500, 2_500), range(2_500, 3_000)]
    config = es_config_file(tmp_path, topic, index, bucket, {"duration_seconds": 600})
    try:
        with FaultProxy(settings.search_url, fault_paths=BULK_ONLY) as proxy:
            proxy.set_mode(Mode.ALTERNATE)
            assert produce(settings, topic, ((i, sent[i]) for i in waves[0])) == len(waves[0])
            worker = Worker(tmp_path, tmp_path / "deliver.log", "shardline", "-v", "deliver",
                            str(config), env={"SHARDLINE_SEARCH_URL": proxy.url})
            workers.append(worker)
            fault_started = time.monotonic()
            wait_until(lambda: proxy.faulted > 0, 60, "no _bulk request reached the proxy",
                       worker)
            # more records arrive during the throttling
            assert produce(settings, topic, ((i, sent[i]) for i in waves[1])) == len(waves[1])
            while time.monotonic() < fault_started + THROTTLE_S:
                assert worker.alive(), worker.tail()
                time.sleep(0.5)
            throttled = proxy.faulted
            assert es_ids(settings, index) == Counter()  # nothing got through
            proxy.set_mode(Mode.REJECT_ITEMS)
            assert produce(settings, topic, ((i, sent[i]) for i in waves[2])) == len(waves[2])
            time.sleep(REJECT_ITEMS_S)
            rejected_items = proxy.faulted - throttled
            proxy.set_mode(Mode.PASS)
            recovered = time.monotonic()
            wait_for(settings, f"{topic}-es", topic, PARTITIONS, len(sent), RECOVERY_TIMEOUT_S,
                     alive=[worker])
            caught_up_s = time.monotonic() - recovered
            assert worker.stop(timeout_s=60) == 0, worker.tail()

        log = worker.tail(200_000)
        assert "retrying" in log and "HTTP 429" in log and "HTTP 503" in log
        assert "item status 429" in log  # per-item rejections were retried item by item
        assert throttled > 0 and rejected_items > 0
        got = es_ids(settings, index)
        assert got == Counter(list(sent)), (
            f"missing {sorted(set(sent) - set(got))[:10]}, "
            f"twice {[i for i, n in got.items() if n > 1][:10]}")
        assert read_objects(settings, bucket, "es-failed/") == {}
        committed, end = committed_and_end(settings, f"{topic}-es", topic, PARTITIONS)
        assert committed == end and sum(end.values()) == len(sent)
        report(6, engine=settings.search_engine, records=len(sent),
               throttled_s=THROTTLE_S, faulted_requests=throttled,
               rejected_items_s=REJECT_ITEMS_S, rejected_items=rejected_items,
               caught_up_s=caught_up_s, duplicates=0, lost=0,
               test_s=time.monotonic() - started)
    finally:
        es_request(settings, "DELETE", f"/{index}?ignore_unavailable=true")


# -- scenario 7 ---------------------------------------------------------------------------


def test_search_down_beyond_retry_duration(
    search_settings: Settings, es_proxy: FaultProxy, topic_factory: Any, bucket_factory: Any,
    index_factory: Any, tmp_path: Path, workers: list[Worker],
) -> None:
    """ES refuses every bulk request for OUTAGE_S, longer than the retry duration: what
    cannot be written in time is in the failed-document backup, the rest in ES, each id in
    exactly one of them; what is produced after the recovery is in ES."""
    settings = search_settings
    started = time.monotonic()
    topic = topic_factory(PARTITIONS, prefix="esdown")
    bucket, index = bucket_factory("esdown"), index_factory("esdown")
    sent = {i: value_of(i) for i in range(1_500)}
    before, during, after = range(0, 600), range(600, 1_000), range(1_000, 1_500)
    config = es_config_file(tmp_path, topic, index, bucket,
                            {"duration_seconds": SHORT_RETRY_S})
    es_proxy.set_mode(Mode.REFUSE)
    assert produce(settings, topic, ((i, sent[i]) for i in before)) == len(before)
    worker = Worker(tmp_path, tmp_path / "deliver.log", "shardline", "-v", "deliver", str(config),
                    env={"SHARDLINE_SEARCH_URL": es_proxy.url})
    workers.append(worker)
    wait_until(lambda: es_proxy.faulted > 0, 60, "no _bulk request reached the proxy", worker)
    down = time.monotonic()
    time.sleep(SHORT_RETRY_S / 2)
    assert produce(settings, topic, ((i, sent[i]) for i in during)) == len(during)
    # what was sent before the outage is backed up once its retries run out, during it
    wait_for(settings, f"{topic}-es", topic, PARTITIONS, len(before),
             OUTAGE_S + SHORT_RETRY_S, alive=[worker])
    time.sleep(max(0.0, down + OUTAGE_S - time.monotonic()))
    outage_s = time.monotonic() - down
    refused = es_proxy.faulted
    es_proxy.set_mode(Mode.PASS)
    recovered = time.monotonic()
    assert produce(settings, topic, ((i, sent[i]) for i in after)) == len(after)
    wait_for(settings, f"{topic}-es", topic, PARTITIONS, len(sent), RECOVERY_TIMEOUT_S,
             alive=[worker])
    caught_up_s = time.monotonic() - recovered
    assert worker.stop(timeout_s=60) == 0, worker.tail()

    in_es = es_ids(settings, index)
    in_backup = backed_up(settings, bucket, sent)
    assert max(in_es.values()) == 1, [i for i, n in in_es.items() if n > 1][:10]
    assert max(in_backup.values()) == 1, [i for i, n in in_backup.items() if n > 1][:10]
    assert not set(in_es) & set(in_backup), sorted(set(in_es) & set(in_backup))[:10]
    assert set(in_es) | set(in_backup) == set(sent), sorted(
        set(sent) - set(in_es) - set(in_backup))[:10]
    assert set(before) <= set(in_backup)  # down for longer than their retries
    assert set(after) <= set(in_es)  # produced after the recovery
    failures = envelopes(settings, bucket, ES_FAILED)
    assert {d["errorCode"] for d in failures} == {"RetriesExhausted"}
    assert all(d["attemptsMade"] > 1 and d["esIndexName"] == index for d in failures)
    committed, end = committed_and_end(settings, f"{topic}-es", topic, PARTITIONS)
    assert committed == end
    report(7, engine=settings.search_engine, records=len(sent), retry_s=SHORT_RETRY_S,
           outage_s=outage_s, refused_requests=refused, backed_up=len(in_backup),
           indexed=len(in_es), caught_up_s=caught_up_s, lost=0, duplicates=0,
           test_s=time.monotonic() - started)


# -- scenario 9 ---------------------------------------------------------------------------

HOOK_RETRIES = 2
HOOK_TIMEOUT_MS = 800
HOOK_BUFFER_MB = 0.2  # Firehose's minimum: 209,715 bytes …
HOOK_PAD = 110_000  # … so a record this large is alone in its call


def test_hook_failures_routed_to_processing_failed(
    stack_settings: Settings, topic_factory: Any, bucket_factory: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hook raises for one rule of ids and outlasts its timeout for another: those calls
    are retried HOOK_RETRIES times, then the records are in ``processing-failed`` with their
    original bytes; the others are delivered; each id exactly once in one of the two."""
    settings = stack_settings
    started = time.monotonic()
    topic = topic_factory(PARTITIONS, prefix="hook")
    bucket = bucket_factory("hook")
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv(CALLS_ENV, str(calls))
    sent = {i: value_of(i, HOOK_PAD) for i in range(40)}
    assert produce(settings, topic, sent.items()) == len(sent)
    config = DeliveryConfig.from_mapping({
        "name": "faults-hook", "topic": topic, "group": f"{topic}-s3",
        "s3": {
            "bucket": bucket, "prefix": "out/",
            "error_output_prefix": "err/!{firehose:error-output-type}/",
            # both partitions flush at once: the stage transforms them concurrently
            "buffering": {"max_records": 10, "interval_ms": 60_000},
            "retry": {"duration_seconds": 30},
            "processing": {"hook": {
                "callable": "tests.integration.fault_hooks:flaky", "retries": HOOK_RETRIES,
                "timeout_ms": HOOK_TIMEOUT_MS, "buffer_size_mb": HOOK_BUFFER_MB}},
        },
    })
    preflight(config, settings)
    summary = build_worker(config, settings).run(until_idle_ms=3_000)
    assert summary.records == len(sent)

    delivered = Counter(json.loads(line)["id"]
                        for body in read_objects(settings, bucket, "out/").values()
                        for line in gzip.decompress(body).splitlines())
    failed = envelopes(settings, bucket, "err/processing-failed/")
    failed_ids = Counter(json.loads(base64.b64decode(d["rawData"]))["id"] for d in failed)
    want_ok = {i for i in sent if verdict(i) == "ok"}
    assert delivered == Counter(want_ok)
    assert failed_ids == Counter(set(sent) - want_ok)
    codes = {"raise": "Hook.InvocationFailed", "hang": "Hook.Timeout"}
    for doc in failed:
        raw = base64.b64decode(doc["rawData"])
        i = json.loads(raw)["id"]
        assert raw == sent[i]  # the original bytes
        assert doc["errorCode"] == codes[verdict(i)], doc["errorCode"]
        assert doc["attemptsMade"] == HOOK_RETRIES + 1, doc
        assert doc["lambdaArn"] == "tests.integration.fault_hooks:flaky"
    # the call log agrees: a failing id was called retries + 1 times, the others once
    per_id = Counter(i for line in calls.read_text().splitlines() for i in json.loads(line))
    assert all(len(json.loads(line)) == 1 for line in calls.read_text().splitlines())
    assert per_id == Counter({i: 1 if i in want_ok else HOOK_RETRIES + 1 for i in sent})
    assert read_objects(settings, bucket, "err/").keys() == {
        k for k in read_objects(settings, bucket, "err/processing-failed/")}
    committed, end = committed_and_end(settings, f"{topic}-s3", topic, PARTITIONS)
    assert committed == end
    report(9, records=len(sent), delivered=len(delivered), processing_failed=len(failed),
           raised=sum(verdict(i) == "raise" for i in sent),
           timed_out=sum(verdict(i) == "hang" for i in sent), hook_calls=sum(per_id.values()),
           rule=f"id%10=={RAISE_REMAINDER} raises, id%10=={HANG_REMAINDER} hangs",
           test_s=time.monotonic() - started)


# -- scenario 10 --------------------------------------------------------------------------

RESENT_EVERY = 7  # the producer sends every 7th record a second time


def test_duplicate_sends_are_one_document(
    search_settings: Settings, topic_factory: Any, bucket_factory: Any, index_factory: Any,
) -> None:
    """The producer resends some records (same id, new offsets). With ``document_id: field``
    Elasticsearch holds each id once; S3 holds what Kafka holds: the duplicates, counted. One
    record without the id field goes to the failed-document backup, alone."""
    settings = search_settings
    started = time.monotonic()
    topic = topic_factory(PARTITIONS, prefix="dups")
    bucket, index = bucket_factory("dups"), index_factory("dups")
    sent = {i: value_of(i) for i in range(1_000)}
    resent = [i for i in sent if i % RESENT_EVERY == 0]
    no_id = json.dumps({"page": "/no-id", "pad": "y"}).encode()
    assert produce(settings, topic, sent.items()) == len(sent)
    # the "retry": the same values again, later (new offsets), then the record without an id
    assert produce(settings, topic, ((i, sent[i]) for i in resent)) == len(resent)
    assert produce(settings, topic, [(0, no_id)]) == 1
    records = len(sent) + len(resent) + 1

    es = DeliveryConfig.from_mapping({
        "name": "faults-dups-es", "topic": topic, "group": f"{topic}-es",
        "elasticsearch": {"index": index, "document_id": "field", "document_id_field": "id",
                          "buffering": {"max_records": 300, "interval_ms": 60_000},
                          "s3_backup": {"bucket": bucket, "prefix": "es-failed/"}},
    })
    s3 = DeliveryConfig.from_mapping({
        "name": "faults-dups-s3", "topic": topic, "group": f"{topic}-s3",
        "s3": {"bucket": bucket, "prefix": "out/",
               "buffering": {"max_records": 300, "interval_ms": 60_000}},
    })
    for config in (es, s3):
        preflight(config, settings)
        assert build_worker(config, settings).run(until_idle_ms=3_000).records == records
        committed, end = committed_and_end(settings, config.group_id, topic, PARTITIONS)
        assert committed == end

    in_es = es_ids(settings, index)
    assert in_es == Counter(list(sent))  # each id once, resent or not
    failures = envelopes(settings, bucket, ES_FAILED)
    assert [(base64.b64decode(d["rawData"]), d["errorCode"]) for d in failures] == [
        (no_id, "missing_document_id_field")]
    lines = [line for body in read_objects(settings, bucket, "out/").values()
             for line in gzip.decompress(body).splitlines()]
    in_s3 = Counter(json.loads(line).get("id") for line in lines)
    duplicates = sum(n - 1 for i, n in in_s3.items() if i is not None)
    assert in_s3 == Counter(list(sent)) + Counter(resent) + Counter([None])
    assert duplicates == len(resent)  # at-least-once for application-level duplicates
    report(10, engine=settings.search_engine, records=records, resent=len(resent),
           es_documents=sum(in_es.values()), es_duplicates=0, s3_duplicates=duplicates,
           test_s=time.monotonic() - started)
