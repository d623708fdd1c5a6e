"""kill -9 a delivery worker mid-upload and again between a write and its commit; restart with
other buffering hints (so batches are cut elsewhere); the records in MinIO and in
Elasticsearch must then equal the input exactly: none lost, none twice.

The expectation is the ids this test produced; objects are read back with botocore and
documents with Elasticsearch's HTTP API (not with ``connectors``). Faults are injected with
``SHARDLINE_FAULTS`` (:mod:`ground.faults`): a delay before each multipart part, and a delay
between a confirmed write and the commit of its offsets, so the kills land where they hurt.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Producer

from ground.kafka import ensure_topics
from ground.settings import Settings
from tests.integration.fixtures_sinks import es_request, s3_client
from tests.integration.offsets import committed_and_end
from tests.integration.workers import Worker, workers  # noqa: F401  (fixture)
from tests.timestamps import recent_ms

pytestmark = [pytest.mark.integration, pytest.mark.faults]

PARTITIONS = 3
PER_PARTITION = 30_000  # ~6.6 MB a partition: the first object of each goes up in parts
PREFIX = "eo/"
GZ_PREFIX = "eogz/"  # a second S3 delivery: gzip, cut mostly by the interval (many objects)


def _produce(settings: Settings, topic: str) -> list[str]:
    producer = Producer(settings.kafka.client_config({"linger.ms": 20}))
    ids: list[str] = []
    start = recent_ms()
    for p in range(PARTITIONS):
        for i in range(PER_PARTITION):
            rid = f"{p}-{i}"
            value = json.dumps({"id": rid, "ticker": f"T{i % 50}", "price": i / 8,
                                "note": "x" * 150}).encode()
            producer.produce(topic, value=value, partition=p, timestamp=start + i)
            ids.append(rid)
        producer.flush(60)
    assert producer.flush(60) == 0
    return ids


def _config(path: Path, topic: str, bucket: str, index: str, s3_buffering: dict[str, int],
            gz_buffering: dict[str, int]) -> Path:
    path.write_text(yaml.safe_dump({"deliveries": [
        {"name": "eo-s3", "topic": topic, "group": f"{topic}-s3",
         "s3": {"bucket": bucket, "prefix": PREFIX, "compression": "UNCOMPRESSED",
                "multipart_threshold_mb": 5, "buffering": s3_buffering}},
        {"name": "eo-gz", "topic": topic, "group": f"{topic}-gz",
         "s3": {"bucket": bucket, "prefix": GZ_PREFIX, "compression": "GZIP",
                "buffering": gz_buffering}},
        {"name": "eo-es", "topic": topic, "group": f"{topic}-es",
         "elasticsearch": {"index": index, "document_id": "offset",
                           "buffering": {"max_records": 4_000, "interval_ms": 500}}},
    ]}))
    return path


def _start(home: Path, tmp: Path, run: str, config: Path, faults: str, ws: list[Worker],
           *extra: str) -> Worker:
    w = Worker(home, tmp / f"{run}.log", "shardline", "-v", "deliver", str(config), "-q", *extra,
               env={"SHARDLINE_FAULTS": faults})
    ws.append(w)
    return w


def _all_assigned(log: Path) -> bool:
    """Every delivery of the process holds its partitions. Killed earlier, a delivery's
    consumer stays a (dead) member of its group until its session expires, holding partitions
    the next run's ``--until-idle`` could stop without ever being given."""
    text = log.read_text() if log.exists() else ""
    return all(f"{name} assigned" in text for name in ("eo-s3", "eo-gz", "eo-es"))


def _wait(what: str, check: Any, w: Worker, timeout_s: float = 150) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert w.alive(), f"worker died before {what}:\n{w.tail()}"
        assert time.monotonic() < deadline, f"no {what} after {timeout_s}s:\n{w.tail()}"
        time.sleep(0.1)


