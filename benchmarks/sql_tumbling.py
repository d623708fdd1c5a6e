"""Tumbling GROUP BY throughput: Shardline SQL vs a plain Faust agent vs the raw ceiling.

    .venv/bin/python benchmarks/sql_tumbling.py                 # 1,000,000 records, 1,000 keys
    .venv/bin/python benchmarks/sql_tumbling.py --smoke         # 20,000 records, checks results
    .venv/bin/python benchmarks/sql_tumbling.py --profile sql.txt   # pyinstrument the SQL worker

A benchmark, not a test: it prints numbers and asserts only that the SQL application's
results are right (one result per (key, window), the counts add up to the input).

Data: ``--records`` JSON ticker records (~100 bytes each: ``ticker_symbol``, ``sector``,
``change``, ``price``, ``event_time_ms``) over ``--keys`` symbols (``S0000``…), produced once
into a fresh topic of ``--partitions`` partitions, keyed by symbol. Event times span
~1,000 s whatever the count (~1 ms per record for 1M: ~17 one-minute windows per key) and
are also the Kafka
timestamps, so ROWTIME, Faust's ``relative_to_stream`` and ``EVENT_TIME`` agree.

Then, on that same topic, each in its own fresh process and consumer group, one at a time:

* ``sql`` — the Shardline SQL application (``GROUP BY TICKER_SYMBOL, STEP(EVENT_TIME BY
  INTERVAL '60' SECOND)`` with COUNT/SUM/MIN/MAX/AVG) on the exactly-once runtime: one
  worker, Kafka transactions, changelog and JSON results written to Kafka.
* ``faust`` — what a Faust user writes first: an agent over a ``faust.Record`` stream, one
  event at a time, updating a tumbling(60 s) windowed table (in-memory store + changelog,
  at-least-once, Faust defaults but a 1 s commit interval), results sent on window close.
* ``ceiling`` — a confluent-kafka ``consume(1000)`` loop (read_committed) that decodes every
  record with the SQL application's decoder and commits offsets; no processing.

Each run is measured from outside: this process polls the group's committed offsets. The
clock starts at the first commit and stops when every input offset is committed; records/s
counts what was committed in between. CPU seconds (user+system, all threads) over the same
span and the peak RSS (VmHWM) come from ``/proc/<pid>``. Offline numbers (no Kafka) split the
SQL worker's time: decoding alone, the engine alone over pre-decoded rows, and the whole
partition processor (decode + engine + encode).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ground.kafka_config import KafkaConfig

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: import this checkout, not an installed one
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

WINDOW_MS = 60_000
SECTORS = ("TECHNOLOGY", "ENERGY", "HEALTHCARE", "FINANCIAL", "RETAIL", "AUTOMOBILE")
CLK_TCK = os.sysconf("SC_CLK_TCK")

APP_SQL = """\
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(8),
    WINDOW_START  TIMESTAMP,
    TRADES        BIGINT,
    SUM_PRICE     DOUBLE,
    MIN_PRICE     DOUBLE,
    MAX_PRICE     DOUBLE,
    AVG_PRICE     DOUBLE);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM TICKER_SYMBOL,
       STEP(EVENT_TIME BY INTERVAL '60' SECOND),
       COUNT(*), SUM(PRICE), MIN(PRICE), MAX(PRICE), AVG(PRICE)
FROM "SOURCE_SQL_STREAM_001"
GROUP BY TICKER_SYMBOL, STEP(EVENT_TIME BY INTERVAL '60' SECOND);
"""

APP_YAML = """\
ApplicationName: {name}
ApplicationCode: app.sql
Inputs:
  - NamePrefix: SOURCE_SQL_STREAM
    Topic: {topic}
    StartingPosition: TRIM_HORIZON
    PartitionKey: [TICKER_SYMBOL]
    InputSchema:
      RecordFormat:
        RecordFormatType: JSON
      RecordEncoding: UTF-8
      RecordColumns:
        - {{Name: TICKER_SYMBOL, SqlType: VARCHAR(8), Mapping: $.ticker_symbol}}
        - {{Name: SECTOR, SqlType: VARCHAR(16), Mapping: $.sector}}
        - {{Name: CHANGE, SqlType: DOUBLE, Mapping: $.change}}
        - {{Name: PRICE, SqlType: DOUBLE, Mapping: $.price}}
        - {{Name: EVENT_TIME, SqlType: TIMESTAMP, Mapping: $.event_time_ms}}
