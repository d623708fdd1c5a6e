"""Index rotation on the real stack: records either side of an hour boundary land in two
indexes named from their Kafka timestamps, read back with the engine's HTTP API (Elasticsearch 8
and OpenSearch 2)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import Producer

from connectors import DeliveryConfig, build_worker, preflight
from ground.kafka import ensure_topics
from ground.settings import Settings
from tests.integration.fixtures_sinks import es_request
from tests.timestamps import HOUR_MS, recent_ms

pytestmark = pytest.mark.integration

AFTER = recent_ms(HOUR_MS)  # the last hour boundary before the session started, hh:00:00
BEFORE = AFTER - 1_000  # a second earlier, in the hour before: (hh-1):59:59


def _hour_suffix(ms: int) -> str:
    """OneHour rotation's suffix of an index name: the UTC hour, ``-YYYY-MM-DD-HH``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("-%Y-%m-%d-%H")


def test_documents_across_an_hour_boundary_go_to_two_indexes(
    search_settings: Settings, index_factory
) -> None:
    settings = search_settings
    topic = f"rotation-{uuid.uuid4().hex[:10]}"
    ensure_topics(settings.kafka, [topic], 1)
    base = index_factory("rotation")
    indexes = {BEFORE: base + _hour_suffix(BEFORE), AFTER: base + _hour_suffix(AFTER)}
    assert len(set(indexes.values())) == 2, indexes
    producer = Producer(settings.kafka.client_config())
    sent = [(i, BEFORE if i < 30 else AFTER) for i in range(50)]
    for i, ts in sent:
        producer.produce(topic, value=json.dumps({"i": i}).encode(), partition=0, timestamp=ts)
    assert producer.flush(30) == 0

    config = DeliveryConfig.from_mapping({
        "name": "it-rotation", "topic": topic, "group": f"{topic}-es",
        "elasticsearch": {"IndexName": base, "IndexRotationPeriod": "OneHour",
                          "buffering": {"max_records": 500, "interval_ms": 60_000}},
    })
    try:
        preflight(config, settings)
        summary = build_worker(config, settings).run(until_idle_ms=3_000)
        assert summary.records == 50
        for ts, index in indexes.items():
            es_request(settings, "POST", f"/{index}/_refresh")
            hits = es_request(settings, "POST", f"/{index}/_search",
                              {"size": 100, "query": {"match_all": {}}})["hits"]["hits"]
            assert sorted(h["_source"]["i"] for h in hits) == [i for i, t in sent if t == ts]
            assert all(h["_id"] == f"{topic}+0+{h['_source']['i']}" for h in hits)
        exists = es_request(settings, "GET", f"/{base}/_count")
        assert "error" in exists  # nothing went to the unrotated name
    finally:
        for index in indexes.values():
            es_request(settings, "DELETE", f"/{index}?ignore_unavailable=true")