def _uploads(boto: Any, bucket: str) -> list[dict[str, Any]]:
    return list(boto.list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def _objects(boto: Any, bucket: str, prefix: str = PREFIX) -> dict[str, dict[str, str]]:
    """key → metadata of every object under ``prefix``."""
    out = {}
    for page in boto.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = boto.head_object(Bucket=bucket, Key=obj["Key"])["Metadata"]
    return out


def _written_beyond_commit(settings: Settings, boto: Any, bucket: str, topic: str) -> int:
    """Objects whose first record is at or past its partition's committed offset."""
    committed, _end = committed_and_end(settings, f"{topic}-s3", topic, PARTITIONS)
    n = 0
    for key, meta in _objects(boto, bucket).items():
        partition = int(key.rsplit("+", 2)[1])
        if int(meta["first-offset"]) >= max(committed[partition], 0):
            n += 1
    return n


def test_kill_9_mid_upload_and_before_commit_then_replay_delivers_exactly_once(
    stack_settings: Settings, bucket_factory, index_factory, workers: list[Worker],  # noqa: F811
    tmp_path: Path,
) -> None:
    settings = stack_settings
    topic = f"eo-{uuid.uuid4().hex[:10]}"
    ensure_topics(settings.kafka, [topic], PARTITIONS)
    ids = _produce(settings, topic)
    bucket, index = bucket_factory("eo"), index_factory("eo")
    boto = s3_client(settings)
    home = settings.home

    # Run 1: objects of 6 MiB go up in parts, each part after 3 s: kill -9 mid-upload.
    first = _config(tmp_path / "run1.yaml", topic, bucket, index,
                    {"size_mb": 6, "interval_ms": 60_000},
                    {"size_mb": 1, "interval_ms": 400})
    w1 = _start(home, tmp_path, "run1", first, "part_delay_ms=3000", workers)
    _wait("an incomplete multipart upload", lambda: _all_assigned(tmp_path / "run1.log")
          and _uploads(boto, bucket), w1)
    w1.kill9()
    assert _uploads(boto, bucket), "the kill was meant to leave an upload behind"

    # Run 2: other cuts; every commit waits 4 s: kill -9 once an object is written beyond the
    # committed offset (written, not committed). Run 2 aborts run 1's upload on assignment.
    second = _config(tmp_path / "run2.yaml", topic, bucket, index,
                     {"size_mb": 2, "max_records": 7_000, "interval_ms": 60_000},
                     {"size_mb": 1, "max_records": 3_000, "interval_ms": 700})
    w2 = _start(home, tmp_path, "run2", second, "commit_delay_ms=4000", workers)
    _wait("an object written beyond the commit",
          lambda: _all_assigned(tmp_path / "run2.log")
          and _written_beyond_commit(settings, boto, bucket, topic) >= 1, w2)
    w2.kill9()

    # Run 3: yet other cuts, no faults, until the topic is idle and everything delivered.
    third = _config(tmp_path / "run3.yaml", topic, bucket, index,
                    {"size_mb": 1, "max_records": 2_500, "interval_ms": 1_000},
                    {"size_mb": 1, "max_records": 1_700, "interval_ms": 300})
    w3 = _start(home, tmp_path, "run3", third, "", workers, "--until-idle", "4")
    deadline = time.monotonic() + 180
    while w3.alive():
        assert time.monotonic() < deadline, f"run 3 did not finish:\n{w3.tail()}"
        time.sleep(0.3)
    assert w3.proc.returncode == 0, w3.tail()
    assert "re-cutting" in (tmp_path / "run3.log").read_text() or "re-cutting" in (
        tmp_path / "run2.log").read_text(), "no replay met a previous owner's batch"

    # MinIO, both deliveries: every id exactly once; no upload left behind.
    assert _uploads(boto, bucket) == []
    for prefix, decode in ((PREFIX, lambda b: b), (GZ_PREFIX, gzip.decompress)):
        seen: Counter[str] = Counter()
        keys = _objects(boto, bucket, prefix)
        for key in keys:
            body = decode(boto.get_object(Bucket=bucket, Key=key)["Body"].read())
            seen.update(json.loads(line)["id"] for line in body.splitlines())
        duplicates = {k: c for k, c in seen.items() if c > 1}
        assert not duplicates, (
            f"{prefix}: {len(duplicates)} ids twice in MinIO, e.g. {list(duplicates)[:5]}")
        assert set(seen) == set(ids), f"{prefix}: missing in MinIO: {len(set(ids) - set(seen))}"
        assert len(keys) >= 10, f"{prefix}: only {len(keys)} objects: the cuts prove little"

    # Elasticsearch: every id exactly once.
    es_request(settings, "POST", f"/{index}/_refresh")
    assert es_request(settings, "GET", f"/{index}/_count")["count"] == len(ids)
    found: Counter[str] = Counter()
    body = {"size": 10_000, "_source": ["id"], "sort": ["_doc"]}
    page = es_request(settings, "POST", f"/{index}/_search?scroll=1m", body)
    while page["hits"]["hits"]:
        found.update(h["_source"]["id"] for h in page["hits"]["hits"])
        page = es_request(settings, "POST", "/_search/scroll",
                          {"scroll": "1m", "scroll_id": page["_scroll_id"]})
    assert found == Counter(ids)

    for group in (f"{topic}-s3", f"{topic}-gz", f"{topic}-es"):
        committed, end = committed_and_end(settings, group, topic, PARTITIONS)
        assert committed == end, group
