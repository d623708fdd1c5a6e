"""The transform stage on the real MinIO: processing hook, deaggregation, dynamic partitions,
the active-partition limit, the error envelopes and the source backup, read back with botocore
and compared with an independent computation in plain Python."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from collections import defaultdict
from typing import Any

import pytest

from connectors import DeliveryConfig, build_core
from connectors.core import Record
from connectors.core.delivery import DeliveryCore
from ground.settings import Settings
from tests.integration.fixtures_sinks import s3_client
from tests.timestamps import recent_ms

pytestmark = pytest.mark.integration

TS = recent_ms()
LIMIT = 3


def source_records(topic: str) -> list[Record]:
    """Each source record aggregates two JSON objects (deaggregated into sub-records)."""
    out = []
    for offset in range(30):
        subs = []
        for sub in range(2):
            i = offset * 2 + sub
            doc: dict[str, Any] = {"i": i, "customer_id": f"c{i % 5}"}
            if i % 11 == 3:
                doc["drop"] = True  # the hook answers Dropped
            if i % 13 == 5:
                doc["fail"] = True  # the hook answers ProcessingFailed
            if i % 17 == 7:
                del doc["customer_id"]  # the jq query's key is missing: partitioning fails
            subs.append(json.dumps(doc))
        out.append(Record(topic, 0, offset, None, "".join(subs).encode(), TS + offset))
    return out


def expected(records: list[Record]) -> dict[str, Any]:
    """What Firehose's rules give, computed without the stage."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    failed: dict[str, list[bytes]] = defaultdict(list)
    active: set[str] = set()
    for record in records:
        text = (record.value or b"").decode()
        decoder = json.JSONDecoder()
        pos = 0
        while pos < len(text):
            doc, end = decoder.raw_decode(text, pos)
            raw = text[pos:end].encode()
            pos = end
            if doc.get("drop"):
                continue
            if doc.get("fail"):
                failed["processing-failed"].append(raw)
                continue
            doc["processed"] = True
            if "customer_id" not in doc:
                failed["DynamicPartitioning.MetadataExtractionFailed"].append(
                    json.dumps(doc, separators=(",", ":")).encode())
                continue
            customer = doc["customer_id"]
            if customer not in active and len(active) >= LIMIT:
                failed["DynamicPartitioning.ActivePartitionsExceeded"].append(
                    json.dumps(doc, separators=(",", ":")).encode())
                continue
            active.add(customer)
            groups[customer].append(doc)
    return {"groups": groups, "failed": failed}


def objects(boto: Any, bucket: str, prefix: str) -> dict[str, list[bytes]]:
    out = {}
    for page in boto.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = boto.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out[obj["Key"]] = gzip.decompress(body).splitlines()
    return out


def deliver(core: DeliveryCore, records: list[Record]) -> None:
    async def main() -> None:
        await core.open()
        try:
            for r in records:
                core.add(r)
            await core.flush(core.drain())
        finally:
            await core.close()

    asyncio.run(main())


