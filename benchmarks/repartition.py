"""Repartitioning: the per-sector aggregation next to the same aggregation by the key.

    .venv/bin/python benchmarks/repartition.py                # 1,000,000 records, 3 rounds
    .venv/bin/python benchmarks/repartition.py --rounds 5     # more rounds, steadier medians
    .venv/bin/python benchmarks/repartition.py --smoke        # seconds; checks only
    .venv/bin/python benchmarks/repartition.py --only sector/2 --broker-threads
                                            # one kind of run; the broker's busiest threads
    KEEP_TOPICS=1 .venv/bin/python benchmarks/repartition.py  # leave the runs' topics to look at

A benchmark, not a test: it prints numbers and asserts only that each run's results are right.

Data: ``sql_tumbling.py``'s JSON ticker records (1,000 symbols in 6 sectors, event times over
~1,000 s), produced once into a topic of ``--partitions`` (12) partitions keyed by symbol.
Two applications over it, the same tumbling window (COUNT/SUM/MIN/MAX/AVG of the price per
60 s of event time) grouped by:

* ``TICKER_SYMBOL`` — the topic's key: each partition's windows are complete where they are,
  no repartition (``sql_tumbling.py``'s application);
* ``SECTOR`` — not the key: partial aggregates per input partition cross a repartition topic
  (12 partitions) to the stage that merges them (``docs/sql.md``, "Repartitioning").

Each runs with 1 and with 2 worker processes; the four runs go round by round, interleaved
(key/1, sector/1, key/2, sector/2, then again), so a machine shared with other work slows them
alike, and the medians over the rounds are compared: the per-sector rate as a share of the
per-key rate (target >= 60 %), and two workers against one (target >= 1.5x).

The input is held back until every worker owns its partitions: each run gets its own input
topic, written in one Kafka transaction that stays open while the workers start, join the
group and restore; the workers read ``read_committed`` and see nothing yet. Once the group is
STABLE with every worker owning partitions (and ``--settle-s`` after the last one started),
the transaction commits and the clock starts: every record of the input is read after it, by
the workers as they will share it. Records/s is measured from the group's committed input
offsets, as ``scale_out.py`` measures it, up to ``--stop-fraction`` (90 %) of the input (the
tail, where one worker may have finished its partitions, is left out); the time to the whole
input is printed too. Each run is a fresh application (group, repartition topics, outputs)
and its results are checked against a group-by of the input.

The applications' ``IdleTimeoutMs`` is 20 s here (``--idle-timeout-ms``), not 1 s: with 1 s,
every input partition goes idle while the input is held back, and the backlog that then
arrives on all of them at once runs through the idle path (each stage asks the broker
whether an idle partition's input has moved on, :mod:`pipelines.sql.shuffle`). That path
is right — ``--idle-timeout-ms 1000`` gives the same results, checked — but it is not what
this benchmark measures; the last windows close 20 s after the input ended.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
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

from scale_out import broker_pid, run_workers, window_ms  # noqa: E402
from sql_tumbling import (  # noqa: E402
    APP_SQL,
    SECTORS,
    WINDOW_MS,
    iter_records,
    produce_into,
    read_results,
    write_app,
)

from ground.kafka_config import KafkaConfig  # noqa: E402

__all__ = ["main"]

SECTOR_SQL = APP_SQL.replace("TICKER_SYMBOL VARCHAR(8)", "SECTOR VARCHAR(16)").replace(
    "TICKER_SYMBOL", "SECTOR"
)
Groups = dict[tuple[str, int], list[float]]


def group_bys(n: int, keys: int, seed: int, start_ms: int) -> tuple[Groups, Groups]:
    """Both group-bys of the input: by key and by sector."""
    by_key: Groups = {}
    by_sector: Groups = {}
    for symbol, ts, _, cents in iter_records(n, keys, seed, start_ms):
        price = cents / 100
        _add(by_key, symbol, ts, price)
        _add(by_sector, SECTORS[int(symbol[1:]) % len(SECTORS)], ts, price)
    return by_key, by_sector


def produce_held(
    kafka: KafkaConfig, topic: str, partitions: int, data: Iterator[tuple[str, int, bytes]]
) -> tuple[Callable[[], None], float]:
    """Write ``data`` into a new ``topic`` in one transaction left open; returns the call that
    commits it (read_committed readers see the records from then on) and the seconds taken."""
    from confluent_kafka import Producer

    from ground.kafka import ensure_topics

    ensure_topics(kafka, [topic], partitions)
    producer = Producer(kafka.client_config({
        "transactional.id": f"{topic}-input",
        "transaction.timeout.ms": 900_000,  # the broker's default transaction.max.timeout.ms
        "linger.ms": 20,
        "batch.num.messages": 10_000,
        "queue.buffering.max.messages": 2_000_000,
        "queue.buffering.max.kbytes": 2_097_151,
    }))
    t0 = time.monotonic()
    producer.init_transactions(60)
    producer.begin_transaction()
    produce_into(producer, topic, partitions, data, 120)
    seconds = time.monotonic() - t0

    def release() -> None:
        producer.commit_transaction(60)

    return release, seconds


def _add(groups: Groups, key: str, ts: int, price: float) -> None:
    group = (key, ts - ts % WINDOW_MS)
    cur = groups.get(group)
    if cur is None:
        groups[group] = [1, price, price, price]
    else:
        cur[0] += 1
        cur[1] += price
        cur[2] = min(cur[2], price)
        cur[3] = max(cur[3], price)


def check(rows: list[dict[str, Any]], column: str, want: Groups) -> str:
    """What is wrong with the results ("" when nothing is)."""
    got: Groups = {}
    for r in rows:
        key = (r[column], window_ms(r["WINDOW_START"]))
        if key in got:
            return f"window {key} twice"
        got[key] = [r["TRADES"], r["SUM_PRICE"], r["MIN_PRICE"], r["MAX_PRICE"]]
    if got.keys() != want.keys():
        missing, extra = want.keys() - got.keys(), got.keys() - want.keys()
        return f"{len(missing)} windows missing (e.g. {sorted(missing)[:2]}), {len(extra)} extra"
    for key, w in want.items():
        g = got[key]
        if not (g[0] == w[0] and abs(g[1] - w[1]) <= 1e-6 * max(1.0, abs(w[1]))
                and g[2] == w[2] and g[3] == w[3]):  # fmt: skip
            return f"window {key}: {g}, want {w}"
    return ""


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000, help="input records (1,000,000)")
    ap.add_argument("--keys", type=int, default=1_000, help="ticker symbols, the topic's key")
    ap.add_argument("--partitions", type=int, default=12,
                    help="of the input topic, and so of the repartition topic (12)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of the four runs, interleaved; medians over them (3)")
    ap.add_argument("--batch", type=int, default=5_000, help="the apps' BatchMaxRecords")
    ap.add_argument("--settle-s", type=float, default=1.0,
                    help="the clock starts once every worker owns partitions, and no sooner than"
                         " this after the last one started")
    ap.add_argument("--stop-fraction", type=float, default=0.9,
                    help="the clock stops once this share of the input is committed")
    ap.add_argument("--timeout-s", type=float, default=900.0, help="of one run")
    ap.add_argument("--drain-s", type=float, default=30.0,
                    help="after the input is committed, how long the last windows may take"
                         " beyond the idle timeout (on a loaded machine, 8 s was too short)")
    ap.add_argument("--idle-timeout-ms", type=int, default=20_000,
                    help="the apps' EventTime.IdleTimeoutMs: longer than the workers take to"
                         " start while the input is held back (see below)")
    ap.add_argument("--seed", type=int, default=7, help="of the data")
    ap.add_argument("--broker-pid", type=int, help="the Kafka broker's pid (for its CPU s)")
    ap.add_argument("--broker-threads", action="store_true",
                    help="print the broker's busiest threads over each span")
    ap.add_argument("--only", default="",
                    help="run only these, e.g. sector/2 or key/1,sector/1 (default: all four)")
    ap.add_argument("--smoke", action="store_true", help="20,000 records, one round; checks only")
    args = ap.parse_args()
    # SIGTERM unwinds like Ctrl-C: the finally blocks stop the workers this script started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.smoke:
        args.records, args.rounds, args.settle_s = min(args.records, 20_000), 1, 0.0
    # the last windows close on the idle timeout, after the input is committed
    args.drain_s += args.idle_timeout_ms / 1000

    from ground.kafka import delete_topics_with_prefix
    from ground.settings import Settings

    settings = Settings.from_env()
    kafka = settings.kafka
    args.broker = broker_pid(settings.home, args.broker_pid)
    run = f"bench-rp-{uuid.uuid4().hex[:8]}"
    start_ms = (time.time_ns() // 1_000_000 - 3_600_000) // WINDOW_MS * WINDOW_MS
    by_key, by_sector = group_bys(args.records, args.keys, args.seed, start_ms)
    total = sum(int(g[0]) for g in by_key.values())
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} CPUs", flush=True)
    print(f"data: {total:,} records, {args.keys:,} keys in {len(SECTORS)} sectors, "
          f"{len(by_key):,} key windows, {len(by_sector):,} sector windows, "
          f"{args.partitions} partitions; each run's input is written anew and held back "
          f"until its workers own their partitions", flush=True)  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="repartition-bench-"))
    rates: dict[tuple[str, int], list[float]] = {}
    ok = True
    try:
        for round_ in range(1, args.rounds + 1):
            for workers in (1, 2):
                for kind in ("key", "sector"):
                    if args.only and f"{kind}/{workers}" not in args.only.split(","):
                        continue
                    name = f"{run}-{kind}-w{workers}-r{round_}"
                    topic = f"{name}.ticker"
                    data = (r[:3] for r in iter_records(args.records, args.keys, args.seed,
                                                        start_ms))
                    release, produce_s = produce_held(kafka, topic, args.partitions, data)
                    folder = write_app(tmp / name, name, topic, args.batch)
                    if kind == "sector":
                        (folder / "app.sql").write_text(SECTOR_SQL)
                    yaml = folder / "application.yaml"
                    yaml.write_text(yaml.read_text().replace(
                        "IdleTimeoutMs: 1000", f"IdleTimeoutMs: {args.idle_timeout_ms}"))
                    r = run_workers(workers, args, topic, folder, name, total, kafka, release)
                    want, column = (
                        (by_key, "TICKER_SYMBOL") if kind == "key" else (by_sector, "SECTOR")
                    )
                    rows = read_results(kafka, f"{name}-out", len(want), 120)
                    problem = check(rows, column, want)
                    ok = ok and not problem
                    rates.setdefault((kind, workers), []).append(r["rate"])
                    cpu = "/".join(f"{c:.1f}" for c in r["cpu_s"])
                    whole = f"{r['all_s']:.1f} s" if r["all_s"] is not None else "-"
                    broker = (f"{r['broker_cpu_s']:.1f}" if r.get("broker_cpu_s") is not None
                              else "-")
                    print(f"  round {round_}: by {kind:<6} {workers} worker(s): "
                          f"{r['rate']:>9,.0f} records/s over {r['span_s']:.1f} s (the whole "
                          f"input in {whole}; CPU s {cpu}; broker {broker}; machine "
                          f"{r['machine_busy_s']:.1f} of {r['machine_all_s']:.1f} CPU s busy; "
                          f"input written in "
                          f"{produce_s:.1f} s), results {problem or 'OK'}",
                          flush=True)  # fmt: skip
                    if args.broker_threads and r.get("broker_threads"):
                        busiest = sorted(r["broker_threads"].items(), key=lambda kv: -sum(kv[1]))
                        print("    broker threads (user/system CPU s): " + "; ".join(
                            f"{name} {u:.2f}/{k:.2f}" for name, (u, k) in busiest[:8]), flush=True)
                    if not os.environ.get("KEEP_TOPICS"):
                        delete_topics_with_prefix(kafka, name)
    finally:
        if not os.environ.get("KEEP_TOPICS"):
            delete_topics_with_prefix(kafka, run)
    if not args.smoke:
        med = {k: statistics.median(v) for k, v in rates.items()}
        print()
        print(f"{'grouped by':>10} {'workers':>7} {'median records/s':>17}  runs")
        for (kind, workers), values in sorted(rates.items()):
            runs = ", ".join(f"{v:,.0f}" for v in values)
            print(f"{kind:>10} {workers:>7} {med[(kind, workers)]:>17,.0f}  {runs}")
        for workers in (1, 2):
            if ("sector", workers) not in med or ("key", workers) not in med:
                continue
            share = med[("sector", workers)] / med[("key", workers)]
            print(f"{workers} worker(s): by sector / by key = {share:.0%} (target >= 60 %)")
        for kind in ("key", "sector"):
            if (kind, 1) not in med or (kind, 2) not in med:
                continue
            print(f"by {kind}: 2 workers / 1 worker = "
                  f"{med[(kind, 2)] / med[(kind, 1)]:.2f}x (target >= 1.5x)")  # fmt: skip
    if not ok:
        print("MISMATCH")
        raise SystemExit(1)
    print("results OK")


if __name__ == "__main__":
    main()