Outputs:
  - Name: DESTINATION_SQL_STREAM
    Topic: {name}-out
    DestinationSchema: {{RecordFormatType: JSON}}
ErrorOutput:
  Topic: {name}-errors
  RecordFormatType: JSON
EventTime:
  AllowedLatenessMs: 5000
  IdleTimeoutMs: 1000
Runtime:
  CommitIntervalMs: 200
  BatchMaxRecords: {batch}
  ProcessingGuarantee: EXACTLY_ONCE
"""


# -- data ------------------------------------------------------------------------------------


def iter_records(n: int, keys: int, seed: int,
                 start_ms: int) -> Iterator[tuple[str, int, bytes, int]]:
    """``(symbol, event_time_ms, JSON bytes, price in cents)`` in production order; a function
    of the args. The price lets a caller check results without parsing the JSON again."""
    rng = random.Random(seed)
    symbols = [f"S{i:04d}" for i in range(keys)]
    sectors = [SECTORS[i % len(SECTORS)] for i in range(keys)]
    prices = [1000 + rng.randrange(50_000) for _ in range(keys)]  # cents
    t = start_ms
    span = max(1, 2_000_000 // n)  # steps of 0..span ms: ~1,000 s of event time in all
    dumps = orjson.dumps
    rand = rng.random
    for _ in range(n):
        k = int(rand() * keys)
        old = prices[k]
        new = max(100, old + int(rand() * 301) - 150)
        prices[k] = new
        t += int(rand() * (span + 1))
        value = dumps(
            {
                "ticker_symbol": symbols[k],
                "sector": sectors[k],
                "change": (new - old) / 100,
                "price": new / 100,
                "event_time_ms": t,
            }
        )
        yield symbols[k], t, value, new


def generate(n: int, keys: int, seed: int, start_ms: int) -> list[tuple[str, int, bytes]]:
    """``iter_records`` as a list of ``(symbol, event_time_ms, JSON bytes)``."""
    return [(symbol, t, value) for symbol, t, value, _ in iter_records(n, keys, seed, start_ms)]


def partition_of(symbol: str, partitions: int) -> int:
    return zlib.crc32(symbol.encode()) % partitions


def produce_all(
    kafka: KafkaConfig, topic: str, partitions: int, data: Iterable[tuple[str, int, bytes]]
) -> float:
    from ground.kafka import ensure_topics

    ensure_topics(kafka, [topic], partitions)
    producer = Producer(
        kafka.client_config({
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 2_000_000,
            "queue.buffering.max.kbytes": 2_097_151,
            "enable.idempotence": True,
        })
    )
    t0 = time.monotonic()
    produce_into(producer, topic, partitions, data, 60)
    return time.monotonic() - t0


def produce_into(
    producer: Producer, topic: str, partitions: int, data: Iterable[tuple[str, int, bytes]],
    flush_s: float,
) -> None:
    """Every record of ``data`` into ``topic``, keyed and partitioned by symbol, flushed."""
    produce = producer.produce
    for symbol, ts, value in data:
        while True:
            try:
                produce(
                    topic, value, symbol.encode(), partition_of(symbol, partitions), timestamp=ts
                )
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(flush_s) != 0:
        raise SystemExit("produce: records left undelivered")


def expected_results(data: list[tuple[str, int, bytes]]) -> dict[tuple[str, int], int]:
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for symbol, ts, _ in data:
        counts[(symbol, ts - ts % WINDOW_MS)] += 1
    return counts


def write_app(folder: Path, name: str, topic: str, batch: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.sql").write_text(APP_SQL)
    (folder / "application.yaml").write_text(APP_YAML.format(name=name, topic=topic, batch=batch))
    return folder


# -- offline numbers ---------------------------------------------------------------------------


def offline(
    app_dir: Path, data: list[tuple[str, int, bytes]], partitions: int, batch: int
) -> dict[str, float]:
    from ground.settings import Settings
    from pipelines.runtime import SourceRecord
    from pipelines.runtime.loop import tune_gc
    from pipelines.sql.appconfig import load_application
    from pipelines.sql.application import SqlApplication, _plan
    from pipelines.sql.decoders import build_decoder
    from pipelines.sql.engine import PartitionEngine
    from pipelines.sql.types import Timestamp

    tune_gc()  # as a worker does: without it, collections of this big heap dominate
    config = load_application(app_dir)
    plan = _plan(config, None)
    decoder = build_decoder(config.inputs[0].input_schema)
    n = len(data)
    out: dict[str, float] = {}

    values = [v for _, _, v in data]
    t0 = time.perf_counter()
    decode = decoder.decode_rows
    decoded = [decode(v)[0] for v in values]
    out["decode"] = n / (time.perf_counter() - t0)

    by_part: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for (symbol, ts, _), row in zip(data, decoded, strict=True):
        by_part[partition_of(symbol, partitions)].append((Timestamp(ts), Timestamp(ts), *row))
    engines = {p: PartitionEngine(plan, partition=p, allowed_lateness_ms=5000) for p in by_part}
    results = 0
    t0 = time.perf_counter()
    for p, rows in by_part.items():
        engine = engines[p]
        for i in range(0, len(rows), batch):
            results += sum(
                len(r)
                for s, r in engine.push("SOURCE_SQL_STREAM_001", rows[i : i + batch]).items()
                if s != "SOURCE_SQL_STREAM_001"
            )
            engine.take_changes()
        results += sum(len(r) for s, r in engine.advance(idle=True).items())
    out["engine"] = n / (time.perf_counter() - t0)
    out["engine_results"] = results

    app = SqlApplication(config, plan, Settings.from_env())
    records: dict[int, list[SourceRecord]] = defaultdict(list)
    for symbol, ts, value in data:
        p = partition_of(symbol, partitions)
        records[p].append(SourceRecord("t", p, len(records[p]), ts, symbol.encode(), value))
    outputs = 0
    t0 = time.perf_counter()
    for p, recs in records.items():
        proc = app.processor(config.inputs[0].topic, p)
        for i in range(0, len(recs), batch):
            outputs += len(proc.process(recs[i : i + batch]))
            proc.take_changes()
        outputs += len(proc.on_idle(0, 0))
    out["processor"] = n / (time.perf_counter() - t0)
    out["processor_outputs"] = outputs
    return out


# -- children ------------------------------------------------------------------------------------


def child_sql(args: argparse.Namespace) -> None:
    from ground.settings import Settings
    from pipelines.runtime import StreamRuntime
    from pipelines.sql.application import load_sql_application

    settings = Settings.from_env()
    app = load_sql_application(args.app_dir, settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runtime = StreamRuntime(app.runtime_config(), settings, app.processor, stop=stop)
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
        stats = runtime.run()
        profiler.stop()
        Path(args.profile).write_text(
            profiler.output_text(unicode=True, color=False, show_all=False)
        )
    else:
        stats = runtime.run()
    print(
        json.dumps(
            {
                "records": stats.records,
                "outputs": stats.outputs,
                "commits": stats.commits,
                "changes": stats.changes,
                "aborts": stats.aborts,
            }
        ),
        flush=True,
    )


def child_ceiling(args: argparse.Namespace) -> None:
    from ground.settings import Settings
    from pipelines.runtime.clients import CONSUMER_FETCH_CONFIG
    from pipelines.sql.appconfig import load_application
    from pipelines.sql.decoders import build_decoder

    settings = Settings.from_env()
    config = load_application(args.app_dir)
    decode = build_decoder(config.inputs[0].input_schema).decode_rows
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    consumer = Consumer(
        settings.kafka.client_config({
            "group.id": args.group,
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
        }, tuning=CONSUMER_FETCH_CONFIG)  # as the runtime: the default 1 s backoff throttles
    )
    consumer.subscribe([args.topic])
    rows = 0
    last_commit = time.monotonic()
    dirty = False
    while not stop.is_set():
        msgs = consumer.consume(1000, 0.1)
        for m in msgs:
            if m.error() is None:
                rows += len(decode(m.value()))
                dirty = True
        now = time.monotonic()
        if dirty and now - last_commit >= 0.2:
            consumer.commit(asynchronous=True)
            last_commit, dirty = now, False
    if dirty:
        consumer.commit(asynchronous=False)
    consumer.close()
    print(json.dumps({"rows": rows}), flush=True)


def child_faust(args: argparse.Namespace) -> None:
    import logging
    from datetime import timedelta

    import faust

    from ground.settings import Settings

    logging.getLogger("faust").setLevel(logging.ERROR)
    settings = Settings.from_env()

    class Ticker(faust.Record, serializer="json"):
        ticker_symbol: str
        sector: str
        change: float
        price: float
        event_time_ms: int

    app = faust.App(
        args.group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=settings.faust_datadir(args.group),
        autodiscover=False,
        web_enabled=False,
        topic_partitions=args.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
    )
    source = app.topic(args.topic, value_type=Ticker)
    results = app.topic(f"{args.group}-out", value_serializer="json", partitions=args.partitions)
    emitted = [0]

    def on_close(key: Any, value: list[Any]) -> None:
        symbol, (start, _end) = key
        count, total, low, high = value
        emitted[0] += 1
        results.send_soon(
            key=symbol.encode(),
            value={
                "ticker_symbol": symbol,
                "window_start": start,
                "trades": count,
                "sum_price": total,
                "min_price": low,
                "max_price": high,
                "avg_price": total / count,
            },
        )

    stats = (
        app.Table("stats", default=list, partitions=args.partitions, on_window_close=on_close)
        .tumbling(WINDOW_MS / 1000, expires=timedelta(minutes=2))
        .relative_to_stream()
    )

    @app.agent(source)
    async def aggregate(stream: Any) -> None:
        async for tick in stream:
            cur = stats[tick.ticker_symbol].value()
            p = tick.price
            if cur:
                cur = [cur[0] + 1, cur[1] + p, min(cur[2], p), max(cur[3], p)]
            else:
                cur = [1, p, p, p]
            stats[tick.ticker_symbol] = cur

    worker = faust.Worker(app, loglevel="error", quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit:
        pass
    print(json.dumps({"windows_closed": emitted[0]}), flush=True)


# -- measuring a child from outside ----------------------------------------------------------


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_threads_cpu_s(pid: int) -> dict[str, tuple[float, float]]:
    """User and system CPU s of a process's threads, summed by thread name (digits folded:
    ``data-plane-kafka-request-handler-3`` counts as ``data-plane-kafka-request-handler-N``)."""
    by_name: dict[str, tuple[float, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            with open(task / "stat") as f:
                head, tail = f.read().rsplit(")", 1)
        except OSError:  # the thread ended meanwhile
            continue
        name = re.sub(r"\d+", "N", head.split("(", 1)[1])
        fields = tail.split()
        user, system = by_name.get(name, (0.0, 0.0))
        by_name[name] = (user + int(fields[11]) / CLK_TCK, system + int(fields[12]) / CLK_TCK)
    return by_name


def proc_hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class GroupWatch:
    """Committed offsets of one consumer group over the input topic's partitions."""

    def __init__(self, kafka: KafkaConfig, group: str, topic: str, partitions: int) -> None:
        self._consumer = Consumer(
            kafka.client_config({"group.id": group, "enable.auto.commit": False})
        )
        self._tps = [TopicPartition(topic, p) for p in range(partitions)]

    def committed(self) -> int:
        try:
            got = self._consumer.committed(self._tps, timeout=5)
        except Exception:
            return 0
        return sum(max(tp.offset, 0) for tp in got)

    def close(self) -> None:
        self._consumer.close()