def test_transform_stage_end_to_end(stack_settings: Settings, bucket_factory: Any) -> None:
    bucket = bucket_factory("transform")
    backup_bucket = bucket_factory("transform-src")
    topic = "orders"
    config = DeliveryConfig.from_mapping({
        "name": "tr", "topic": topic,
        "s3": {
            "bucket": bucket,
            "prefix": "out/customer=!{partitionKeyFromQuery:customer}/",
            "error_output_prefix": "err/!{firehose:error-output-type}/",
            "buffering": {"size_mb": 5, "interval_seconds": 60},
            "retry": {"duration_seconds": 10},
            "processing": {
                "deaggregation": {"sub_record_type": "JSON"},
                "hook": {"callable": "examples.hooks.hooks:enrich", "retries": 1},
                "metadata_extraction": {"query": "{customer: .customer_id}"},
            },
            "dynamic_partitioning": {"enabled": True, "max_active_partitions": LIMIT},
            "source_backup": {"bucket": backup_bucket, "prefix": "source/"},
        },
    })
    records = source_records(topic)
    core = build_core(config, stack_settings)
    deliver(core, records)
    assert core.committable() == {(topic, 0): 30}
    assert core.partition_count() == 0  # everything delivered: no partition held

    want = expected(records)
    boto = s3_client(stack_settings)
    # dynamic partitions: one object per customer, under its own key prefix
    delivered = objects(boto, bucket, "out/")
    got_groups = {}
    for key, lines in delivered.items():
        customer = key.split("/")[1].removeprefix("customer=")
        assert customer not in got_groups
        got_groups[customer] = [json.loads(line) for line in lines]
    assert got_groups == dict(want["groups"])
    assert len(got_groups) == LIMIT
    # failures: Firehose's envelope with the original bytes, one prefix per error type
    errors = objects(boto, bucket, "err/")
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, lines in errors.items():
        by_type[key.split("/")[1]].extend(json.loads(line) for line in lines)
    assert set(by_type) == set(want["failed"])
    for kind, docs in by_type.items():
        assert [base64.b64decode(d["rawData"]) for d in docs] == want["failed"][kind]
        for d in docs:
            assert d["errorCode"] and d["errorMessage"] and d["attemptsMade"] >= 1
            assert d["arrivalTimestamp"] >= TS and d["attemptEndingTimestamp"] > TS
            assert d["kafkaTopic"] == topic
            if kind == "processing-failed":
                assert d["lambdaArn"] == "examples.hooks.hooks:enrich"
    # the source backup holds every source record unchanged
    source = objects(boto, backup_bucket, "source/")
    assert sorted(line for lines in source.values() for line in lines) == sorted(
        r.value or b"" for r in records)

    # A replay of the same records rewrites the same keys (identical content), nothing new.
    core2 = build_core(config, stack_settings)
    deliver(core2, records)
    assert objects(boto, bucket, "") == {**delivered, **errors}
    assert objects(boto, backup_bucket, "") == source


def test_worker_from_kafka_delimited_async_lambda_keys(
    stack_settings: Settings, bucket_factory: Any, topic_factory: Any
) -> None:
    """Through Kafka and the worker: DELIMITED deaggregation, a hook giving
    ``partitionKeyFromLambda`` keys, the source backup; committed offsets reach the end."""
    from confluent_kafka import Producer

    from connectors import build_worker, preflight
    from tests.integration.offsets import committed_and_end

    settings = stack_settings
    topic = topic_factory(2)
    bucket = bucket_factory("transform-kafka")
    values: list[bytes] = []
    producer = Producer(settings.kafka.client_config({"linger.ms": 5}))
    for i in range(40):
        lines = [json.dumps({"i": i * 3 + j, "customer_id": f"k{(i * 3 + j) % 4}"})
                 for j in range(3)]
        value = ("\n".join(lines) + "\n").encode()
        values.append(value)
        producer.produce(topic, value=value, partition=i % 2)
    assert producer.flush(30) == 0
    group = f"{topic}-g"
    config = DeliveryConfig.from_mapping({
        "name": "tr-kafka", "topic": topic, "group": group,
        "s3": {
            "bucket": bucket,
            "prefix": "lam/customer=!{partitionKeyFromLambda:customer}/",
            "error_output_prefix": "err/!{firehose:error-output-type}/",
            "buffering": {"max_records": 7, "interval_seconds": 1},
            "processing": {
                "deaggregation": {"sub_record_type": "DELIMITED", "delimiter": "\n"},
                "hook": {"callable": "examples.hooks.hooks:partition_by_customer"},
                "append_delimiter": False,
            },
            "dynamic_partitioning": {"enabled": True},
            "source_backup": {"bucket": bucket, "prefix": "source/"},
        },
    })
    preflight(config, settings)
    build_worker(config, settings).run(until_idle_ms=3_000)
    committed, end = committed_and_end(settings, group, topic, 2)
    assert committed == end

    boto = s3_client(settings)
    want: dict[str, list[bytes]] = defaultdict(list)
    for value in values:
        for raw in value.splitlines():
            want[json.loads(raw)["customer_id"]].append(raw)
    got: dict[str, list[bytes]] = defaultdict(list)
    for key, body in objects(boto, bucket, "lam/").items():
        got[key.split("/")[1].removeprefix("customer=")].extend(body)
    assert {k: sorted(v) for k, v in got.items()} == {k: sorted(v) for k, v in want.items()}
    assert objects(boto, bucket, "err/") == {}
    source = [line for lines in objects(boto, bucket, "source/").values() for line in lines]
    # the source objects are JSON Lines of the original values, which hold newlines themselves
    assert sorted(source) == sorted(
        line for v in values for line in (v + b"\n").splitlines())
