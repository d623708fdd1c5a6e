"""Throughput of the exactly-once runtime on the local stack; prints numbers, asserts nothing.

    PYTHONPATH=. .venv/bin/python benchmarks/runtime_passthrough.py --records 1000000

Produces ``--records`` records of ~100 bytes into a fresh topic, then, in this process:

1. a raw ``consumer.consume(n)`` loop over the topic (read_committed and the runtime's
   fetch settings, no processing);
2. the runtime with a processor that returns nothing (consume, group, bookkeeping,
   transactions with offsets only): the runtime's own overhead;
3. the runtime with a pass-through processor (every value copied to an output topic in
   the transactions).

Rates are records over the time from the first to the last record consumed; the
pass-through line also gives the time until the last transaction had committed.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, Producer, TopicPartition

from ground.kafka import admin_client, ensure_topics
from ground.settings import Settings
from pipelines.runtime import (
    OutRecord,
    RunStats,
    RuntimeConfig,
    SourceRecord,
    changelog_topic,
    run,
)
from pipelines.runtime.clients import CONSUMER_FETCH_CONFIG

if TYPE_CHECKING:
    from ground.kafka_config import KafkaConfig


def produce(kafka: KafkaConfig, topic: str, n: int, partitions: int) -> float:
    producer = Producer(
        kafka.client_config({"linger.ms": 50, "batch.size": 1_000_000,
                             "queue.buffering.max.messages": 2_000_000,
                             "queue.buffering.max.kbytes": 2_000_000})
    )  # fmt: skip
    pad = os.urandom(46).hex().encode()  # 92 bytes
    t0 = time.monotonic()
    for i in range(n):
        while True:
            try:
                producer.produce(topic, b"%08d" % i + pad, b"k%07d" % (i % 100_000), i % partitions)
                break
            except BufferError:
                producer.poll(0.01)
    assert producer.flush(120) == 0
    return time.monotonic() - t0


def raw_consume(kafka: KafkaConfig, topic: str, n: int, partitions: int, batch: int) -> float:
    consumer = Consumer(
        kafka.client_config({"group.id": f"bench-raw-{uuid.uuid4().hex[:8]}",
                             "enable.auto.commit": False, "isolation.level": "read_committed",
                             "enable.partition.eof": True}, tuning=CONSUMER_FETCH_CONFIG)
    )  # fmt: skip
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    seen, first = 0, 0.0
    while seen < n:
        msgs = consumer.consume(batch, 0.1)
        if msgs and not first:
            first = time.monotonic()
        for m in msgs:
            if m.error() is None:
                seen += 1
    elapsed = time.monotonic() - first
    consumer.close()
    return n / elapsed


class _Counting:
    def __init__(self, n: int, done: threading.Event, counter: list[int]) -> None:
        self.n, self.done, self.counter = n, done, counter

    def restore(self, entries: Iterable[tuple[bytes, bytes]]) -> None:
        pass

    def on_idle(
        self, now_ms: int, idle_ms: int, end_offset: int | None = None
    ) -> list[OutRecord]:
        return []

    def take_changes(self) -> list[tuple[bytes, bytes | None]]:
        return []

    def _count(self, k: int) -> None:
        self.counter[0] += k
        if self.counter[0] >= self.n:
            self.done.set()

    def process(self, batch: Sequence[SourceRecord]) -> list[OutRecord]:
        self._count(len(batch))
        return []


class _PassThrough(_Counting):
    def __init__(self, n: int, done: threading.Event, counter: list[int], out: str) -> None:
        super().__init__(n, done, counter)
        self.out = out

    def process(self, batch: Sequence[SourceRecord]) -> list[OutRecord]:
        self._count(len(batch))
        out = self.out
        return [OutRecord(out, r.key, r.value or b"", r.timestamp_ms, r.partition) for r in batch]


def run_runtime(
    settings: Settings, topic: str, n: int, batch: int, out: str | None, made: list[str]
) -> tuple[RunStats, float]:
    done, stop, counter = threading.Event(), threading.Event(), [0]
    app = f"bench-{uuid.uuid4().hex[:8]}"
    made.append(changelog_topic(app, topic))
    config = RuntimeConfig(
        application_id=app,
        source_topics=(topic,),
        output_topics=(out,) if out else (),
        batch_max_records=batch,
    )

    def factory(_t: str, _p: int) -> _Counting:
        return _PassThrough(n, done, counter, out) if out else _Counting(n, done, counter)

    result: dict[str, RunStats] = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("s", run(config, settings, factory, stop=stop))
    )
    thread.start()
    done.wait(600)
    stop.set()  # the loop commits the last transaction before it returns
    thread.join(120)
    stats = result["s"]
    return stats, time.monotonic() - stats.first_record_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--batch", type=int, default=5_000)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = Settings.from_env()
    home = tempfile.mkdtemp(prefix="shardline-bench-")
    settings = Settings.from_env({**os.environ, "SHARDLINE_HOME": home})
    kafka = base.kafka
    run_id = uuid.uuid4().hex[:8]
    topic, out = f"bench-{run_id}.in", f"bench-{run_id}.out"
    made = [topic, out]
    try:
        measure(settings, topic, out, args.records, args.partitions, args.batch, made)
    finally:
        admin = admin_client(kafka)  # keep the handle alive until the futures resolve
        for fut in admin.delete_topics(made, operation_timeout=30).values():
            try:
                fut.result(60)
            except Exception as exc:  # best effort
                print(f"could not delete a topic: {exc}")


def measure(
    settings: Settings, topic: str, out: str, n: int, partitions: int, batch: int, made: list[str]
) -> None:
    kafka = settings.kafka
    ensure_topics(kafka, [topic], partitions)
    elapsed = produce(kafka, topic, n, partitions)
    print(f"input: {n:,} records of ~100 bytes, {partitions} partitions "
          f"(produced in {elapsed:.1f}s)")  # fmt: skip
    raw = raw_consume(kafka, topic, n, partitions, batch)
    print(f"raw consume({batch}) loop:     {raw:>12,.0f} records/s")
    noop, _ = run_runtime(settings, topic, n, batch, None, made)
    print(f"runtime, no-output processor: {noop.records_per_s:>12,.0f} records/s "
          f"({noop.commits} commits)")  # fmt: skip
    passthrough, until_committed = run_runtime(settings, topic, n, batch, out, made)
    print(f"runtime, pass-through:        {passthrough.records_per_s:>12,.0f} records/s "
          f"({passthrough.commits} commits; {n / until_committed:,.0f} records/s "
          f"until the last commit)")  # fmt: skip
    over_noop = (1 / noop.records_per_s - 1 / raw) * 1e6
    over_pass = (1 / passthrough.records_per_s - 1 / raw) * 1e6
    print(f"per record over the raw loop: {over_noop:.2f} us (runtime), "
          f"{over_pass:.2f} us (runtime + produce)")  # fmt: skip


if __name__ == "__main__":
    main()
