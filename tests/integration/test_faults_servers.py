"""Fault suite, scenarios 4 and 5: a server of the stack goes away mid-stream and comes back.

Both run on private servers (:mod:`tests.integration.fixtures_private`), never the shared
stack:

- **5. MinIO stopped** for more than twice the buffer interval while records keep arriving,
  then restarted. Delivery pauses (its memory cap holds: what it consumed minus what it
  delivered stays bounded), nothing is committed that MinIO does not hold, and afterwards
  every id is in MinIO exactly once.
- **4. The Kafka broker killed with SIGKILL** and restarted mid-stream, while a producer, a
  SQL application and two deliveries (MinIO and Elasticsearch) all run on it. None of them is
  restarted: they must recover by themselves. Then MinIO and the index hold every id once,
  and the SQL results equal the DuckDB recomputation, each window once.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Producer

from ground.kafka import ensure_topics
from ground.kafka_config import KafkaConfig
from ground.settings import Settings
from tests.integration.fault_report import report
from tests.integration.fixtures_private import PrivateServer
from tests.integration.fixtures_sinks import s3_client
from tests.integration.offsets import committed_and_end
from tests.integration.pace import Pace
from tests.integration.workers import Worker

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(420)]

PARTITIONS = 3


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BackgroundProducer(threading.Thread):
    """Sends ``count`` JSON records ``{"id": i, …}`` at about ``per_second``, partition
    ``i % partitions``, with an idempotent producer whose delivery timeout outlasts a broker
    restart. ``acked`` holds the ids Kafka confirmed; ``failed`` the ones it did not."""

    def __init__(self, kafka: KafkaConfig, topic: str, count: int, per_second: float | Pace,
                 value: Callable[[int], bytes], partitions: int = PARTITIONS) -> None:
        super().__init__(daemon=True)
        self.producer = Producer(kafka.client_config({
            "enable.idempotence": True, "linger.ms": 20,
            "delivery.timeout.ms": 180_000, "message.timeout.ms": 180_000,
        }))  # fmt: skip
        self.topic, self.count = topic, count
        self.pace = per_second if isinstance(per_second, Pace) else Pace(per_second)
        self.value, self.partitions = value, partitions
        self.acked: list[int] = []
        self.failed: list[tuple[int, str]] = []
        self.sent = 0

    def _done(self, err: Any, msg: Any) -> None:
        i = int(json.loads(msg.value())["id"])
        if err is None:
            self.acked.append(i)
        else:
            self.failed.append((i, str(err)))

    def run(self) -> None:
        for i in range(self.count):
            while True:
                try:
                    self.producer.produce(self.topic, self.value(i), partition=i % self.partitions,
                                          on_delivery=self._done)
                    break
                except BufferError:
                    self.producer.poll(0.1)
            self.sent = i + 1
            ahead = self.pace.delay(i + 1)
            if ahead > 0:
                self.producer.poll(ahead)
            else:
                self.producer.poll(0)
        self.producer.flush(200)

    def finish(self, timeout_s: float = 240) -> None:
        self.join(timeout_s)
        assert not self.is_alive(), f"the producer did not finish ({self.sent}/{self.count})"
        assert not self.failed, f"{len(self.failed)} records not acked: {self.failed[:3]}"
        assert sorted(self.acked) == list(range(self.count))


def metric_sum(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(float(m.group(1)) for m in
               re.finditer(rf"^{name}(?:_total)?{{[^}}]*}} (\S+)$", text, re.M))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def ids_in_objects(objects: dict[str, bytes]) -> Counter[int]:
    ids: Counter[int] = Counter()
    for key, body in objects.items():
        data = gzip.decompress(body) if key.endswith(".gz") else body
        for line in data.splitlines():
            if line.strip():
                ids[int(json.loads(line)["id"])] += 1
    return ids


def read_private_objects(settings: Settings, bucket: str, prefix: str) -> dict[str, dict]:
    """key → {"body", "meta", "modified"} of every object under ``prefix``."""
    client = s3_client(settings)
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            got = client.get_object(Bucket=bucket, Key=obj["Key"])
            out[obj["Key"]] = {"body": got["Body"].read(), "meta": got["Metadata"],
                               "modified": obj["LastModified"].timestamp()}
    client.close()
    return out


def uploads_left(settings: Settings, bucket: str) -> list[Any]:
    client = s3_client(settings)
    try:
        return list(client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
    finally:
        client.close()


def wait_until(what: str, check: Callable[[], bool], worker: Worker | None,
               timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if worker is not None:
            assert worker.alive(), f"worker died before {what}:\n{worker.tail()}"
        assert time.monotonic() < deadline, f"no {what} after {timeout_s}s" + (
            f":\n{worker.tail()}" if worker else "")
        time.sleep(0.25)


def settings_env(settings: Settings) -> dict[str, str]:
    """The SHARDLINE_* endpoints a worker subprocess needs to use ``settings``' servers."""
    return {
        "SHARDLINE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SHARDLINE_S3_ENDPOINT": settings.s3_endpoint,
        "SHARDLINE_SEARCH_URL": settings.search_url,
    }


