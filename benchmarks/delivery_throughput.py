"""Firehose-style delivery throughput: MinIO (GZIP) and Elasticsearch vs the consume ceiling.

    .venv/bin/python benchmarks/delivery_throughput.py              # 1,000,000 records
    .venv/bin/python benchmarks/delivery_throughput.py --smoke      # 20,000 records, quick
    .venv/bin/python benchmarks/delivery_throughput.py --only s3 --profile s3.html

A benchmark, not a test: it prints numbers and asserts only that each run delivered every
record (read back from MinIO and Elasticsearch and counted) and committed every offset.

Data: ``--records`` JSON clickstream records from the producer's generator, each padded to
~200 bytes and carrying its index ``n``, produced once into a fresh topic of ``--partitions``
partitions. Then, on that same topic, each in its own fresh process and consumer group:

* ``ceiling`` — what the delivery worker does before the destination: the worker's consumer
  settings, ``consume(n)``, a ``Record`` per message; no buffering, no sending.
* ``s3`` — ``shardline deliver``'s worker to MinIO, GZIP, ``SizeInMBs`` 5.
* ``es`` — the worker to Elasticsearch/OpenSearch (``_bulk`` requests of ``SizeInMBs`` 5).
* ``mem-N`` — the S3 delivery at ``SizeInMBs`` N (1, 64, 128 by default): the peak RSS is what
  ``max_buffered_mb`` keeps bounded when the buffers of every partition could hold it all.

A child runs until it has consumed every record, then stops its worker (which flushes what is
buffered and commits it, as on SIGTERM). Its rate is records over the time from the first
record consumed to the last commit; CPU seconds (user+system, all threads) over the same span
and the peak RSS (``VmHWM``) are its own. This process then checks the result: the group's
committed offsets equal the end offsets, and MinIO holds (decompressed, counted) / Elasticsearch
counts exactly ``--records`` records with every ``n`` once.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ground.kafka_config import KafkaConfig

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: import this checkout, not an installed one
    sys.path.insert(0, str(ROOT))

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

RECORD_BYTES = 200
DEFAULT_MEMORY_SIZES = (1, 64, 128)
MIB = 1024 * 1024


# -- data ----------------------------------------------------------------------------------


def generate(n: int, seed: int) -> list[bytes]:
    """``n`` JSON records of ~200 bytes: the producer's clickstream, with ``n`` and padding."""
    from shardline.producer.generators import clickstream_records

    start_ms = time.time_ns() // 1_000_000 - 3_600_000
    out: list[bytes] = []
    for i, rec in zip(range(n), clickstream_records(seed, start_ms), strict=False):
        rec["n"] = i
        body = json.dumps(rec, separators=(",", ":"))
        rec["pad"] = "x" * max(0, RECORD_BYTES - len(body) - 9)
        out.append(json.dumps(rec, separators=(",", ":")).encode())
    return out


def produce_all(kafka: KafkaConfig, topic: str, partitions: int, values: list[bytes]) -> float:
    from ground.kafka import ensure_topics

    ensure_topics(kafka, [topic], partitions)
    producer = Producer(kafka.client_config({
        "linger.ms": 20, "batch.num.messages": 10_000,
        "queue.buffering.max.messages": 2_000_000, "queue.buffering.max.kbytes": 2_097_151,
        "enable.idempotence": True, "compression.type": "lz4",
    }))
    t0 = time.monotonic()
    produce = producer.produce
    for i, value in enumerate(values):
        while True:
            try:
                produce(topic, value, b"k%d" % (i % 1000), i % partitions)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(120) != 0:
        raise SystemExit("produce: records left undelivered")
    return time.monotonic() - t0