def measure(
    mode: str,
    args: argparse.Namespace,
    *,
    group: str,
    topic: str,
    app_dir: Path,
    total: int,
    kafka: KafkaConfig,
    limit_s: float,
    after: Any = None,
    cmd: list[str] | None = None,
) -> dict[str, Any]:
    """Run a child (this script's ``--child mode``, or ``cmd``) and time it from outside."""
    cmd = cmd or [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        mode,
        "--group",
        group,
        "--topic",
        topic,
        "--app-dir",
        str(app_dir),
        "--partitions",
        str(args.partitions),
    ]
    if mode == "sql" and getattr(args, "profile", None):
        cmd += ["--profile", args.profile]
    watch = GroupWatch(kafka, group, topic, args.partitions)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=str(ROOT), text=True)
    t_first = t_end = None
    start_committed = end_committed = 0
    cpu_first = cpu_end = 0.0
    started = time.monotonic()
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"{mode}: the worker exited early with {proc.returncode}")
            committed = watch.committed()
            now = time.monotonic()
            cpu = proc_cpu_s(proc.pid)
            if t_first is None and committed > 0:
                t_first, start_committed, cpu_first = now, committed, cpu
            if t_first is not None and (committed >= total or now - t_first >= limit_s):
                t_end, end_committed, cpu_end = now, committed, cpu
                break
            if now - started > limit_s + 120:
                raise SystemExit(f"{mode}: nothing committed after {now - started:.0f}s")
            time.sleep(0.02)
        hwm = proc_hwm_mb(proc.pid)
        extra = after() if after is not None else {}
        hwm = max(hwm, proc_hwm_mb(proc.pid))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        watch.close()
    span = t_end - t_first
    records = end_committed - start_committed
    with_startup = False
    if records == 0 and end_committed > 0:
        # Everything was committed by the first sample (a smoke-sized input): measure from
        # the process start instead, a lower bound that includes start-up and group join.
        span, records, with_startup = t_end - started, end_committed, True
        cpu_first = 0.0
    child = {}
    for line in reversed((out or "").splitlines()):
        if line.startswith("{"):
            child = json.loads(line)
            break
    return {
        "mode": mode,
        "records": records,
        "complete": end_committed >= total,
        "with_startup": with_startup,
        "span_s": span,
        "rate": records / span if span > 0 else 0.0,
        "cpu_s": cpu_end - cpu_first,
        "rss_mb": hwm,
        "child": child,
        **extra,
    }