# -- 5. MinIO stopped for more than twice the buffer interval --------------------------------
INTERVAL_MS = 2_000
OUTAGE_S = 3 * INTERVAL_MS / 1000 + 4  # > 2 × the buffer interval
CAP_MB = 4
RECORD_BYTES = 1_000


def _value(i: int) -> bytes:
    return json.dumps({"id": i, "pad": "x" * (RECORD_BYTES - 30)}).encode()


def test_minio_stopped_then_restarted_delivers_everything_once(
    stack_settings: Settings, private_minio: PrivateServer, workers: list[Worker],
    tmp_path: Path,
) -> None:
    settings = private_minio.settings  # shared Kafka, private MinIO
    topic = f"it-minio-out-{uuid.uuid4().hex[:8]}"
    group = f"{topic}-s3"
    ensure_topics(settings.kafka, [topic], PARTITIONS)
    bucket = f"it-outage-{uuid.uuid4().hex[:8]}"
    client = s3_client(settings)
    client.create_bucket(Bucket=bucket)
    client.close()
    config = tmp_path / "deliver.yaml"
    config.write_text(yaml.safe_dump({
        "name": "it-minio-outage", "topic": topic, "group": group, "max_buffered_mb": CAP_MB,
        "s3": {"bucket": bucket, "prefix": "out/", "compression": "GZIP",
               "buffering": {"size_mb": 1, "interval_ms": INTERVAL_MS}},
    }))  # fmt: skip
    port = free_port()
    worker = Worker(settings.home, tmp_path / "deliver.log", "shardline", "-v", "deliver",
                    str(config), "-q", "--metrics-port", str(port), env=settings_env(settings))
    workers.append(worker)
    total = 40_000
    # the last quarter trickles until MinIO is back: the input outlasts the outage
    pace = Pace(2_000, hold_at=30_000, trickle=200)
    producer = BackgroundProducer(settings.kafka, topic, total, pace, _value)
    producer.start()
    # MinIO holds objects, and the worker is steady, before the outage
    def delivered_objects() -> float:
        try:
            return metric_sum(port, "firehose_delivery_objects")
        except OSError:  # the endpoint is not up yet
            return 0

    wait_until("a first object", lambda: delivered_objects() > 0, worker, 60)
    time.sleep(1)
    committed_before, _ = committed_and_end(settings, group, topic, PARTITIONS)
    rss_before = rss_mb(worker.proc.pid)

    private_minio.kill9()
    down_at = time.time()
    committed_during: list[dict[int, int]] = []
    held, peak_rss = [], rss_before
    while time.time() - down_at < OUTAGE_S:
        assert worker.alive(), worker.tail()
        held.append(metric_sum(port, "firehose_incoming_bytes")
                    - metric_sum(port, "firehose_delivery_bytes"))
        peak_rss = max(peak_rss, rss_mb(worker.proc.pid))
        committed_during.append(committed_and_end(settings, group, topic, PARTITIONS)[0])
        time.sleep(0.5)
    assert producer.is_alive(), "the input was complete before MinIO came back"
    restart_s = private_minio.start()
    pace.release()
    up_at = time.time()

    producer.finish()
    _, end = committed_and_end(settings, group, topic, PARTITIONS)
    wait_until("every offset committed",
               lambda: committed_and_end(settings, group, topic, PARTITIONS)[0] == end,
               worker, 120)
    assert worker.stop() == 0, worker.tail()

    objects = read_private_objects(settings, bucket, "out/")
    ids = ids_in_objects({k: o["body"] for k, o in objects.items()})
    assert set(ids) == set(range(total)), f"missing: {sorted(set(range(total)) - set(ids))[:5]}"
    dups = {i: n for i, n in ids.items() if n > 1}
    assert not dups, f"{len(dups)} ids twice: {list(dups)[:5]}"
    assert not uploads_left(settings, bucket)
    # nothing was committed early: every offset committed while MinIO was down is covered
    # by objects written before it went down (MinIO was not there to write any other)
    covered = {p: 0 for p in range(PARTITIONS)}  # next offset after the contiguous cover
    for key, o in sorted(objects.items(), key=lambda ko: int(ko[1]["meta"]["batch-start"])):
        p = int(key.rsplit("+", 2)[1])
        if o["modified"] < up_at - 1 and int(o["meta"]["batch-start"]) <= covered[p]:
            covered[p] = max(covered[p], int(o["meta"]["batch-end"]) + 1)
    early = [(p, c[p], covered[p]) for c in committed_during for p in range(PARTITIONS)
             if c[p] > max(covered[p], committed_before[p])]
    assert not early, f"committed beyond what MinIO held (partition, committed, covered): {early}"
    assert "paused" in worker.log.read_text(), "the memory cap never paused the consumer"
    peak_held_mb = max(held) / 2**20
    report(5, records=total, outage_s=round(up_at - down_at, 1), restart_s=round(restart_s, 1),
           duplicates=0, lost=0, peak_held_mb=round(peak_held_mb, 1), cap_mb=CAP_MB,
           rss_before_mb=round(rss_before), peak_rss_mb=round(peak_rss))
    # the cap holds: consumed-but-undelivered bytes stay near it (plus one fetch in flight)
    assert peak_held_mb <= 2 * CAP_MB + 2, f"held {peak_held_mb:.1f} MB with a {CAP_MB} MB cap"