# -- children ------------------------------------------------------------------------------


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mb() -> float:
    """Peak RSS of this process (VmHWM: unlike ru_maxrss it does not inherit the parent's
    peak across fork + exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child_ceiling(args: argparse.Namespace) -> dict[str, Any]:
    """The worker's consumer and its Record-building loop, nothing after it."""
    from connectors.core.records import Record
    from connectors.core.worker import DEFAULT_CONSUME_BATCH, consumer_config
    from ground.settings import Settings

    settings = Settings.from_env()
    config = consumer_config(settings.kafka, args.group, max_poll_interval_ms=300_000)
    try:  # the fetch settings the delivery worker uses (sized from its memory cap)
        from connectors.core.worker import fetch_config
        config.update(fetch_config(args.max_buffered_mb or None))
    except ImportError:
        pass
    consumer = Consumer(config)
    consumer.subscribe([args.topic])
    seen, first, cpu0 = 0, 0.0, 0.0
    records: list[Record] = []
    while seen < args.total:
        msgs = consumer.consume(DEFAULT_CONSUME_BATCH, 0.25)
        if msgs and not first:
            first, cpu0 = time.monotonic(), _cpu_s()
        records = [
            Record(m.topic(), m.partition(), m.offset(), m.key(), m.value(), m.timestamp()[1])
            for m in msgs if m.error() is None
        ]
        seen += len(records)
        if records:  # what the worker commits after a flush: the next offset per partition
            last = {(r.topic, r.partition): r.offset + 1 for r in records}
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in last.items()],
                            asynchronous=False)
    end, cpu1 = time.monotonic(), _cpu_s()
    consumer.close()
    return {"records": seen, "span_s": end - first, "cpu_s": cpu1 - cpu0}


def child_delivery(args: argparse.Namespace) -> dict[str, Any]:
    """One delivery worker (the one `shardline deliver` runs), stopped once it consumed all."""
    from connectors import DeliveryConfig, build_worker, preflight
    from connectors.core import LoggingMetrics
    from ground.settings import Settings

    settings = Settings.from_env()
    buffering = {"size_mb": args.size_mb, "interval_seconds": 900}
    delivery: dict[str, Any] = {"name": args.name, "topic": args.topic, "group": args.group}
    if args.max_buffered_mb:
        delivery["max_buffered_mb"] = args.max_buffered_mb
    if args.child == "es":
        delivery["elasticsearch"] = {"index": args.target, "buffering": buffering,
                                     "retry": {"duration_seconds": 60}}
    else:
        delivery["s3"] = {"bucket": args.target, "prefix": f"{args.name}/",
                          "compression": "GZIP", "buffering": buffering,
                          "retry": {"duration_seconds": 60}}
    config = DeliveryConfig.from_mapping(delivery)
    preflight(config, settings)
    state = {"consumed": 0, "first": 0.0, "cpu0": 0.0, "paused_max": 0}

    class Watch(LoggingMetrics):
        def on_incoming(self, delivery: str, topic: str, partition: int, records: int,
                        bytes_: int) -> None:
            if not state["first"]:
                state["first"], state["cpu0"] = time.monotonic(), _cpu_s()
            state["consumed"] += records
            if state["consumed"] >= args.total:
                worker.stop()  # flush what is buffered, commit, return

    worker = build_worker(config, settings, metrics=Watch())
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled")
        profiler.start()
    summary = worker.run(until_idle_ms=30_000)
    end, cpu1 = time.monotonic(), _cpu_s()
    if profiler is not None:
        profiler.stop()
        Path(args.profile).write_text(profiler.output_html())
    return {
        "records": summary.records,
        "span_s": end - state["first"],
        "cpu_s": cpu1 - state["cpu0"],
        "flushes": summary.flushes,
        "committed": sum(summary.committed.values()),
        "pauses": summary.pauses,
        "forced": summary.forced_cuts,
    }


def run_child(mode: str, args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode,
           "--topic", args.topic, "--total", str(args.records),
           "--max-buffered-mb", str(extra.pop("max_buffered_mb", args.max_buffered_mb))]
    for key, value in extra.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=str(ROOT), capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{mode}: the child exited with {proc.returncode}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.monotonic() - started
    return result


# -- checking ------------------------------------------------------------------------------


def committed_all(kafka: KafkaConfig, group: str, topic: str, partitions: int) -> bool:
    consumer = Consumer(kafka.client_config({"group.id": group}))
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        got = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=30)}
        end = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
               for p in range(partitions)}
    finally:
        consumer.close()
    return got == end


