"""Shardline against its peers, side by side: same machine, same Kafka, same data, one run.

    .venv/bin/python benchmarks/compare.py                  # every workload, 3 runs each
    .venv/bin/python benchmarks/compare.py --smoke          # tiny, 1 run: checks it works (CI)
    .venv/bin/python benchmarks/compare.py --workloads 1,2 --runs 5 --json out.json

A benchmark, not a test: it prints a table (markdown) and exits 1 only when a system's
results disagree with the independent computation over the same input.

The local stack is brought up if it is not running (and stopped at the end only if this
command started it). Data is loaded once per data set: seeded Avro trade records
(``schemas/trade.avsc``, Confluent framing, ~100 bytes: the ticker's symbol, sector, change,
price and event time plus a trade's id, exchange, quantity, side, account, order id and
currency, which every system decodes and carries but does not aggregate), keyed by symbol,
Kafka timestamp = event time (~1,000 s of event time whatever the count, so many 60-s windows
per key), into a fresh topic of ``--partitions`` partitions.

Workloads (each run a fresh process and consumer group, measured from outside by polling the
group's committed offsets: records/s over the span from the first commit to the last record
or the time limit; CPU seconds and peak RSS from ``/proc``; median of ``--runs``):

1. **ingest ceiling** — confluent-kafka ``consume(1000)`` + fastavro ``schemaless_reader`` per
   record, offsets committed: the physical limit of one Python process here.
2. **tumbling** — COUNT/SUM/MIN/MAX of price per symbol, 60-s event-time windows, with
   ``--keys`` and ``--keys-large`` symbols. Systems: Shardline SQL (``STEP(… BY INTERVAL '60'
   SECOND)`` GROUP BY, exactly-once runtime), a plain Faust agent (one event at a time, a
   tumbling windowed table, results on window close), Quix Streams (``tumbling_window`` +
   ``agg`` + ``final()``, in its own virtualenv: ``benchmarks/peers/quix_app.py``).
3. **sliding** — ``AVG(price) OVER (PARTITION BY symbol RANGE INTERVAL '1' MINUTE
   PRECEDING)``: Shardline SQL and Quix Streams (``sliding_window`` + ``Mean`` + ``current()``).
   Plain Faust has no sliding windows; a Faust user would keep per-key lists by hand, which
   is not a like-for-like peer, so it is not run.
4. **end to end** — ``benchmarks/end_to_end.py`` (producer → SQL → MinIO and Elasticsearch,
   latency p50/p99).
5. **scale-out** — ``benchmarks/scale_out.py`` (1 and 2 workers on 12 partitions).

Slow peers are measured over at most ``--limit-s`` seconds (their rate is steady; the note
column says so). Correctness: Shardline's windows must equal the expected counts exactly (or
the command exits 1); each peer's emitted windows are compared with the expected counts too,
and the note column says how many disagree (a peer stopped at the time limit has emitted only
the windows it closed).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ground.kafka_config import KafkaConfig

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import fastavro  # noqa: E402
import sql_tumbling as st  # noqa: E402
from confluent_kafka import Consumer, Producer  # noqa: E402

WINDOW_MS = 60_000
QUIX_VERSION = "3.28.1"
SCHEMA = "trade"  # schemas/trade.avsc: the ticker's fields + a trade's, ~100 bytes framed
SCHEMA_FILE = ROOT / "schemas" / f"{SCHEMA}.avsc"
EXCHANGES = ("XNAS", "XNYS", "ARCX", "BATS", "EDGX", "IEXG")
ROW_KEYS = ("workload", "system", "records", "records_per_s", "runs", "cpu_s", "peak_rss_mb",
            "latency_p50_ms", "latency_p99_ms", "note")

TUMBLING_SQL = st.APP_SQL  # COUNT/SUM/MIN/MAX/AVG per symbol, STEP(EVENT_TIME BY 60 s)
SLIDING_SQL = """\
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(8),
    EVENT_TIME    TIMESTAMP,
    AVG_PRICE     DOUBLE);

CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM TICKER_SYMBOL, EVENT_TIME,
       AVG(PRICE) OVER (PARTITION BY TICKER_SYMBOL RANGE INTERVAL '1' MINUTE PRECEDING)
