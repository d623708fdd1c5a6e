"""What the idle-lag probe costs behind a repartition, in steady state; prints numbers.

    PYTHONPATH=. .venv/bin/python benchmarks/idle_probe.py                 # 60 s measured
    PYTHONPATH=. .venv/bin/python benchmarks/idle_probe.py --seconds 20

A stage behind a repartition asks the broker for the last stable offsets of its idle
upstream partitions' inputs before its time passes them (``pipelines.sql.shuffle``,
``pipelines.runtime.StableOffsets``). Here some input partitions never get a record, so
their channels stay idle and every batch that moves the stage's time asks: the worst
steady case.

One worker in this process runs ``GROUP BY sector`` (not the key) in a 10-second event-time
tumbling window on a fresh topic of
``--partitions`` partitions, of which ``--idle`` never get data; a producer thread writes
``--rate`` records/s (timestamps: now) to the others. With ``--crossing partials`` (the
default) partial aggregates cross the repartition and the upstream markers move at window
boundaries; with ``--crossing rows`` (a ``FIRST_VALUE``) the rows cross and the markers move
with every batch: the stage's time moves, and the probe is asked, far more often. After
``--warmup`` seconds the counters are taken, and again ``--seconds`` later. It prints the
probe's calls, their wall time (``StableOffsets.seconds``) and CPU time (this thread's),
per call and per batch of the stage, next to the worker's batches, records and CPU time
over the same span, and the load average (a loaded machine makes wall times noisy; CPU
times less so).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Collection
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer

from ground.kafka import delete_topics_with_prefix, ensure_topics
from ground.settings import Settings
from pipelines.runtime import StableOffsets, StreamRuntime
from pipelines.sql.application import load_sql_application

SECTORS = ("ENERGY", "FINANCIAL", "HEALTHCARE", "RETAIL", "TECHNOLOGY", "UTILITIES")

#: ``--crossing``: what crosses the repartition (partial aggregates, or the rows: FIRST_VALUE)
APP_SQL = {
    "partials": """\
CREATE OR REPLACE STREAM "PER_SECTOR" (SECTOR VARCHAR(16), WINDOW_START TIMESTAMP,
    TRADES BIGINT, TOTAL_PRICE DOUBLE);
CREATE OR REPLACE PUMP "SECTOR_PUMP" AS INSERT INTO "PER_SECTOR"
SELECT STREAM sector, STEP(event_time BY INTERVAL '10' SECOND), COUNT(*), SUM(price)
FROM "SOURCE_SQL_STREAM_001" GROUP BY sector, STEP(event_time BY INTERVAL '10' SECOND);
""",
    "rows": """\
CREATE OR REPLACE STREAM "PER_SECTOR" (SECTOR VARCHAR(16), WINDOW_START TIMESTAMP,
    TRADES BIGINT, FIRST_PRICE DOUBLE);
CREATE OR REPLACE PUMP "SECTOR_PUMP" AS INSERT INTO "PER_SECTOR"
SELECT STREAM sector, STEP(event_time BY INTERVAL '10' SECOND), COUNT(*), FIRST_VALUE(price)
FROM "SOURCE_SQL_STREAM_001" GROUP BY sector, STEP(event_time BY INTERVAL '10' SECOND);
""",
}

APP_YAML = """\
ApplicationName: {name}
ApplicationCode: app.sql
Inputs:
  - NamePrefix: SOURCE_SQL_STREAM
    Topic: {topic}
    StartingPosition: TRIM_HORIZON
    PartitionKey: [TICKER_SYMBOL]
    InputSchema:
      RecordFormat: {{RecordFormatType: JSON}}
      RecordColumns:
        - {{Name: TICKER_SYMBOL, SqlType: VARCHAR(8), Mapping: $.ticker_symbol}}
        - {{Name: SECTOR, SqlType: VARCHAR(16), Mapping: $.sector}}
        - {{Name: PRICE, SqlType: DOUBLE, Mapping: $.price}}
        - {{Name: EVENT_TIME, SqlType: TIMESTAMP, Mapping: $.event_time_ms}}
Outputs:
  - {{Name: PER_SECTOR, Topic: {name}-out, DestinationSchema: {{RecordFormatType: JSON}}}}
