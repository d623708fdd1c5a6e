"""The producer against the real broker: exactly once, Kinesis partitions, exact bytes."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import schemas
from ground.errors import CodecError
from ground.kafka_config import KafkaConfig
from ground.settings import Settings
from shardline.producer import DataSpec, ProduceConfig, partition_for, produce
from shardline.verify import read_topic
from tests.timestamps import recent_ms

pytestmark = pytest.mark.integration

START = recent_ms()
SHARDLINE = [str(Path(sys.executable).with_name("shardline"))]


def read_all(kafka: KafkaConfig, topic: str) -> list[tuple[int, Any, bytes, int]]:
    """Every message of ``topic`` as (partition, key, value, timestamp), from the beginning to
    its end offsets (a duplicate would be read too)."""
    return [(r.partition, r.key, r.value, r.timestamp_ms) for r in read_topic(kafka, topic)]


@pytest.mark.parametrize(("kind", "fmt"), [("ticker", "json"), ("clickstream", "avro")])
def test_every_record_once_in_its_md5_partition(stack_settings: Settings, kind, fmt):
    topic = f"it-produce-{kind}-{uuid.uuid4().hex[:8]}"
    data = DataSpec(start_ms=START, kind=kind, format=fmt, seed=1234, malformed=5,
                    disorder_ms=100)
    config = ProduceConfig(topic=topic, data=data, count=5000, partitions=4, linger_ms=20,
                           compression="lz4")
    try:
        report = produce(stack_settings, config)
        assert report.ok, report.summary()
        assert (report.produced, report.delivered, report.partitions) == (5000, 5000, 4)
        assert sum(s.delivered for s in report.by_partition.values()) == 5000

        expected = Counter(
            (partition_for(r.key, 4), r.key.encode(), r.value) for r in data.records(5000)
        )
        got = read_all(stack_settings.kafka, topic)
        assert len(got) == 5000
        assert Counter((p, k, v) for p, k, v, _ in got) == expected
        assert {p: n for p, n in Counter(p for p, *_ in got).items()} == {
            p: s.delivered for p, s in report.by_partition.items() if s.delivered
        }
        # The report regenerates exactly what was sent, malformed records included.
        assert [r.value for r in report.records()] == [r.value for r in data.records(5000)]
        bad = {r.value for r in report.malformed}
        assert len(report.malformed) == 5 and bad <= {v for _, _, v, _ in got}
        for value in bad:
            with pytest.raises(CodecError):
                schemas.decode_any(value, kind)
        # Order within a partition follows production order (idempotent producer).
        index = {r.value: r.index for r in data.records(5000)}
        for p in range(4):
            seq = [index[v] for q, _, v, _ in got if q == p]
            assert seq == sorted(seq)
    finally:
        _delete(stack_settings, topic)


def test_event_timestamps(stack_settings: Settings, topic_factory):
    topic = topic_factory(partitions=2)
    data = DataSpec(start_ms=START, seed=5)
    report = produce(stack_settings, ProduceConfig(topic=topic, data=data, count=300,
                                                   timestamp="event", linger_ms=5))
    assert report.ok and report.partitions == 2
    got = read_all(stack_settings.kafka, topic)
    times = {v: ts for _, _, v, ts in got}
    assert all(times[r.value] == (r.data or {})["event_time_ms"] for r in data.records(300))


def test_delivery_failures_are_reported(stack_settings: Settings, topic_factory):
    # The broker refuses every batch: larger than the topic's max.message.bytes.
    topic = topic_factory(partitions=2, config={"max.message.bytes": "100"})
    config = ProduceConfig(topic=topic, data=DataSpec(start_ms=START), count=200,
                           linger_ms=5, delivery_timeout_ms=10_000)
    report = produce(stack_settings, config)
    assert not report.ok
    assert (report.produced, report.delivered, report.failed) == (200, 0, 200)
    assert sum(report.errors.values()) == 200
    assert "too large" in report.errors.most_common(1)[0][0]

    result = subprocess.run(
        [*SHARDLINE, "produce", "--topic", topic, "--count", "50", "--linger-ms", "5",
         "--no-progress"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 1, result
    assert "failed 50" in result.stdout
    assert "50 of 50 records were not delivered" in result.stderr


def test_rate_limit_slows_the_producer(stack_settings: Settings, topic_factory):
    topic = topic_factory(partitions=1)
    config = ProduceConfig(topic=topic, data=DataSpec(start_ms=START), count=150,
                           rate_per_s=100, linger_ms=5)
    t0 = time.monotonic()
    report = produce(stack_settings, config)
    assert report.ok
    assert time.monotonic() - t0 >= 1.2  # burst of 10, then 140 at 100/s


def test_duration_mode(stack_settings: Settings, topic_factory):
    topic = topic_factory(partitions=2)
    config = ProduceConfig(topic=topic, data=DataSpec(start_ms=START, seed=3), count=None,
                           duration_ms=700, rate_per_s=200, linger_ms=5)
    report = produce(stack_settings, config)
    assert report.ok and 60 < report.produced < 300
    got = read_all(stack_settings.kafka, topic)
    assert Counter(v for _, _, v, _ in got) == Counter(r.value for r in report.records())


def test_cli_produces_and_summarises(stack_settings: Settings, topic_factory):
    topic = topic_factory(partitions=3)
    result = subprocess.run(
        [*SHARDLINE, "produce", "--topic", topic, "--count", "400", "--seed", "9",
         "--start-ms", str(START), "--format", "avro", "--malformed", "2", "--no-progress"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "produced 400, delivered 400, failed 0" in result.stdout
    data = DataSpec(start_ms=START, seed=9, format="avro", malformed=2)
    got = read_all(stack_settings.kafka, topic)
    assert Counter((p, v) for p, _, v, _ in got) == Counter(
        (partition_for(r.key, 3), r.value) for r in data.records(400))


def test_unreachable_broker_is_one_line_and_nonzero(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "SHARDLINE_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    t0 = time.monotonic()
    result = subprocess.run(
        [*SHARDLINE, "produce", "--count", "10", "--connect-timeout", "2"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert result.returncode != 0
    assert time.monotonic() - t0 < 30
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("shardline: error: no Kafka broker answered at 127.0.0.1:1")
    assert result.stdout == ""


def _delete(settings: Settings, topic: str) -> None:
    from ground.kafka import admin_client

    try:
        for fut in admin_client(settings.kafka).delete_topics([topic]).values():
            fut.result(timeout=15)
    except Exception:  # best effort
        pass