def read_results(
    kafka: KafkaConfig, topic: str, want: int, timeout_s: float
) -> list[dict[str, Any]]:
    """The committed records of ``topic`` once there are ``want`` of them (or at timeout)."""
    consumer = Consumer(
        kafka.client_config({
            "group.id": f"reader-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        })
    )
    consumer.subscribe([topic])
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(got) < want:
        for m in consumer.consume(10_000, 0.2):
            if m.error() is None:
                got.append(orjson.loads(m.value()))
    consumer.close()
    return got


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--keys", type=int, default=1_000)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--batch", type=int, default=5_000, help="the SQL app's BatchMaxRecords")
    ap.add_argument("--smoke", action="store_true", help="20,000 records, quick; for CI")
    ap.add_argument("--only", default="ceiling,sql,faust", help="which runs, comma-separated")
    ap.add_argument(
        "--faust-limit-s",
        type=float,
        default=90.0,
        help="measure the Faust agent over at most this long",
    )
    ap.add_argument("--no-offline", action="store_true")
    ap.add_argument("--profile", help="write a pyinstrument profile of the SQL worker here")
    ap.add_argument("--seed", type=int, default=7)
    # children
    ap.add_argument("--child", choices=["sql", "faust", "ceiling"], help=argparse.SUPPRESS)
    ap.add_argument("--group", help=argparse.SUPPRESS)
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    ap.add_argument("--app-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        {"sql": child_sql, "faust": child_faust, "ceiling": child_ceiling}[args.child](args)
        return

    from ground.settings import Settings

    if args.smoke:
        args.records = min(args.records, 20_000)
        args.faust_limit_s = min(args.faust_limit_s, 20.0)
    settings = Settings.from_env()
    kafka = settings.kafka
    run = f"bench-sql-{uuid.uuid4().hex[:8]}"
    topic = f"{run}.ticker"
    start_ms = (time.time_ns() // 1_000_000 - 3_600_000) // WINDOW_MS * WINDOW_MS

    t0 = time.monotonic()
    data = generate(args.records, args.keys, args.seed, start_ms)
    gen_s = time.monotonic() - t0
    avg_bytes = sum(len(v) for _, _, v in data) / len(data)
    expected = expected_results(data)
    produce_s = produce_all(kafka, topic, args.partitions, data)
    print(
        f"data: {len(data):,} JSON records (~{avg_bytes:.0f} bytes), {args.keys:,} keys, "
        f"{len(expected):,} (key, window) results, topic {topic} ({args.partitions} partitions); "
        f"generated in {gen_s:.1f}s, produced in {produce_s:.1f}s"
    )
    tmp = Path(tempfile.mkdtemp(prefix="sql-bench-"))
    sql_name = f"{run}-sql"
    app_dir = write_app(tmp / "app", sql_name, topic, args.batch)

    offline_numbers: dict[str, float] = {}
    if not args.no_offline:
        offline_numbers = offline(app_dir, data, args.partitions, args.batch)
        assert offline_numbers["engine_results"] == len(expected), offline_numbers
        assert offline_numbers["processor_outputs"] == len(expected), offline_numbers

    try:
        runs: list[dict[str, Any]] = []
        only = args.only.split(",")
        for mode in ("ceiling", "sql", "faust"):
            if mode not in only:
                continue
            group = sql_name if mode == "sql" else f"{run}-{mode}"
            after = None
            if mode == "sql":

                def after() -> dict[str, Any]:
                    rows = read_results(kafka, f"{sql_name}-out", len(expected), 60)
                    return {"results": rows}

            limit = args.faust_limit_s if mode == "faust" else 600.0
            result = measure(
                mode,
                args,
                group=group,
                topic=topic,
                app_dir=app_dir,
                total=len(data),
                kafka=kafka,
                limit_s=limit,
                after=after,
            )
            runs.append(result)
            print(f"  {mode}: {result['rate']:,.0f} records/s", flush=True)

        report(args, runs, offline_numbers, expected, len(data))
    finally:
        from ground.kafka import delete_topics_with_prefix

        delete_topics_with_prefix(kafka, run)


def report(
    args: argparse.Namespace,
    runs: list[dict[str, Any]],
    offline_numbers: dict[str, float],
    expected: dict[tuple[str, int], int],
    total: int,
) -> None:
    by = {r["mode"]: r for r in runs}
    names = {
        "sql": "Shardline SQL (exactly-once)",
        "faust": "plain Faust agent + windowed table",
        "ceiling": "ceiling: consume(n) + decode",
    }
    print()
    print(
        f"{'run (1 worker process each)':38} {'records':>10} {'seconds':>8} {'records/s':>11} "
        f"{'CPU s':>7} {'rec/CPU-s':>10} {'peak RSS':>9}"
    )
    for r in runs:
        cpu_rate = r["records"] / r["cpu_s"] if r["cpu_s"] else 0.0
        note = "" if r["complete"] else "  (time limit: partial)"
        if r.get("with_startup"):
            note += "  (one commit: timed from start-up, a lower bound)"
        print(
            f"{names[r['mode']]:38} {r['records']:>10,} {r['span_s']:>8.1f} {r['rate']:>11,.0f} "
            f"{r['cpu_s']:>7.1f} {cpu_rate:>10,.0f} {r['rss_mb']:>7.0f}MB{note}"
        )
    if "sql" in by:
        sql = by["sql"]["rate"]
        if "faust" in by and by["faust"]["rate"]:
            print(f"SQL / plain Faust: {sql / by['faust']['rate']:.1f}x")
        if "ceiling" in by and by["ceiling"]["rate"]:
            print(f"SQL / ceiling: {sql / by['ceiling']['rate']:.2f}")
    if offline_numbers:
        print(
            "offline, one process, no Kafka: "
            f"decode {offline_numbers['decode']:,.0f}/s, "
            f"engine over decoded rows {offline_numbers['engine']:,.0f}/s, "
            f"processor (decode+engine+encode) {offline_numbers['processor']:,.0f}/s"
        )
    if "sql" in by:
        rows = by["sql"].get("results", [])
        trades = sum(r["TRADES"] for r in rows)
        keys = {(r["TICKER_SYMBOL"], r["WINDOW_START"]) for r in rows}
        ok = len(rows) == len(expected) == len(keys) and trades == total
        print(
            f"SQL results: {len(rows):,} rows for {len(expected):,} (key, window) pairs, "
            f"TRADES sum {trades:,} of {total:,} records: {'OK' if ok else 'MISMATCH'}"
        )
        if not ok:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