FROM "SOURCE_SQL_STREAM_001";
"""
AVRO_APP_YAML = st.APP_YAML.replace(
    "        RecordFormatType: JSON\n      RecordEncoding: UTF-8\n",
    f"        RecordFormatType: AVRO\n        AvroSchema: {SCHEMA}\n",
)
assert f"AvroSchema: {SCHEMA}" in AVRO_APP_YAML, "sql_tumbling.APP_YAML's format lines moved"


# -- data ------------------------------------------------------------------------------------
class Dataset:
    """One seeded data set in one topic, with the expected (symbol, window) counts."""

    def __init__(self, name: str, topic: str, records: int, keys: int) -> None:
        self.name, self.topic, self.records, self.keys = name, topic, records, keys
        self.expected: dict[tuple[str, int], int] = defaultdict(int)
        self.bytes = 0


def avro_records(n: int, keys: int, seed: int, start_ms: int) -> Iterator[tuple[str, int, bytes]]:
    """``(symbol, event_time_ms, Confluent-framed Avro of schemas/trade.avsc)``, a function of
    the arguments. Symbols, prices and times are the same random walk as
    ``sql_tumbling.generate`` (so the same windows as with the ticker records); the trade's
    other fields come from a second generator, so they do not change that walk."""
    from schemas import load_schema, schema_id

    parsed = load_schema(SCHEMA)
    header = struct.pack(">bI", 0, schema_id(SCHEMA))
    rng = random.Random(seed)
    symbols = [f"S{i:05d}" for i in range(keys)]
    sectors = [st.SECTORS[i % len(st.SECTORS)] for i in range(keys)]
    prices = [1000 + rng.randrange(50_000) for _ in range(keys)]
    span = max(1, 2_000_000 // n)
    t, rand, write = start_ms, rng.random, fastavro.schemaless_writer
    other = random.Random(f"trade-{seed}")
    more, bits = other.random, other.getrandbits
    trade_id = 1 << 61 | bits(56)  # a 64-bit feed sequence: 9 bytes as an Avro long
    for _ in range(n):
        k = int(rand() * keys)
        old = prices[k]
        new = prices[k] = max(100, old + int(rand() * 301) - 150)
        t += int(rand() * (span + 1))
        trade_id += 1
        buf = io.BytesIO()
        buf.write(header)
        write(buf, parsed, {
            "ticker_symbol": symbols[k], "sector": sectors[k], "change": (new - old) / 100,
            "price": new / 100, "event_time_ms": t, "trade_id": trade_id,
            "exchange": EXCHANGES[int(more() * len(EXCHANGES))],
            "quantity": 1 + int(more() * 2_000), "side": "BUY" if more() < 0.5 else "SELL",
            "account_id": f"ACCT-{int(more() * 10_000_000):07d}",
            "order_id": f"{bits(64):016x}", "currency": "USD"})
        yield symbols[k], t, buf.getvalue()


def load(kafka: KafkaConfig, name: str, topic: str, records: int, keys: int, partitions: int,
         seed: int) -> Dataset:
    from ground.kafka import ensure_topics

    ensure_topics(kafka, [topic], partitions)
    data = Dataset(name, topic, records, keys)
    producer = Producer(kafka.client_config({
        "linger.ms": 20, "enable.idempotence": True, "batch.num.messages": 10_000,
        "queue.buffering.max.messages": 2_000_000,
    }))
    start_ms = (time.time_ns() // 1_000_000 - 3_600_000) // WINDOW_MS * WINDOW_MS
    t0 = time.monotonic()
    for symbol, ts, value in avro_records(records, keys, seed, start_ms):
        data.expected[(symbol, ts - ts % WINDOW_MS)] += 1
        data.bytes += len(value)
        while True:
            try:
                producer.produce(topic, value, symbol.encode(),
                                 st.partition_of(symbol, partitions), timestamp=ts)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(120) != 0:
        raise SystemExit("load: records left undelivered")
    print(f"data {name}: {records:,} Avro records (~{data.bytes / records:.0f} bytes), "
          f"{keys:,} keys, {len(data.expected):,} (key, window) pairs, topic {topic}; "
          f"loaded in {time.monotonic() - t0:.1f}s", flush=True)
    return data


# -- children ----------------------------------------------------------------------------------
def child_ceiling(args: argparse.Namespace) -> None:
    """consume(n) + fastavro per record + commits: nothing else."""
    from ground.settings import Settings
    from pipelines.runtime.clients import CONSUMER_FETCH_CONFIG

    parsed = fastavro.parse_schema(json.loads(SCHEMA_FILE.read_text()))
    read = fastavro.schemaless_reader
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    consumer = Consumer(Settings.from_env().kafka.client_config({
        "group.id": args.group, "enable.auto.commit": False, "auto.offset.reset": "earliest",
    }, tuning=CONSUMER_FETCH_CONFIG))
    consumer.subscribe([args.topic])
    rows, last, dirty = 0, time.monotonic(), False
    while not stop.is_set():
        for m in consumer.consume(1000, 0.1):
            if m.error() is None:
                read(io.BytesIO(m.value()[5:]), parsed, None)
                rows += 1
                dirty = True
        if dirty and time.monotonic() - last >= 0.2:
            consumer.commit(asynchronous=True)
            last, dirty = time.monotonic(), False
    if dirty:
        try:
            consumer.commit(asynchronous=False)
        except Exception:  # nothing new to store since the last asynchronous commit
            pass
    consumer.close()
    print(json.dumps({"rows": rows}), flush=True)


def child_faust(args: argparse.Namespace) -> None:
    """What a Faust user writes first: one event at a time into a tumbling windowed table."""
    import logging
    from datetime import timedelta

    import faust

    from ground.settings import Settings

    logging.getLogger("faust").setLevel(logging.ERROR)
    settings = Settings.from_env()
    parsed = fastavro.parse_schema(json.loads(SCHEMA_FILE.read_text()))
    read = fastavro.schemaless_reader
    app = faust.App(args.group, broker=f"kafka://{settings.kafka_bootstrap}", store="memory://",
                    datadir=settings.faust_datadir(args.group), autodiscover=False,
                    web_enabled=False, topic_partitions=args.partitions,
                    topic_replication_factor=1, consumer_auto_offset_reset="earliest",
                    broker_commit_interval=1.0)
    source = app.topic(args.topic, key_serializer="raw", value_serializer="raw")
    results = app.topic(f"{args.group}-out", value_serializer="json", partitions=args.partitions)

    def on_close(key: Any, value: list[Any]) -> None:
        symbol, (start, _end) = key
        results.send_soon(key=symbol.encode(), value={
            "ticker_symbol": symbol, "window_start": int(round(start * 1000)),
            "count": value[0], "sum": value[1], "min": value[2], "max": value[3]})

    stats = (app.Table("stats", default=list, partitions=args.partitions,
                       on_window_close=on_close)
             .tumbling(WINDOW_MS / 1000, expires=timedelta(minutes=2)).relative_to_stream())

    @app.agent(source)
    async def aggregate(stream: Any) -> None:
        async for raw in stream:
            tick = read(io.BytesIO(raw[5:]), parsed, None)
            symbol, p = tick["ticker_symbol"], tick["price"]
            cur = stats[symbol].value()
            stats[symbol] = ([cur[0] + 1, cur[1] + p, min(cur[2], p), max(cur[3], p)]
                             if cur else [1, p, p, p])

    worker = faust.Worker(app, loglevel="error", quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit:
        pass


# -- the Quix Streams virtualenv ---------------------------------------------------------------
def quix_python() -> Path:
    """A cached virtualenv with Quix Streams (never installed into Shardline's own)."""
    from ground.settings import Settings

    venv = Settings.from_env().cache.expanduser() / f"bench-venv-quix-{QUIX_VERSION}"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if not stamp.exists():
        print(f"creating {venv} with quixstreams=={QUIX_VERSION} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        f"quixstreams=={QUIX_VERSION}", "fastavro"], check=True)
        stamp.touch()
    return python


# -- running and checking ----------------------------------------------------------------------
def read_topic(kafka: KafkaConfig, topic: str, settle_s: float = 3.0, timeout_s: float = 60,
               want: int | None = None) -> list[tuple[bytes | None, dict[str, Any]]]:
    """Everything committed in ``topic``: read until ``want`` records are there, or else until
    nothing new arrives for ``settle_s``."""
    consumer = Consumer(kafka.client_config({
        "group.id": f"cmp-{uuid.uuid4().hex}", "isolation.level": "read_committed",
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
    }))
    consumer.subscribe([topic])
    out: list[tuple[bytes | None, dict[str, Any]]] = []
    quiet_since = time.monotonic()
    deadline = quiet_since + timeout_s
    while time.monotonic() < deadline:
        if want is None and time.monotonic() - quiet_since >= settle_s:
            break
        if want is not None and len(out) >= want:
            break
        msgs = consumer.consume(10_000, 0.2)
        for m in msgs:
            if m.error() is None and m.value():
                out.append((m.key(), json.loads(m.value())))
        if msgs:
            quiet_since = time.monotonic()
    consumer.close()
    return out


def check_windows(system: str, data: Dataset, got: list[tuple[str, int, int]],
                  complete: bool) -> str:
    """``got``: (symbol, window start ms, count). Complete runs must equal the expected
    counts exactly; partial ones must be right for every window they emitted."""
    seen: dict[tuple[str, int], int] = {}
    for symbol, start, count in got:
        if (symbol, start) in seen:
            raise SystemExit(f"{system}: window {(symbol, start)} emitted twice")
        seen[(symbol, start)] = count
    wrong = [k for k, c in seen.items() if data.expected.get(k) != c]
    if wrong and system == "sql":
        raise SystemExit(f"{system}: {len(wrong)} of {len(seen)} windows disagree with the "
                         f"expected counts, e.g. {wrong[:3]}")
    if wrong:  # a peer's wrong answer is a finding to report, not a broken benchmark
        return f"WRONG: {len(wrong):,} of {len(seen):,} emitted windows have other counts"
    if complete and len(seen) != len(data.expected):
        raise SystemExit(f"{system}: {len(seen)} windows for {len(data.expected)} expected")
    if not seen:
        return "no window closed within the time limit: nothing to check"
    return f"{len(seen):,} windows checked"


class Runner:
    def __init__(self, args: argparse.Namespace, kafka: KafkaConfig, run: str, tmp: Path) -> None:
        self.args, self.kafka, self.run_id, self.tmp = args, kafka, run, tmp
        self.rows: list[dict[str, Any]] = []
        self._quix: Path | None = None

    def quix(self) -> Path:
        if self._quix is None:
            self._quix = quix_python()
        return self._quix

    def app_dir(self, name: str, topic: str, sql: str) -> Path:
        folder = self.tmp / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "app.sql").write_text(sql)
        (folder / "application.yaml").write_text(
            AVRO_APP_YAML.format(name=name, topic=topic, batch=self.args.batch))
        return folder

    def one(self, workload: str, system: str, data: Dataset, limit_s: float,
            sql: str | None = None) -> dict[str, Any]:
        """One measured run of ``system`` over ``data``; checked; returns the measurement."""
        name = f"{self.run_id}-{system}-{uuid.uuid4().hex[:6]}"
        me = [sys.executable, str(Path(__file__).resolve())]
        common = ["--group", name, "--topic", data.topic, "--partitions",
                  str(self.args.partitions)]
        app_dir = self.tmp
        if system == "sql":
            app_dir = self.app_dir(name, data.topic, sql or TUMBLING_SQL)
            cmd = [sys.executable, str(ROOT / "benchmarks" / "sql_tumbling.py"), "--child", "sql",
                   "--app-dir", str(app_dir), *common]
        elif system == "quix":
            cmd = [str(self.quix()), str(ROOT / "benchmarks" / "peers" / "quix_app.py"),
                   "--workload", "sliding" if sql == SLIDING_SQL else "tumbling",
                   "--bootstrap", self.kafka.bootstrap, "--group", name, "--topic", data.topic,
                   "--out", f"{name}-out", "--schema", str(SCHEMA_FILE),
                   "--state-dir", str(self.tmp / f"{name}-state")]
        else:
            cmd = [*me, "--child", system, *common]
        def while_running() -> dict[str, Any]:
            # Shardline closes its last windows on the idle timeout: read while it runs
            want = data.records if workload == "sliding" else len(data.expected)
            return {"out": read_topic(self.kafka, f"{name}-out", want=want)}

        result = st.measure(system, self.args, group=name, topic=data.topic, app_dir=app_dir,
                            total=data.records, kafka=self.kafka, limit_s=limit_s,
                            cmd=cmd, after=while_running if system == "sql" else None)
        out = result.pop("out", None)
        if out is None and system != "ceiling":
            out = read_topic(self.kafka, f"{name}-out")
        result["check"] = self.check(workload, system, data, out or [], result["complete"])
        return result

    def check(self, workload: str, system: str, data: Dataset,
              out: list[tuple[bytes | None, dict[str, Any]]], complete: bool) -> str:
        if system == "ceiling":
            return "offsets only"
        if workload == "sliding":
            if complete and len(out) != data.records:
                raise SystemExit(f"{system}: {len(out)} sliding results for {data.records}")
            return f"{len(out):,} results (one per record)" + ("" if complete else ", partial")
        if system == "sql":
            got = [(v["TICKER_SYMBOL"], st_window(v["WINDOW_START"]), v["TRADES"])
                   for _, v in out]
        elif system == "faust":
            got = [(v["ticker_symbol"], v["window_start"], v["count"]) for _, v in out]
        else:  # quix: key = symbol, value = {start, end, count, …}
            got = [(k.decode(), v["start"], v["count"]) for k, v in out if k]
        return check_windows(system, data, got, complete and system == "sql")

    def workload(self, workload: str, label: str, data: Dataset, systems: list[str],
                 sql: str | None = None) -> None:
        for system in systems:
            slow = system in ("faust", "quix")
            limit = self.args.limit_s if slow else 600.0
            runs = [self.one(workload, system, data, limit, sql)
                    for _ in range(1 if slow and not self.args.smoke else self.args.runs)]
            rates = [r["rate"] for r in runs]
            mid = sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]
            note = runs[-1]["check"]
            if not all(r["complete"] for r in runs):
                note += f"; measured over ≤ {limit:.0f} s"
            if any(r.get("with_startup") for r in runs):
                note += "; timed from start-up"
            row = dict.fromkeys(ROW_KEYS)
            row.update(workload=label, system=system, records=mid["records"],
                       records_per_s=statistics.median(rates), runs=rates,
                       cpu_s=mid["cpu_s"], peak_rss_mb=mid["rss_mb"], note=note)
            self.rows.append(row)
            print(f"  {label} / {system}: {row['records_per_s']:,.0f} records/s "
                  f"({', '.join(f'{x:,.0f}' for x in rates)}), {note}", flush=True)

    def script(self, name: str, extra: list[str]) -> None:
        """workloads 4 and 5: their own scripts, rows merged from their --json."""
        out = self.tmp / f"{name}.json"
        cmd = [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--json", str(out),
               *(["--smoke"] if self.args.smoke else []), *extra]
        print(f"  running {' '.join(cmd[1:])}", flush=True)
        proc = subprocess.run(cmd, cwd=ROOT, timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"{name}.py failed with {proc.returncode}")
        self.rows.extend(json.loads(out.read_text()))


