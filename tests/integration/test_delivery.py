"""End to end on the real stack: Kafka topic → S3 (MinIO) and Elasticsearch/OpenSearch,
exactly once (the search test runs against both engines, see ``search_settings``).

The expectation is computed independently: the records this test produced, read back with
botocore's S3 client and Elasticsearch's HTTP API (not with ``connectors``).
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections import Counter
from typing import Any

import pytest
from confluent_kafka import Producer

from connectors import DeliveryConfig, build_worker, preflight
from ground.kafka import ensure_topics
from ground.settings import Settings
from tests.integration.fixtures_sinks import es_request, read_objects
from tests.integration.offsets import committed_and_end
from tests.timestamps import recent_ms

pytestmark = pytest.mark.integration

PARTITIONS = 3
N = 900
BAD_VALUE = b"not json \xff{"


def _produce(settings: Settings, topic: str) -> list[tuple[bytes, bytes, int]]:
    producer = Producer(settings.kafka.client_config({"linger.ms": 5}))
    sent: list[tuple[bytes, bytes, int]] = []
    start = recent_ms()
    for i in range(N):
        key = f"TICK{i % 7}|{start + i}".encode()
        value = json.dumps({"ticker": f"TICK{i % 7}", "i": i, "price": i / 4}).encode()
        producer.produce(topic, key=key, value=value, partition=i % PARTITIONS)
        sent.append((key, value, i % PARTITIONS))
    producer.produce(topic, key=b"BAD|0", value=BAD_VALUE, partition=1)
    sent.append((b"BAD|0", BAD_VALUE, 1))
    assert producer.flush(30) == 0
    return sent


def _objects(settings: Settings, bucket: str, prefix: str) -> dict[str, list[bytes]]:
    return {key: (gzip.decompress(body) if key.endswith(".gz") else body).splitlines()
            for key, body in read_objects(settings, bucket, prefix).items()}


def _committed_equals_end(settings: Settings, group: str, topic: str) -> None:
    committed, end = committed_and_end(settings, group, topic, PARTITIONS)
    assert committed == end


def _run(config: DeliveryConfig, settings: Settings) -> Any:
    preflight(config, settings)
    return build_worker(config, settings).run(until_idle_ms=3_000)


def test_s3_delivers_every_record_exactly_once(stack_settings: Settings, bucket_factory) -> None:
    settings = stack_settings
    topic = f"delivery-{uuid.uuid4().hex[:10]}"
    ensure_topics(settings.kafka, [topic], PARTITIONS)
    sent = _produce(settings, topic)
    bucket = bucket_factory("delivery")

    s3_config = DeliveryConfig.from_mapping({
        "name": "it-s3", "topic": topic, "group": f"{topic}-s3",
        "s3": {"bucket": bucket, "prefix": "out/",
               "buffering": {"max_records": 100, "interval_ms": 60_000}},
    })
    assert _run(s3_config, settings).records == N + 1

    # S3: every produced value exactly once (S3 passes values through, the bad one too).
    objects = _objects(settings, bucket, "out/")
    assert Counter(line for lines in objects.values() for line in lines) == Counter(
        v for _k, v, _p in sent)
    assert all(key.startswith("out/") and "/it-s3-" + topic + "+" in key for key in objects)
    first_objects = {k: v for k, v in objects.items()}
    _committed_equals_end(settings, f"{topic}-s3", topic)

    # A second run delivers nothing new.
    assert _run(s3_config, settings).records == 0
    assert _objects(settings, bucket, "out/") == first_objects

    # A replay from scratch (new group, same rotation rule) rewrites the same keys: no duplicates.
    replay = DeliveryConfig.from_mapping({
        "name": "it-s3", "topic": topic, "group": f"{topic}-s3-replay",
        "s3": {"bucket": bucket, "prefix": "out/",
               "buffering": {"max_records": 100, "interval_ms": 60_000}},
    })
    assert _run(replay, settings).records == N + 1
    assert _objects(settings, bucket, "out/") == first_objects


def test_search_delivers_every_record_exactly_once(
    search_settings: Settings, bucket_factory, index_factory
) -> None:
    """Run once against Elasticsearch 8 and once against OpenSearch 2."""
    settings = search_settings
    topic = f"delivery-{uuid.uuid4().hex[:10]}"
    ensure_topics(settings.kafka, [topic], PARTITIONS)
    sent = _produce(settings, topic)
    bucket, index = bucket_factory("delivery"), index_factory("delivery")
    es_config = DeliveryConfig.from_mapping({
        "name": "it-es", "topic": topic, "group": f"{topic}-es",
        "elasticsearch": {"index": index, "document_id": "offset",
                          "buffering": {"max_records": 250, "interval_ms": 60_000},
                          "s3_backup": {"bucket": bucket, "prefix": "es-failed/"}},
    })
    assert _run(es_config, settings).records == N + 1

    # Every JSON record exactly once, with its offset id.
    es_request(settings, "POST", f"/{index}/_refresh")
    assert es_request(settings, "GET", f"/{index}/_count")["count"] == N
    hits = es_request(settings, "POST", f"/{index}/_search",
                      {"size": 10_000, "query": {"match_all": {}}})["hits"]["hits"]
    assert Counter(json.dumps(h["_source"], sort_keys=True) for h in hits) == Counter(
        json.dumps(json.loads(v), sort_keys=True) for _k, v, _p in sent if v != BAD_VALUE)
    assert all(h["_id"].startswith(topic + "+") for h in hits)

    # The non-JSON record is in the failure backup, raw bytes intact.
    backup = _objects(settings, bucket, "es-failed/AmazonOpenSearchService-failed/")
    failures = [json.loads(line) for lines in backup.values() for line in lines]
    assert len(failures) == 1
    assert base64.b64decode(failures[0]["rawData"]) == BAD_VALUE
    assert failures[0]["errorCode"] == "invalid_json"
    assert failures[0]["esIndexName"] == index and failures[0]["esDocumentId"].startswith(topic)
    assert {"attemptsMade", "arrivalTimestamp", "errorMessage"} <= set(failures[0])
    _committed_equals_end(settings, f"{topic}-es", topic)

    # A second run delivers nothing new.
    assert _run(es_config, settings).records == 0
    es_request(settings, "POST", f"/{index}/_refresh")
    assert es_request(settings, "GET", f"/{index}/_count")["count"] == N


def test_unreachable_destination_is_a_clear_error(stack_settings: Settings) -> None:
    from dataclasses import replace

    from ground.errors import DeliveryError

    topic = f"delivery-{uuid.uuid4().hex[:10]}"
    ensure_topics(stack_settings.kafka, [topic], 1)
    broken = replace(stack_settings, search_url="http://127.0.0.1:9")
    config = DeliveryConfig.from_mapping(
        {"name": "it", "topic": topic, "elasticsearch": {"index": "x"}})
    with pytest.raises(DeliveryError, match="cannot reach http://127.0.0.1:9"):
        preflight(config, broken)
