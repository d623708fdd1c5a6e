"""Workload 5, scale-out: the tumbling aggregation with 1 and then 2 worker processes.

    .venv/bin/python benchmarks/scale_out.py                    # 10,000,000 records, 1,000 keys
    .venv/bin/python benchmarks/scale_out.py --keys 100000 --span-s 180 --workers 1  # memory
    .venv/bin/python benchmarks/scale_out.py --smoke            # seconds; checks only

A benchmark, not a test: it prints numbers and asserts only that each run's results are right
(one row per (key, window), counts/sums/min/max equal a Python group-by of the input).

Data: ``sql_tumbling.py``'s JSON ticker records (~100 bytes; ``--keys`` symbols; event times
spanning ~1,000 s, so ~17 one-minute windows per key, ``WINDOW_MS`` = 60 s) produced once into
a fresh topic of ``--partitions`` (12) partitions keyed by symbol. The application is
``sql_tumbling.py``'s (COUNT/SUM/MIN/MAX/AVG per symbol and 60-s ``STEP`` window, exactly-once
runtime, JSON results). For each worker count in ``--workers`` (``1,2``), one after the other,
a fresh application name (so a fresh consumer group, fresh output topic) and that many
``sql_tumbling.py --child sql`` processes started together.

Measured from outside, from the group's committed offsets per partition: the clock starts when
every partition has a committed offset, the group is STABLE with every worker owning
partitions and ``--settle-s`` has passed since the last worker started (so start-up, group
join and the rebalance that the second worker causes are not counted), and stops when
``--stop-fraction`` (90 %) of the input is committed (so the tail, where one worker may have
finished its partitions, is not counted either). Records/s = offsets committed in between /
the span. CPU seconds over the same span and peak RSS (VmHWM) per worker from ``/proc``,
with the broker's CPU seconds and the whole machine's busy CPU seconds (``/proc/stat``): on a
2-core machine the workers share the cores with the broker, so a ratio under 2 can be a
machine with no core left rather than a worker waiting.

Memory: ``--keys 100000 --workers 1`` gives the peak RSS of one worker holding 100,000 keys'
state over the open windows (the allowed lateness keeps one or two 60-s windows per key open
at a time); compare with a 1,000-key run's peak RSS for the state's share.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: import this checkout, not an installed one
    sys.path.insert(0, str(ROOT))
BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from sql_tumbling import (  # noqa: E402
    CLK_TCK,
    WINDOW_MS,
    generate,
    iter_records,
    proc_cpu_s,
    proc_hwm_mb,
    proc_threads_cpu_s,
    produce_all,
    read_results,
    write_app,
)

from ground.kafka_config import KafkaConfig  # noqa: E402

__all__ = ["main"]


def squeeze(data: list[tuple[str, int, bytes]], start_ms: int,
            span_s: float) -> list[tuple[str, int, bytes]]:
    """The same records with their event times scaled into ``span_s`` seconds (same order):
    with a short span every key has records in each window, so all keys' state is open."""
    import orjson

    last = data[-1][1] - start_ms or 1
    out = []
    for symbol, ts, value in data:
        t = start_ms + (ts - start_ms) * int(span_s * 1000) // last
        rec = orjson.loads(value)
        rec["event_time_ms"] = t
        out.append((symbol, t, orjson.dumps(rec)))
    return out


def expected_groups(data: list[tuple[str, int, bytes]]) -> dict[tuple[str, int], list[float]]:
    """(symbol, window start) → [count, sum, min, max] of price: the independent group-by."""
    import orjson

    out: dict[tuple[str, int], list[float]] = {}
    for symbol, ts, value in data:
        add(out, symbol, ts, orjson.loads(value)["price"])
    return out


def add(groups: dict[tuple[str, int], list[float]], symbol: str, ts: int, price: float) -> None:
    key = (symbol, ts - ts % WINDOW_MS)
    cur = groups.get(key)
    if cur is None:
        groups[key] = [1, price, price, price]
    else:
        cur[0] += 1
        cur[1] += price
        cur[2] = min(cur[2], price)
        cur[3] = max(cur[3], price)


def streamed(n: int, keys: int, seed: int, start_ms: int,
             groups: dict[tuple[str, int], list[float]]) -> Iterator[tuple[str, int, bytes]]:
    """``iter_records`` without holding them: the group-by is filled in as the records go by
    (the price comes with each record, so nothing is parsed again)."""
    for symbol, ts, value, cents in iter_records(n, keys, seed, start_ms):
        add(groups, symbol, ts, cents / 100)
        yield symbol, ts, value


