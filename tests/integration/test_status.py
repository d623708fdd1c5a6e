"""Consumer-group lag against offsets this test commits itself."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from ground.settings import Settings
from shardline.lag import group_lag

pytestmark = pytest.mark.integration


def test_group_lag_counts_committed_against_end_offsets(
    stack_settings: Settings, topic_factory
) -> None:
    topic = topic_factory(partitions=2)
    producer = Producer(stack_settings.kafka.client_config())
    for i in range(10):
        producer.produce(topic, value=b"x", partition=i % 2)  # 5 per partition
    assert producer.flush(10) == 0
    group = f"lag-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(stack_settings.kafka.client_config({"group.id": group}))
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
    finally:
        consumer.close()

    (lag,) = [g for g in group_lag(stack_settings.kafka) if g.group == group]
    assert (lag.topic, lag.partitions, lag.committed, lag.end) == (topic, 2, 3, 10)
    assert lag.uncommitted_partitions == 1
    assert lag.lag == 7

    out = subprocess.run(
        [sys.executable, "-m", "shardline", "status", "--group", group],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert group in out.stdout and topic in out.stdout