def s3_numbers(settings: Any, bucket: str, prefix: str) -> list[int]:
    """Every record's ``n`` in the objects under ``prefix`` (decompressed with gzip)."""
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "s3", endpoint_url=settings.s3_endpoint, region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key.reveal(),
        aws_secret_access_key=settings.s3_secret_key.reveal(),
        config=Config(s3={"addressing_style": "path"}),
    )
    out: list[int] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = gzip.decompress(client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            out.extend(json.loads(line)["n"] for line in body.splitlines())
    client.close()
    return out


def es_call(url: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read() or b"null")


def es_numbers(url: str, index: str, total: int) -> tuple[int, bool]:
    """(document count, whether the ``n`` values are exactly 0..total-1): ids are one per
    offset, so a duplicate would raise the count; min, max and sum pin the values."""
    es_call(url, "POST", f"/{index}/_refresh")
    count = es_call(url, "GET", f"/{index}/_count")["count"]
    aggs = es_call(url, "POST", f"/{index}/_search", {
        "size": 0, "aggs": {"lo": {"min": {"field": "n"}}, "hi": {"max": {"field": "n"}},
                            "sum": {"sum": {"field": "n"}}}})["aggregations"]
    exact = (count == total and aggs["lo"]["value"] == 0 and aggs["hi"]["value"] == total - 1
             and aggs["sum"]["value"] == total * (total - 1) // 2)
    return count, exact


# -- main ----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--size-mb", type=int, default=5, help="SizeInMBs of the s3 and es runs")
    ap.add_argument("--memory-sizes", default=",".join(map(str, DEFAULT_MEMORY_SIZES)),
                    help="SizeInMBs of the mem-N runs (comma-separated; empty: none)")
    ap.add_argument("--max-buffered-mb", type=int, default=0,
                    help="the deliveries' max_buffered_mb (0: the default)")
    ap.add_argument("--only", default="ceiling,s3,es,mem", help="which runs, comma-separated")
    ap.add_argument("--smoke", action="store_true", help="20,000 records, quick; for CI")
    ap.add_argument("--profile", help="write a pyinstrument profile (HTML) of each delivery")
    ap.add_argument("--seed", type=int, default=11)
    # children
    ap.add_argument("--child", choices=["ceiling", "s3", "es"], help=argparse.SUPPRESS)
    ap.add_argument("--topic", help=argparse.SUPPRESS)
    ap.add_argument("--total", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--group", help=argparse.SUPPRESS)
    ap.add_argument("--name", help=argparse.SUPPRESS)
    ap.add_argument("--target", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        import logging

        logging.basicConfig(level=logging.WARNING)
        result = (child_ceiling(args) if args.child == "ceiling" else child_delivery(args))
        result["rss_mb"] = _rss_mb()
        print(json.dumps(result), flush=True)
        return

    from ground.kafka import delete_topics_with_prefix
    from ground.settings import Settings

    if args.smoke:
        args.records = min(args.records, 20_000)
        args.memory_sizes = "1"  # with a 1 MB cap: the smoke run pauses and cuts early
    settings = Settings.from_env()
    kafka = settings.kafka
    run = f"bench-dlv-{uuid.uuid4().hex[:8]}"
    args.topic = f"{run}.clicks"
    only = args.only.split(",")

    t0 = time.monotonic()
    values = generate(args.records, args.seed)
    total_bytes = sum(len(v) for v in values)
    gen_s = time.monotonic() - t0
    produce_s = produce_all(kafka, args.topic, args.partitions, values)
    del values
    print(f"data: {args.records:,} JSON records (~{total_bytes / args.records:.0f} bytes, "
          f"{total_bytes / MIB:.0f} MiB), topic {args.topic} ({args.partitions} partitions); "
          f"generated in {gen_s:.1f}s, produced in {produce_s:.1f}s", flush=True)

    import asyncio

    from ground.s3 import S3Client

    bucket = f"{run}-out"

    async def make_bucket() -> None:
        async with S3Client.from_settings(settings) as s3:
            await s3.ensure_bucket(bucket)

    asyncio.run(make_bucket())
    plan: list[tuple[str, str, dict[str, Any]]] = []
    if "ceiling" in only:
        plan.append(("ceiling: consume(n) + Record", "ceiling", {}))
    if "s3" in only:
        plan.append((f"MinIO, GZIP, SizeInMBs {args.size_mb}", "s3", {"size_mb": args.size_mb}))
    if "es" in only:
        plan.append((f"Elasticsearch _bulk, SizeInMBs {args.size_mb}", "es",
                     {"size_mb": args.size_mb}))
    if "mem" in only:
        for size in [int(s) for s in args.memory_sizes.split(",") if s]:
            cap = args.max_buffered_mb or (1 if args.smoke else 0)
            label = f"memory: MinIO, SizeInMBs {size}" + (f", cap {cap} MB" if cap else "")
            plan.append((label, "s3", {"size_mb": size, "max_buffered_mb": cap}))
    runs: list[dict[str, Any]] = []
    failed = False
    try:
        for i, (label, mode, extra) in enumerate(plan):
            name = f"{run}-{i}-{mode}"
            extra = {**extra, "group": name, "name": name}
            if mode == "s3":
                extra["target"] = bucket
            elif mode == "es":
                extra["target"] = name
            if args.profile and mode != "ceiling":
                extra["profile"] = f"{args.profile}.{i}-{mode}.html"
            result = run_child(mode, args, **extra)
            check = "-"
            if mode != "ceiling":
                ok = committed_all(kafka, name, args.topic, args.partitions)
                if mode == "s3":
                    ns = s3_numbers(settings, bucket, f"{name}/")
                    ok = ok and len(ns) == args.records and set(ns) == set(range(args.records))
                    check = f"{len(ns):,} in S3"
                else:
                    count, exact = es_numbers(settings.search_url, name, args.records)
                    es_call(settings.search_url, "DELETE", f"/{name}")
                    ok = ok and exact
                    check = f"{count:,} docs"
                check += " OK" if ok else " MISMATCH"
                failed = failed or not ok
            result.update(label=label, mode=mode, check=check)
            runs.append(result)
            rate = result["records"] / result["span_s"] if result["span_s"] else 0.0
            print(f"  {label}: {rate:,.0f} records/s, {result['rss_mb']:.0f} MB peak RSS "
                  f"({check})", flush=True)
    finally:
        delete_topics_with_prefix(kafka, run)
        try:
            _empty_bucket(settings, bucket)
        except Exception as exc:  # best effort
            print(f"could not remove bucket {bucket}: {exc}")
    report(runs, total_bytes / args.records)
    if failed:
        raise SystemExit(1)


def _empty_bucket(settings: Any, bucket: str) -> None:
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "s3", endpoint_url=settings.s3_endpoint, region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key.reveal(),
        aws_secret_access_key=settings.s3_secret_key.reveal(),
        config=Config(s3={"addressing_style": "path"}),
    )
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    client.delete_bucket(Bucket=bucket)
    client.close()


def report(runs: list[dict[str, Any]], record_bytes: float) -> None:
    print()
    print(f"{'run (1 delivery process each)':36} {'records':>10} {'seconds':>8} "
          f"{'records/s':>11} {'MB/s':>7} {'CPU s':>7} {'peak RSS':>9} {'flushes':>8} "
          f"{'pauses':>7}  check")
    for r in runs:
        rate = r["records"] / r["span_s"] if r["span_s"] else 0.0
        print(f"{r['label']:36} {r['records']:>10,} {r['span_s']:>8.2f} {rate:>11,.0f} "
              f"{rate * record_bytes / 1e6:>7.1f} {r['cpu_s']:>7.1f} {r['rss_mb']:>7.0f}MB "
              f"{r.get('flushes', 0):>8} {r.get('pauses', 0):>7}  {r['check']}")
    ceiling = next((r for r in runs if r["mode"] == "ceiling"), None)
    if ceiling and ceiling["span_s"]:
        top = ceiling["records"] / ceiling["span_s"]
        for r in runs:
            if r["mode"] != "ceiling" and r["span_s"]:
                print(f"{r['label']}: {r['records'] / r['span_s'] / top:.0%} of the ceiling")


if __name__ == "__main__":
    main()