def window_ms(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    from datetime import datetime

    text = str(value).replace(" ", "T").replace("Z", "+00:00")
    if "+" not in text[10:]:
        text += "+00:00"
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def check(rows: list[dict[str, Any]], want: dict[tuple[str, int], list[float]]) -> bool:
    got: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        key = (r["TICKER_SYMBOL"], window_ms(r["WINDOW_START"]))
        if key in got:
            return False  # a window twice
        got[key] = [r["TRADES"], r["SUM_PRICE"], r["MIN_PRICE"], r["MAX_PRICE"]]
    if got.keys() != want.keys():
        return False
    return all(
        g[0] == w[0] and abs(g[1] - w[1]) <= 1e-6 * max(1.0, abs(w[1])) and g[2] == w[2]
        and g[3] == w[3]
        for key, w in want.items()
        for g in (got[key],)
    )


def committed_by_partition(consumer: Consumer, tps: list[TopicPartition]) -> list[int]:
    try:
        got = consumer.committed(tps, timeout=5)
    except Exception:
        return [-1] * len(tps)
    return [tp.offset for tp in got]


def machine_cpu_s() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine since boot, from ``/proc/stat``: the
    span's share of every core, whoever used it."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / CLK_TCK, sum(ticks) / CLK_TCK


def broker_pid(home: Path, given: int | None) -> int | None:
    """The local Kafka broker's pid (``--broker-pid``, or the stack's pid file), if readable."""
    if given:
        return given
    try:
        return int(json.loads((home / "run" / "kafka.pid").read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def group_settled(admin: Any, group: str, members: int) -> bool:
    """The group is STABLE with ``members`` members, each owning partitions: the rebalance
    the last worker caused is over."""
    from confluent_kafka import ConsumerGroupState

    try:
        (future,) = admin.describe_consumer_groups([group], request_timeout=5).values()
        desc = future.result(timeout=10)
    except Exception:
        return False
    return (desc.state == ConsumerGroupState.STABLE and len(desc.members) == members
            and all(m.assignment.topic_partitions for m in desc.members))


def run_workers(n: int, args: argparse.Namespace, topic: str, app_dir: Path, group: str,
                total: int, kafka: KafkaConfig,
                release: Callable[[], None] | None = None) -> dict[str, Any]:
    """Start ``n`` workers and time them (see the module's docstring).

    ``release``, when given, makes the input visible: the input was written in a transaction
    still open, which read_committed workers cannot see. The clock then starts when the group
    is settled and ``release`` is called, so every worker owns its partitions before the first
    record can be read, and every record of the input counts."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(kafka.client_config())
    tps = [TopicPartition(topic, p) for p in range(args.partitions)]
    watch = Consumer(kafka.client_config({"group.id": group, "enable.auto.commit": False}))
    cmd = [sys.executable, str(BENCH / "sql_tumbling.py"), "--child", "sql",
           "--app-dir", str(app_dir)]
    procs = [subprocess.Popen(cmd, cwd=str(ROOT), stdout=subprocess.PIPE, text=True)
             for _ in range(n)]
    last_start = time.monotonic()
    t0 = t1 = None
    c0 = c1 = 0
    cpu0: list[float] = []
    cpu1: list[float] = []
    timed_from_start = False
    t_all = None
    broker0 = broker1 = 0.0
    threads0: dict[str, tuple[float, float]] = {}
    threads1: dict[str, tuple[float, float]] = {}
    machine0 = machine1 = (0.0, 0.0)

    def counters() -> tuple[float, dict[str, tuple[float, float]], tuple[float, float]]:
        """The broker's CPU s, its threads' and the machine's busy and total CPU s, now."""
        if not args.broker:
            return 0.0, {}, machine_cpu_s()
        return proc_cpu_s(args.broker), proc_threads_cpu_s(args.broker), machine_cpu_s()
    try:
        deadline = time.monotonic() + args.timeout_s
        while True:
            for p in procs:
                if p.poll() is not None:
                    raise SystemExit(f"a worker exited early with {p.returncode}")
            offsets = committed_by_partition(watch, tps)
            committed = sum(max(o, 0) for o in offsets)
            now = time.monotonic()
            if release is not None:
                ready = t0 is None and now - last_start >= args.settle_s
                if ready and group_settled(admin, group, n):
                    t0, c0, cpu0 = now, 0, [proc_cpu_s(p.pid) for p in procs]
                    broker0, threads0, machine0 = counters()
                    release()
            elif (t0 is None and all(o >= 0 for o in offsets) and now - last_start >= args.settle_s
                    and group_settled(admin, group, n)):
                t0, c0, cpu0 = now, committed, [proc_cpu_s(p.pid) for p in procs]
                broker0, threads0, machine0 = counters()
            done = committed >= total * args.stop_fraction or committed >= total
            if done and (t0 is not None or release is None):
                if t0 is None or committed - c0 <= 0:  # a smoke-sized input: all done at once
                    t0, c0, cpu0 = last_start, 0, [0.0] * n
                    broker0, threads0, machine0 = counters()
                    timed_from_start = True
                t1, c1, cpu1 = now, committed, [proc_cpu_s(p.pid) for p in procs]
                broker1, threads1, machine1 = counters()
                break
            if now > deadline:
                raise SystemExit(f"{n} worker(s): {committed:,} of {total:,} after "
                                 f"{args.timeout_s:.0f} s")
            time.sleep(0.05)
        # let them finish everything (the last windows close on the idle timeout)
        while time.monotonic() < deadline:
            if sum(max(o, 0) for o in committed_by_partition(watch, tps)) >= total:
                t_all = time.monotonic()
                break
            time.sleep(0.2)
        # idle timeout (1 s) + commit: the last windows come out (behind a repartition, one
        # more commit and fetch: repartition.py waits longer)
        time.sleep(getattr(args, "drain_s", 3.0))
        rss = [proc_hwm_mb(p.pid) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
        watch.close()
    span = t1 - t0
    return {
        "workers": n, "records": c1 - c0, "span_s": span, "rate": (c1 - c0) / span,
        "cpu_s": [b - a for a, b in zip(cpu0, cpu1, strict=True)], "rss_mb": rss,
        "timed_from_start": timed_from_start,
        # the whole input, from the clock's start to its last record committed (0.2 s steps)
        "all_s": (t_all - t0) if t_all is not None and t0 is not None else None,
        "broker_cpu_s": broker1 - broker0 if args.broker else None,
        # the broker's threads by name: (user, system) CPU s over the span
        "broker_threads": {
            name: (u - threads0.get(name, (0.0, 0.0))[0], k - threads0.get(name, (0.0, 0.0))[1])
            for name, (u, k) in threads1.items()
        },
        # busy CPU s of the whole machine and its cores' capacity over the span
        "machine_busy_s": machine1[0] - machine0[0],
        "machine_all_s": machine1[1] - machine0[1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--keys", type=int, default=1_000)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--span-s", type=float, default=0.0,
                    help="squeeze the event times into this many seconds (0: ~1,000 s); "
                         "e.g. 180 with --keys 100000 puts every key in each window")
    ap.add_argument("--workers", default="1,2", help="worker counts to run, one after the other")
    ap.add_argument("--batch", type=int, default=5_000, help="the SQL app's BatchMaxRecords")
    ap.add_argument("--settle-s", type=float, default=1.0,
                    help="start the clock this long after the last worker started, at least")
    ap.add_argument("--stop-fraction", type=float, default=0.9)
    ap.add_argument("--timeout-s", type=float, default=900.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--broker-pid", type=int, help="the Kafka broker's pid (for its CPU s)")
    ap.add_argument("--smoke", action="store_true", help="20,000 records; checks only")
    ap.add_argument("--json", help="write the result rows (compare.py's format) here")
    args = ap.parse_args()
    # SIGTERM (e.g. compare.py's timeout) unwinds like Ctrl-C: the finally blocks stop
    # the worker processes this script started instead of orphaning them
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.smoke:
        args.records = min(args.records, 20_000)
        args.settle_s = 0.0

    from ground.kafka import delete_topics_with_prefix
    from ground.settings import Settings

    settings = Settings.from_env()
    kafka = settings.kafka
    args.broker = broker_pid(settings.home, args.broker_pid)
    run = f"bench-scale-{uuid.uuid4().hex[:8]}"
    topic = f"{run}.ticker"
    start_ms = (time.time_ns() // 1_000_000 - 3_600_000) // WINDOW_MS * WINDOW_MS
    want: dict[tuple[str, int], list[float]] = {}
    print(f"producing {args.records:,} JSON records into {topic} ...", flush=True)
    if args.span_s:  # squeezing needs the last event time first: held in memory
        data = squeeze(generate(args.records, args.keys, args.seed, start_ms), start_ms,
                       args.span_s)
        want = expected_groups(data)
        produce_s = produce_all(kafka, topic, args.partitions, data)
        del data
    else:  # generated while produced: any number of records in little memory
        produce_s = produce_all(kafka, topic, args.partitions,
                                streamed(args.records, args.keys, args.seed, start_ms, want))
    total = sum(int(g[0]) for g in want.values())
    windows_per_key = len({start for _, start in want})
    print(f"data: {total:,} JSON records, {args.keys:,} keys, {len(want):,} (key, window) "
          f"results, {windows_per_key} windows, topic {topic} ({args.partitions} partitions); "
          f"generated and produced in {produce_s:.1f}s", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    results: list[dict[str, Any]] = []
    ok = True
    try:
        for n in (int(x) for x in args.workers.split(",")):
            name = f"{run}-w{n}"
            app_dir = write_app(tmp / name, name, topic, args.batch)
            r = run_workers(n, args, topic, app_dir, name, total, kafka)
            rows = read_results(kafka, f"{name}-out", len(want), 120)
            r["ok"] = check(rows, want)
            r["rows"] = len(rows)
            ok = ok and r["ok"]
            results.append(r)
            print(f"  {n} worker(s): {r['rate']:,.0f} records/s, results "
                  f"{'OK' if r['ok'] else 'MISMATCH'} ({len(rows):,} rows)", flush=True)
    finally:
        delete_topics_with_prefix(kafka, run)

    base = results[0]["rate"] if results else 0.0
    print()
    print(f"{'workers':>7} {'records':>10} {'seconds':>8} {'records/s':>10} {'ratio':>6} "
          f"{'CPU s per worker':>20} {'peak RSS per worker':>22} {'check':>8}")
    out_rows = []
    for r in results:
        ratio = r["rate"] / base if base else 0.0
        cpu = "/".join(f"{c:.1f}" for c in r["cpu_s"])
        rss = "/".join(f"{m:.0f}" for m in r["rss_mb"])
        if args.smoke:
            print(f"{r['workers']:>7} {'-':>10} {'-':>8} {'-':>10} {'-':>6} {'-':>20} "
                  f"{'-':>22} {'OK' if r['ok'] else 'MISMATCH':>8}")
        else:
            print(f"{r['workers']:>7} {r['records']:>10,} {r['span_s']:>8.1f} {r['rate']:>10,.0f}"
                  f" {ratio:>6.2f} {cpu:>20} {rss + ' MB':>22} "
                  f"{'OK' if r['ok'] else 'MISMATCH':>8}")
        key_windows = args.keys * windows_per_key
        note = (f"{'OK' if r['ok'] else 'MISMATCH'}; {args.partitions} partitions, JSON input, "
                f"{args.keys} keys; CPU s per worker {cpu}, peak RSS per worker {rss} MB; "
                f"ratio to 1 worker {ratio:.2f}")
        if r["broker_cpu_s"] is not None:
            note += f"; Kafka broker {r['broker_cpu_s']:.1f} CPU s over the span"
        note += (f"; machine {r['machine_busy_s']:.1f} of {r['machine_all_s']:.1f} CPU s busy "
                 f"over the span")
        if r["timed_from_start"]:
            note += "; timed from start-up (smoke-sized)"
        if args.keys >= 100_000:
            note += (f"; {key_windows:,} key-windows over the run, "
                     f"{max(r['rss_mb']) * 2**20 / max(1, args.keys):,.0f} B of peak RSS per key")
        out_rows.append({
            "workload": f"scale-out tumbling, {r['workers']} worker(s)", "system": "shardline",
            "records": r["records"],
            "records_per_s": None if args.smoke else round(r["rate"]),
            "runs": [] if args.smoke else [round(r["rate"])],
            "cpu_s": None if args.smoke else round(sum(r["cpu_s"]), 2),
            "peak_rss_mb": None if args.smoke else round(max(r["rss_mb"]), 1),
            "latency_p50_ms": None, "latency_p99_ms": None, "note": note,
        })
    if not args.smoke:
        for r in results:
            broker = (f"Kafka broker (pid {args.broker}) {r['broker_cpu_s']:.1f}, "
                      if r["broker_cpu_s"] is not None else "")
            other = r["machine_busy_s"] - sum(r["cpu_s"]) - (r["broker_cpu_s"] or 0.0)
            print(f"{r['workers']} worker(s), CPU s over the {r['span_s']:.1f} s span: workers "
                  f"{sum(r['cpu_s']):.1f}, {broker}everything else {other:.1f}; machine busy "
                  f"{r['machine_busy_s']:.1f} of {r['machine_all_s']:.1f}")
    if len(results) == 2 and base and not args.smoke:
        print(f"2 workers / 1 worker: {results[1]['rate'] / base:.2f}x (target >= 1.6x)")
    if args.json:
        Path(args.json).write_text(json.dumps(out_rows, indent=1))
    if not ok:
        print("MISMATCH")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