ErrorOutput: {{Topic: {name}-errors, RecordFormatType: JSON}}
EventTime: {{AllowedLatenessMs: 2000, IdleTimeoutMs: 3000}}
Runtime: {{CommitIntervalMs: 200, BatchMaxRecords: 500}}
"""


class TimedProbe:
    """The application's probe, each call's wall and CPU (this thread) time kept."""

    def __init__(self, probe: StableOffsets) -> None:
        self.probe = probe
        self.wall_s: list[float] = []
        self.cpu_s: list[float] = []

    def __call__(self, partitions: Collection[tuple[str, int]]) -> dict[tuple[str, int], int]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return self.probe(partitions)
        finally:
            self.cpu_s.append(time.thread_time() - cpu)
            self.wall_s.append(time.perf_counter() - wall)


class CountingStage:
    """A stage processor whose ``process`` calls (batches of the stage) are counted."""

    batches = 0

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def process(self, batch: Any) -> Any:
        CountingStage.batches += 1
        return self._inner.process(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def produce(settings: Settings, topic: str, busy: int, rate: int, stop: threading.Event) -> None:
    """``rate`` records/s to partitions ``0 .. busy - 1``, in bursts every 50 ms."""
    producer = Producer(settings.kafka.client_config({"linger.ms": 20}))
    rng = random.Random(7)
    symbols = [f"S{i:03d}" for i in range(200)]
    per_tick = max(1, rate // 20)
    while not stop.is_set():
        now_ms = time.time_ns() // 1_000_000
        for _ in range(per_tick):
            i = rng.randrange(len(symbols))
            value = orjson.dumps(
                {
                    "ticker_symbol": symbols[i],
                    "sector": SECTORS[i % 6],
                    "price": 10 + i,
                    "event_time_ms": now_ms - rng.randrange(1000),
                }
            )
            key = symbols[i].encode()
            producer.produce(topic, value, key, zlib.crc32(key) % busy, timestamp=now_ms)
        producer.poll(0)
        stop.wait(0.05)
    producer.flush(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--idle", type=int, default=3, help="partitions that never get data")
    parser.add_argument("--rate", type=int, default=2_000, help="records/s")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds before measuring")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds measured")
    parser.add_argument("--crossing", choices=sorted(APP_SQL), default="partials")
    args = parser.parse_args()

    settings = Settings.from_env()
    name = f"bench-idle-probe-{uuid.uuid4().hex[:6]}"
    topic = f"{name}-input"
    ensure_topics(settings.kafka, [topic], args.partitions)
    folder = Path(tempfile.mkdtemp()) / name
    folder.mkdir()
    (folder / "app.sql").write_text(APP_SQL[args.crossing])
    (folder / "application.yaml").write_text(APP_YAML.format(name=name, topic=topic))
    app = load_sql_application(folder, settings)
    assert isinstance(app.stable_offsets, StableOffsets)
    timed = app.stable_offsets = TimedProbe(app.stable_offsets)
    internal = set(app.repartition_topics)

    def processor(t: str, partition: int) -> Any:
        inner = app.processor(t, partition)
        return CountingStage(inner) if t in internal else inner

    stop, done = threading.Event(), threading.Event()
    runtime = StreamRuntime(app.runtime_config(), settings, processor, stop=done)
    marks: list[tuple[float, float, int, int, int]] = []

    def mark() -> None:  # wall s, process CPU s, probe calls, stage batches, records
        marks.append((time.monotonic(), time.process_time(), len(timed.wall_s),
                      CountingStage.batches, runtime.stats.records))  # fmt: skip

    def timer() -> None:
        if not done.wait(args.warmup):
            mark()
        if not done.wait(args.seconds):
            mark()
        stop.set()
        done.set()

    feeder = threading.Thread(
        target=produce, args=(settings, topic, args.partitions - args.idle, args.rate, stop)
    )
    feeder.start()
    threading.Thread(target=timer, daemon=True).start()
    try:
        runtime.run()
    finally:
        stop.set()
        done.set()
        feeder.join()
        delete_topics_with_prefix(settings.kafka, name)
    if len(marks) < 2:
        raise SystemExit("the run ended before the measurement")
    (t0, cpu0, c0, b0, r0), (t1, cpu1, c1, b1, r1) = marks
    wall, cpu = timed.wall_s[c0:c1], timed.cpu_s[c0:c1]
    span, batches, calls = t1 - t0, b1 - b0, c1 - c0
    print(
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
        f"{args.partitions} partitions, {args.idle} never get data, {args.rate} records/s, "
        f"{args.crossing} cross the repartition"
    )
    print(
        f"worker: {r1 - r0} records (input and repartition) in {span:.1f} s "
        f"({(r1 - r0) / span:,.0f}/s), "
        f"{batches} stage batches, CPU {cpu1 - cpu0:.2f} s"
    )
    if not calls:
        print("probe: no calls")
        return
    print(
        f"probe: {calls} calls ({calls / max(1, batches):.2f} per stage batch), "
        f"wall {sum(wall) * 1000 / calls:.2f} ms per call (median "
        f"{statistics.median(wall) * 1000:.2f}, max {max(wall) * 1000:.1f}), "
        f"CPU {sum(cpu) * 1000 / calls:.2f} ms per call"
    )
    print(
        f"probe per stage batch: wall {sum(wall) * 1000 / max(1, batches):.2f} ms, "
        f"CPU {sum(cpu) * 1000 / max(1, batches):.2f} ms; share of the worker: wall "
        f"{sum(wall) / span:.1%}, CPU {sum(cpu) / max(1e-9, cpu1 - cpu0):.1%}; "
        f"StableOffsets: {timed.probe.calls} calls, {timed.probe.seconds:.2f} s in all"
    )


if __name__ == "__main__":
    main()
