"""A real delivery (Kafka → MinIO) in ``shardline deliver`` scraped over HTTP: the host's
/metrics agrees with what S3 holds, /health reports the delivery, SIGTERM exits 0."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from ground.settings import Settings
from tests.integration.fixtures_sinks import s3_client
from tests.integration.workers import Worker, free_port, http_get

pytestmark = pytest.mark.integration

PARTITIONS = 2
N = 300


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_metrics_endpoint_matches_the_delivered_objects(
    stack_settings: Settings, topic_factory, bucket_factory, workers: list[Worker],
    tmp_path: Path,
) -> None:
    settings = stack_settings
    topic, bucket = topic_factory(PARTITIONS), bucket_factory("metrics")
    producer = Producer(settings.kafka.client_config({"linger.ms": 5}))
    sent: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    for i in range(N):
        value = b'{"i":%d,"pad":"%s"}' % (i, b"x" * (i % 17))
        producer.produce(topic, value=value, partition=i % PARTITIONS)
        sent[i % PARTITIONS].append(value)
    assert producer.flush(30) == 0

    port = free_port()
    worker = Worker(tmp_path, tmp_path / "deliver.log", "shardline", "deliver", "-q",
                    "--name", "it-metrics", "--topic", topic, "--group", f"{topic}-s3",
                    "--s3-bucket", bucket, "--s3-prefix", "m/", "--max-records", "40",
                    "--interval-ms", "60000", "--metrics-port", str(port))
    workers.append(worker)
    url = f"http://127.0.0.1:{port}"
    part0 = (("delivery_stream", "it-metrics-s3"), ("partition", "0"), ("topic", topic))
    deadline = time.monotonic() + 60
    while True:  # until every full batch is delivered and committed (60 s interval: the rest waits)
        assert worker.alive(), worker.tail()
        assert time.monotonic() < deadline, worker.tail()
        try:
            status, ctype, text = http_get(f"{url}/metrics")
        except OSError:
            time.sleep(0.2)
            continue
        got = samples(text)
        if got.get(("firehose_committed_offset", part0)) == N // PARTITIONS // 40 * 40:
            break
        time.sleep(0.2)
    assert status == 200 and ctype.startswith("text/plain")
    status, _, health = http_get(f"{url}/health")
    assert status == 200 and health["status"] == "ready"
    [service] = health["services"]
    assert service["name"] == "it-metrics-s3" and service["kind"] == "delivery"
    assert service["state"] == "running" and service["topic"] == topic
    assert http_get(f"{url}/health/live")[0] == 200

    client = s3_client(settings)
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="m/") for o in page.get("Contents", [])]
    client.close()
    dest = f"s3://{bucket}"
    for p, values in sent.items():
        part = (("delivery_stream", "it-metrics-s3"), ("partition", str(p)), ("topic", topic))
        d = tuple(sorted(part + (("destination", dest),)))
        full = len(values) // 40 * 40  # whole batches of --max-records; the rest is buffered
        assert got[("firehose_incoming_records_total", part)] == len(values)
        assert got[("firehose_incoming_bytes_total", part)] == sum(map(len, values))
        assert got[("firehose_delivery_records_total", d)] == full
        assert got[("firehose_delivery_bytes_total", d)] == sum(map(len, values[:full]))
        assert got[("firehose_delivery_objects_total", d)] == full // 40
        assert got[("firehose_committed_offset", part)] == full
        # the buffered rest is pending: its age is counted from its Kafka timestamps
        assert got[("firehose_delivery_data_freshness_seconds", d)] > 0
    assert got[("shardline_service_up", (("kind", "delivery"), ("service", "it-metrics-s3")))] == 1
    assert sum(v for (name, _), v in got.items()
               if name == "firehose_delivery_objects_total") == len(keys)

    # SIGTERM: the buffered rest is flushed and committed, exit 0, the server is gone
    assert worker.stop() == 0, worker.tail()
    assert "SIGTERM" in worker.tail()
    with pytest.raises(OSError):
        http_get(f"{url}/metrics", timeout_s=2)