# -- 4. the Kafka broker killed with SIGKILL and restarted mid-stream ------------------------
BROKER_DOWN_S = 12


def test_broker_killed_and_restarted_everyone_recovers(
    stack_settings: Settings, private_kafka: PrivateServer, workers: list[Worker],
    tmp_path: Path,
) -> None:
    from tests.integration.fixtures_kafka import _factory
    from tests.integration.fixtures_sinks import es_request, read_objects
    from tests.integration.test_sql_apps import (
        Dataset,
        deploy,
        finish_event_time_app,
        join_producer,
        produce_in_background,
        start_ms,
        ticker_records,
    )
    from tests.integration.workers import read_all, wait_for

    pk = private_kafka.settings  # private Kafka; the stack's MinIO and search engine
    env = settings_env(pk)
    topics = _factory(pk.kafka, "broker-kill")
    make_topic = next(topics)
    partitions = 4
    data = Dataset(make_topic(partitions, prefix="it-bk-ticker"), partitions, 6_000)
    app = deploy("tumbling_event_time", tmp_path, make_topic, data,
                 runtime={"CommitIntervalMs": 200, "BatchMaxRecords": 200})
    app.env = env

    run = uuid.uuid4().hex[:8]
    bucket, index = f"it-bk-{run}", f"it-bk-{run}"
    s3 = s3_client(pk)
    s3.create_bucket(Bucket=bucket)
    config = tmp_path / "deliver.yaml"
    config.write_text(yaml.safe_dump({"deliveries": [
        {"name": "bk-s3", "topic": data.topic, "group": f"{data.topic}-s3",
         "s3": {"bucket": bucket, "prefix": "in/", "compression": "GZIP",
                "buffering": {"size_mb": 1, "interval_ms": 1_000}}},
        {"name": "bk-es", "topic": data.topic, "group": f"{data.topic}-es",
         "elasticsearch": {"index": index, "document_id": "offset",
                           "buffering": {"max_records": 500, "interval_ms": 500}}},
    ]}))  # fmt: skip
    pace = Pace(250, hold_at=4_000)  # the last third trickles until the broker is back
    try:
        producer = produce_in_background(
            pk.kafka, data.topic,
            ticker_records(data.records, seed=41, start_ms=start_ms()), partitions,
            per_second=pace,
        )  # fmt: skip
        pipeline = app.worker("w1", tmp_path / "pipeline.log", workers)
        delivery = Worker(pk.home, tmp_path / "deliver.log", "shardline", "-v", "deliver",
                          str(config), "-q", env=env)
        workers.append(delivery)
        committed = lambda g: sum(  # noqa: E731
            max(c, 0) for c in committed_and_end(pk, g, data.topic, partitions)[0].values())
        wait_until("the pipeline and the deliveries under way",
                   lambda: committed(app.name) > 500 and committed(f"{data.topic}-s3") > 300
                   and committed(f"{data.topic}-es") > 300, pipeline, 90)
        assert delivery.alive(), delivery.tail()

        private_kafka.kill9()
        down_at = time.monotonic()
        time.sleep(BROKER_DOWN_S)
        assert producer.is_alive(), "the input was complete before the broker came back"
        restart_s = private_kafka.start()
        pace.release()
        down_s = time.monotonic() - down_at
        for w in (pipeline, delivery):
            assert w.alive(), f"a worker gave up while the broker was down:\n{w.tail()}"

        # the deliveries: every record of the input once in MinIO and once in the index
        join_producer(producer, 120)
        inputs = read_all(pk.kafka, data.topic, committed_only=False)
        assert len(inputs) == data.records, "the producer lost or repeated records"
        _, end = committed_and_end(pk, f"{data.topic}-s3", data.topic, partitions)
        for group in (f"{data.topic}-s3", f"{data.topic}-es"):
            wait_until(f"{group} committed to the end",
                       lambda g=group: committed_and_end(pk, g, data.topic, partitions)[0] == end,
                       delivery, 120)
        assert delivery.stop() == 0, delivery.tail()

        want = Counter(r.value for r in inputs)
        got: Counter[bytes] = Counter()
        for body in read_objects(pk, bucket, "in/").values():
            got.update(line for line in gzip.decompress(body).splitlines() if line)
        assert got == want, (f"MinIO: {sum((got - want).values())} extra, "
                             f"{sum((want - got).values())} missing")
        es_request(pk, "POST", f"/{index}/_refresh")
        count = es_request(pk, "GET", f"/{index}/_count")["count"]
        assert count == len(inputs), f"{count} documents for {len(inputs)} records"

        # the pipeline: every window once, equal to DuckDB over the input as it is in Kafka.
        # librdkafka's send_offsets_to_transaction can hang after the restart (#5456/#5511):
        # the worker stops its loop and ``shardline run`` starts its process again, which
        # replays from the last commit (``deadline``, ``StuckClientError``).
        wait_for(pk, app.name, data.topic, partitions, data.records, 150, [pipeline])
        finish_event_time_app(pk, app, producer, [pipeline])
        report(4, records=len(inputs), broker_down_s=round(down_s, 1),
               broker_restart_s=round(restart_s, 1), duplicates=0, lost=0,
               pipeline_aborts=pipeline.log.read_text().count("aborting transaction"),
               producer_replaced=pipeline.log.read_text().count("replacing the transactional"),
               stuck_calls=pipeline.log.read_text().count("did not return within"),
               delivery_commit_retries=delivery.log.read_text().count("could not commit"))
    finally:
        es_request(pk, "DELETE", f"/{index}")
        s3.close()
        next(topics, None)  # delete the private topics