def st_window(value: Any) -> int:
    """WINDOW_START as the SQL app writes it (epoch ms or an ISO timestamp) → epoch ms."""
    if isinstance(value, int):
        return value
    from datetime import datetime

    text = str(value).replace(" ", "T")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def table(rows: list[dict[str, Any]]) -> str:
    def fmt(v: Any, spec: str) -> str:
        return "–" if v is None else format(v, spec)

    by = {(r["workload"], r["system"]): r for r in rows}
    lines = ["| workload | system | records/s (median) | CPU s | peak RSS MB | p50 / p99 ms "
             "| Shardline ÷ this | note |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        sql = by.get((r["workload"], "sql"))
        ratio = ("" if sql is None or r["system"] == "sql" or not r["records_per_s"]
                 else f"{sql['records_per_s'] / r['records_per_s']:.2f}×")
        if r["system"] == "ceiling" and r["workload"].startswith("1"):
            ratio = ""
        lat = ("–" if r["latency_p50_ms"] is None
               else f"{r['latency_p50_ms']:,.0f} / {r['latency_p99_ms']:,.0f}")
        lines.append(f"| {r['workload']} | {r['system']} | {fmt(r['records_per_s'], ',.0f')} | "
                     f"{fmt(r['cpu_s'], '.1f')} | {fmt(r['peak_rss_mb'], '.0f')} | {lat} | "
                     f"{ratio} | {r['note'] or ''} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--records", type=int, default=5_000_000, help="the 1,000-key data set")
    ap.add_argument("--keys", type=int, default=1_000)
    ap.add_argument("--records-large", type=int, default=2_000_000, help="the large key set")
    ap.add_argument("--keys-large", type=int, default=100_000)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--batch", type=int, default=5_000, help="the SQL apps' BatchMaxRecords")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--limit-s", type=float, default=60.0, help="time limit for slow peers")
    ap.add_argument("--workloads", default="1,2,3,4,5")
    ap.add_argument("--no-quix", action="store_true", help="skip the Quix Streams peer")
    ap.add_argument("--no-faust", action="store_true", help="skip the plain Faust peer")
    ap.add_argument("--no-large", action="store_true",
                    help="workload 2 on the 1,000-key data set only")
    ap.add_argument("--smoke", action="store_true", help="tiny data, one run; for CI")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--child", choices=["ceiling", "faust"], help=argparse.SUPPRESS)
    ap.add_argument("--group", help=argparse.SUPPRESS)
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        {"ceiling": child_ceiling, "faust": child_faust}[args.child](args)
        return
    if args.smoke:
        args.records, args.records_large, args.keys_large = 20_000, 20_000, 2_000
        args.runs, args.limit_s = 1, 20.0

    from ground.kafka import delete_topics_with_prefix
    from ground.settings import Settings
    from shardline.stack import Stack

    settings = Settings.from_env()
    stack = Stack(settings)
    # servers that already answer (this home's, or someone else's on these ports) are used
    missing = [st_.name for st_ in stack.status() if not st_.healthy]
    started = stack.up(missing) if missing else ()
    kafka = settings.kafka
    run = f"cmp-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="compare-"))
    runner = Runner(args, kafka, run, tmp)
    chosen = set(args.workloads.split(","))
    peers = ([] if args.no_faust else ["faust"]) + ([] if args.no_quix else ["quix"])
    print(f"machine: {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}; "
          f"runs {args.runs}; peers measured over ≤ {args.limit_s:.0f} s", flush=True)
    try:
        small = large = None
        if chosen & {"1", "2", "3"}:
            small = load(kafka, "A", f"{run}-a", args.records, args.keys, args.partitions,
                         args.seed)
        if "1" in chosen:
            runner.workload("1", "1 ingest ceiling", small, ["ceiling"])
        if "2" in chosen:
            runner.workload("2", f"2 tumbling, {args.keys:,} keys", small, ["sql", *peers])
        if "2" in chosen and not args.no_large:
            large = load(kafka, "B", f"{run}-b", args.records_large, args.keys_large,
                         args.partitions, args.seed + 1)
            runner.workload("2", f"2 tumbling, {args.keys_large:,} keys", large,
                            ["sql", *peers])
        if "3" in chosen:
            runner.workload("sliding", f"3 sliding, {args.keys:,} keys", small,
                            ["sql", *([] if args.no_quix else ["quix"])], sql=SLIDING_SQL)
        if "4" in chosen:
            runner.script("end_to_end", [] if args.smoke else ["--rate", "20000",
                                                                "--seconds", "60"])
        if "5" in chosen:
            runner.script("scale_out", [])  # its default 10 M records: spans well past start-up
    finally:
        delete_topics_with_prefix(kafka, run)
        if started:
            stack.down(list(started))
    print()
    print(table(runner.rows))
    ceiling = next((r for r in runner.rows if r["system"] == "ceiling"), None)
    for r in runner.rows:
        if r["system"] == "sql" and ceiling and ceiling["records_per_s"]:
            share = r["records_per_s"] / ceiling["records_per_s"]
            print(f"{r['workload']}: Shardline SQL = {share:.0%} of the ingest ceiling")
    if args.json:
        Path(args.json).write_text(json.dumps(runner.rows, indent=1))


if __name__ == "__main__":
    main()
