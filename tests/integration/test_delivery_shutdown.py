"""SIGTERM on `shardline deliver` while flushes are in progress: exit 0, nothing committed that
is not in MinIO, and a restart delivers the rest with no loss and no duplicate.

MinIO sits behind the fault proxy (``fault_proxy.FaultProxy``) answering every PUT late (the
object is written, the answer held back), so the worker is mid-flush when it is told to stop
and its shutdown timeout runs out with sends still waiting: those are cancelled and stay
uncommitted. Objects are read back with botocore, offsets with a plain consumer.
"""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from ground.settings import Settings
from tests.integration.fault_proxy import FaultProxy
from tests.integration.fixtures_sinks import read_objects
from tests.integration.offsets import committed_and_end
from tests.integration.workers import Worker, wait_log

pytestmark = [pytest.mark.integration, pytest.mark.faults]

PARTITIONS = 2
N = 4_000
BATCH = 250  # --max-records: 8 objects per partition
PUT_DELAY_S = 1.5  # a partition's 8 batches go one after another: ~12 s through the proxy
SHUTDOWN_TIMEOUT_S = 2


def _produce(settings: Settings, topic: str) -> dict[tuple[int, int], int]:
    """N records ``{"n": i, …}``; returns (partition, offset) → n as Kafka acknowledged it."""
    placed: dict[tuple[int, int], int] = {}
    producer = Producer(settings.kafka.client_config({"linger.ms": 5,
                         "enable.idempotence": True}))
    for i in range(N):
        value = json.dumps({"n": i, "page": f"/p/{i % 17}", "pad": "x" * 120}).encode()

        def ack(err: object, msg: object, i: int = i) -> None:
            assert err is None, err
            placed[(msg.partition(), msg.offset())] = i  # type: ignore[attr-defined]

        producer.produce(topic, value=value, partition=i % PARTITIONS, on_delivery=ack)
    assert producer.flush(30) == 0
    assert len(placed) == N
    return placed


def _delivered(settings: Settings, bucket: str) -> list[int]:
    return [json.loads(line)["n"] for body in read_objects(settings, bucket).values()
            for line in gzip.decompress(body).splitlines()]


@pytest.fixture
def proxy(stack_settings: Settings) -> Iterator[FaultProxy]:
    with FaultProxy(stack_settings.s3_endpoint, delay_put_s=PUT_DELAY_S) as p:
        yield p


def test_sigterm_mid_flush_commits_only_what_is_durable_and_a_restart_finishes(
    stack_settings: Settings, topic_factory, bucket_factory, workers: list[Worker],
    proxy: FaultProxy, tmp_path: Path,
) -> None:
    settings = stack_settings
    topic = topic_factory(PARTITIONS, prefix="sigterm")
    bucket = bucket_factory("sigterm")
    placed = _produce(settings, topic)
    group = f"{topic}-g"
    args = ["shardline", "deliver", "--topic", topic, "--group", group, "--s3-bucket", bucket,
            "--s3-prefix", "out/", "--max-records", str(BATCH), "--interval-ms", "600000"]

    # 1. Through the slow proxy; SIGTERM once the first batch is written (a flush line is
    #    printed per batch; its partition's next batches are still waiting on the proxy).
    slow = Worker(tmp_path, tmp_path / "slow.log", "shardline", *args[1:],
                  "--shutdown-timeout", str(SHUTDOWN_TIMEOUT_S),
                  env={"SHARDLINE_S3_ENDPOINT": f"http://127.0.0.1:{proxy.port}"})
    workers.append(slow)
    wait_log([slow], f" → s3://{bucket}", timeout_s=90)
    stopped = time.monotonic()
    assert slow.stop(timeout_s=60) == 0, slow.tail()
    took = time.monotonic() - stopped
    log = slow.tail(20_000)
    assert "SIGTERM" in log
    # bounded by the shutdown timeout (plus one late answer and the consumer's close)
    assert took < SHUTDOWN_TIMEOUT_S + PUT_DELAY_S + 15, log

    # 2. Every record below a committed offset is in MinIO.
    committed, end = committed_and_end(settings, group, topic, PARTITIONS)
    assert sum(end.values()) == N
    below = {n for (p, o), n in placed.items() if o < max(committed[p], 0)}
    in_s3 = _delivered(settings, bucket)
    assert below <= set(in_s3), sorted(below - set(in_s3))[:10]
    done = sum(max(c, 0) for c in committed.values())
    assert 0 < done < N, f"committed {done} of {N}: the stop did not fall mid-stream"
    assert "left uncommitted" in log, log

    # 3. A restart (straight to MinIO) delivers the rest: every record exactly once.
    fast = Worker(tmp_path, tmp_path / "fast.log", "shardline", *args[1:], "--until-idle", "3")
    workers.append(fast)
    assert fast.proc.wait(120) == 0, fast.tail()
    assert Counter(_delivered(settings, bucket)) == Counter(range(N))
    committed, end = committed_and_end(settings, group, topic, PARTITIONS)
    assert committed == end
