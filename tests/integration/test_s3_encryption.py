"""Server-side encryption against a real MinIO: a delivery file in Firehose's layout with
``KMSEncryptionConfig`` writes SSE-KMS objects under that key, one in Shardline's layout with
``mode: SSE-S3`` writes SSE-S3 objects; MinIO says so on each object (HEAD, read with
botocore), and the records read back are the ones produced.

The shared MinIO is left alone (it may have been started before the stack set a KMS key): a
private one, the stack's own MinIO component in a home of its own on a free port, runs for
this module and is stopped by its pid file afterwards.
"""

from __future__ import annotations

import gzip
import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from confluent_kafka import Producer

from connectors import build_worker, load_deliveries, preflight
from connectors.firehose_layout import delivery_from_firehose
from ground.settings import Settings
from shardline.stack import Stack
from shardline.stack.minio import KMS_KEY_NAME, MinioComponent
from tests.integration.fixtures_private import _port_pair
from tests.integration.fixtures_sinks import s3_client

pytestmark = pytest.mark.integration

PARTITIONS = 2
N = 120


@pytest.fixture(scope="module")
def kms_minio(stack_settings: Settings,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    port = _port_pair("KMS_S3_PORT")
    settings = replace(stack_settings, home=tmp_path_factory.mktemp("kms-minio"),
                       s3_endpoint=f"http://127.0.0.1:{port}", s3_console_port=port + 1)
    stack = Stack(settings, components=(MinioComponent(settings, dict(os.environ)),))
    try:
        stack.up()
        yield settings
    finally:
        stack.down()


def _produce(settings: Settings, topic: str) -> list[bytes]:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5})
    values = [json.dumps({"i": i, "p": i * 3}).encode() for i in range(N)]
    for i, value in enumerate(values):
        producer.produce(topic, value=value, partition=i % PARTITIONS)
    assert producer.flush(30) == 0
    return values


def _objects(settings: Settings, bucket: str) -> dict[str, dict[str, Any]]:
    """key → (HEAD answer, lines) of every object, read with botocore."""
    client = s3_client(settings)
    out = {}
    for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        got = client.get_object(Bucket=bucket, Key=obj["Key"])
        body = got["Body"].read()
        out[obj["Key"]] = {
            "sse": got.get("ServerSideEncryption"), "key": got.get("SSEKMSKeyId"),
            "lines": (gzip.decompress(body) if obj["Key"].endswith(".gz") else body
                      ).splitlines()}
    client.close()
    return out


def test_firehose_kms_and_shardline_sse_s3(kms_minio: Settings, topic_factory: Any) -> None:
    settings = kms_minio
    topic = topic_factory(PARTITIONS)
    sent = _produce(settings, topic)
    kms_bucket, s3_bucket = f"kms-{uuid.uuid4().hex[:8]}", f"sse-{uuid.uuid4().hex[:8]}"
    firehose = delivery_from_firehose({
        "DeliveryStreamName": "it-kms", "Shardline": {"Topic": topic, "EnsureBuckets": True},
        "ExtendedS3DestinationConfiguration": {
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{kms_bucket}", "Prefix": "kms/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
            "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": KMS_KEY_NAME}},
        }})
    (shardline,) = load_deliveries({
        "name": "it-sse-s3", "topic": topic,
        "s3": {"bucket": s3_bucket, "prefix": "sse/", "ensure_bucket": True,
               "encryption": {"mode": "SSE-S3"},
               "buffering": {"max_records": 50, "interval_ms": 1_000}}})
    for config in (firehose, shardline):
        preflight(config, settings)
        assert build_worker(config, settings).run(until_idle_ms=3_000).records == N

    for bucket, sse, key in ((kms_bucket, "aws:kms", KMS_KEY_NAME), (s3_bucket, "AES256", None)):
        objects = _objects(settings, bucket)
        assert objects and all(o["sse"] == sse for o in objects.values()), bucket
        if key is not None:
            assert all(str(o["key"]).endswith(key) for o in objects.values())
        assert Counter(line for o in objects.values() for line in o["lines"]) == Counter(sent)
