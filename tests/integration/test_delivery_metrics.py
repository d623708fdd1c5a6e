"""A real delivery (Kafka → MinIO) scraped over HTTP: /metrics agrees with what S3 holds."""

from __future__ import annotations

import urllib.request

import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from connectors import DeliveryConfig, MetricsServer, PrometheusMetrics, build_worker, preflight
from ground.settings import Settings
from tests.integration.fixtures_sinks import s3_client

pytestmark = pytest.mark.integration

PARTITIONS = 2
N = 300


def test_metrics_endpoint_matches_the_delivered_objects(
    stack_settings: Settings, topic_factory, bucket_factory
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

    config = DeliveryConfig.from_mapping({
        "name": "it-metrics", "topic": topic, "group": f"{topic}-s3",
        "s3": {"bucket": bucket, "prefix": "m/",
               "buffering": {"max_records": 40, "interval_ms": 60_000}},
    })
    preflight(config, settings)
    metrics = PrometheusMetrics()
    server = MetricsServer(metrics.registry, port=0)
    port = server.start_in_thread()
    try:
        build_worker(config, settings, metrics=metrics).run(until_idle_ms=2_000)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    finally:
        server.stop_thread()

    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for f in text_string_to_metric_families(text) for s in f.samples}
    client = s3_client(settings)
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="m/") for o in page.get("Contents", [])]
    client.close()
    dest = f"s3://{bucket}"
    for p, values in sent.items():
        part = (("delivery_stream", "it-metrics"), ("partition", str(p)), ("topic", topic))
        d = tuple(sorted(part + (("destination", dest),)))
        assert got[("firehose_incoming_records_total", part)] == len(values)
        assert got[("firehose_incoming_bytes_total", part)] == sum(map(len, values))
        assert got[("firehose_delivery_records_total", d)] == len(values)
        assert got[("firehose_delivery_bytes_total", d)] == sum(map(len, values))
        assert got[("firehose_delivery_objects_total", d)] == -(-len(values) // 40)
        # nothing undelivered (the closed worker released its partitions: no series at all)
        assert got.get(("firehose_delivery_data_freshness_seconds", d), 0) == 0
        assert got[("firehose_committed_offset", part)] == len(values)
    assert sum(v for (name, _), v in got.items()
               if name == "firehose_delivery_objects_total") == len(keys)
