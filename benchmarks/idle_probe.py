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
probe's calls (by the stage partitions' clocks), its requests to the broker, their wall and
CPU time (``StableOffsets.seconds``, ``cpu_seconds``: the worker thread's), per request and
as a share of the worker's, next to the worker's batches, records and CPU time over the same
span, and the load average (a loaded machine makes wall times noisy; CPU times less so).

Each run is made in both probe modes: *per poll* (the runtime tells the probe of each poll,
``on_poll``: the stage partitions' calls of one poll share one request, as ``shardline run``
does) and *per batch* (no ``on_poll``: a request for each batch of a stage partition that
needs one, as before). ``--pairs N`` makes N runs of each, interleaved, and prints the
medians.
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


def measure(args: argparse.Namespace, settings: Settings, per_poll: bool) -> dict[str, float]:
    """One run on a fresh topic and application; the counters over the measured span."""
    name = f"bench-idle-probe-{uuid.uuid4().hex[:6]}"
    topic = f"{name}-input"
    ensure_topics(settings.kafka, [topic], args.partitions)
    folder = Path(tempfile.mkdtemp()) / name
    folder.mkdir()
    (folder / "app.sql").write_text(APP_SQL[args.crossing])
    (folder / "application.yaml").write_text(APP_YAML.format(name=name, topic=topic))
    app = load_sql_application(folder, settings)
    probe = app.stable_offsets
    assert isinstance(probe, StableOffsets)
    internal = set(app.repartition_topics)
    CountingStage.batches = 0

    def processor(t: str, partition: int) -> Any:
        inner = app.processor(t, partition)
        return CountingStage(inner) if t in internal else inner

    stop, done = threading.Event(), threading.Event()
    runtime = StreamRuntime(
        app.runtime_config(), settings, processor, stop=done,
        on_poll=app.new_poll if per_poll else None,
    )  # fmt: skip
    marks: list[tuple[float, float, int, int, float, float, int, int]] = []

    def mark() -> None:  # wall, process CPU, probe calls, requests, wall and CPU in them, …
        marks.append((time.monotonic(), time.process_time(), probe.calls, probe.requests,
                      probe.seconds, probe.cpu_seconds, CountingStage.batches,
                      runtime.stats.records))  # fmt: skip

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
    first, last = marks
    span, cpu, calls, requests, wall_s, cpu_s, batches, records = (
        b - a for a, b in zip(first, last, strict=True)
    )
    return {"span": span, "cpu": cpu, "calls": calls, "requests": requests, "wall_s": wall_s,
            "cpu_s": cpu_s, "batches": batches, "records": records}  # fmt: skip


def report(mode: str, m: dict[str, float]) -> None:
    requests, batches = max(1, m["requests"]), max(1, m["batches"])
    print(
        f"  {mode:9} {m['records'] / m['span']:7,.0f} records/s, {m['batches']:5.0f} stage "
        f"batches, worker CPU {m['cpu']:6.2f} s | probe: {m['calls']:5.0f} calls, "
        f"{m['requests']:5.0f} requests ({m['requests'] / batches:.2f} per stage batch), "
        f"{m['wall_s'] * 1000 / requests:5.2f} ms wall and {m['cpu_s'] * 1000 / requests:.2f} ms "
        f"CPU per request; share of the worker: wall {m['wall_s'] / m['span']:5.1%}, "
        f"CPU {m['cpu_s'] / max(1e-9, m['cpu']):5.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--idle", type=int, default=3, help="partitions that never get data")
    parser.add_argument("--rate", type=int, default=2_000, help="records/s")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds before measuring")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds measured")
    parser.add_argument("--crossing", choices=sorted(APP_SQL), default="partials")
    parser.add_argument(
        "--pairs", type=int, default=1,
        help="runs of each probe mode, interleaved (per poll, per batch; then the other order)",
    )  # fmt: skip
    args = parser.parse_args()

    settings = Settings.from_env()
    runs: dict[str, list[dict[str, float]]] = {"per poll": [], "per batch": []}
    for i in range(args.pairs):
        order = ["per poll", "per batch"] if i % 2 == 0 else ["per batch", "per poll"]
        for mode in order:
            runs[mode].append(measure(args, settings, per_poll=mode == "per poll"))
            print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
            report(mode, runs[mode][-1])
    print(
        f"{args.partitions} partitions, {args.idle} never get data, {args.rate} records/s, "
        f"{args.crossing} cross the repartition; {args.pairs} interleaved pairs, medians:"
    )
    for mode, results in runs.items():
        report(mode, {k: statistics.median(r[k] for r in results) for k in results[0]})


if __name__ == "__main__":
    main()
