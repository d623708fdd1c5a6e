"""Repartitioning: the per-sector aggregation next to the same aggregation by the key.

    .venv/bin/python benchmarks/repartition.py                # 1,000,000 records, 3 rounds
    .venv/bin/python benchmarks/repartition.py --rounds 5     # more rounds, steadier medians
    .venv/bin/python benchmarks/repartition.py --smoke        # seconds; checks only

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
per-key rate (target >= 60 %), and two workers against one (target >= 1.5x). Records/s is
measured as ``scale_out.py`` measures it, from the group's committed input offsets once every
worker owns partitions (and ``--settle-s`` after the last one started), up to 90 % of the
input; each run is a fresh application (group, repartition topics, outputs) and its results
are checked against a group-by of the input. Two workers need a few seconds to share the
partitions (two rebalances, restores): with 1,000,000 records that is much of a run, and
their rate is measured over what is left; ``--records 4000000`` gives them a longer span.
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
from collections.abc import Iterator
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
    produce_all,
    read_results,
    write_app,
)

__all__ = ["main"]

SECTOR_SQL = APP_SQL.replace("TICKER_SYMBOL VARCHAR(8)", "SECTOR VARCHAR(16)").replace(
    "TICKER_SYMBOL", "SECTOR"
)
Groups = dict[tuple[str, int], list[float]]


def streamed(
    n: int, keys: int, seed: int, start_ms: int, by_key: Groups, by_sector: Groups
) -> Iterator[tuple[str, int, bytes]]:
    """The records, with both group-bys filled in as they go by."""
    for symbol, ts, value, cents in iter_records(n, keys, seed, start_ms):
        price = cents / 100
        _add(by_key, symbol, ts, price)
        _add(by_sector, SECTORS[int(symbol[1:]) % len(SECTORS)], ts, price)
        yield symbol, ts, value


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
    ap.add_argument("--drain-s", type=float, default=8.0,
                    help="after the input is committed, how long the last windows may take")
    ap.add_argument("--seed", type=int, default=7, help="of the data")
    ap.add_argument("--broker-pid", type=int, help="the Kafka broker's pid (for its CPU s)")
    ap.add_argument("--smoke", action="store_true", help="20,000 records, one round; checks only")
    args = ap.parse_args()
    # SIGTERM unwinds like Ctrl-C: the finally blocks stop the workers this script started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.smoke:
        args.records, args.rounds, args.settle_s = min(args.records, 20_000), 1, 0.0

    from ground.kafka import delete_topics_with_prefix
    from ground.settings import Settings

    settings = Settings.from_env()
    kafka = settings.kafka
    args.broker = broker_pid(settings.home, args.broker_pid)
    run = f"bench-rp-{uuid.uuid4().hex[:8]}"
    topic = f"{run}.ticker"
    start_ms = (time.time_ns() // 1_000_000 - 3_600_000) // WINDOW_MS * WINDOW_MS
    by_key: Groups = {}
    by_sector: Groups = {}
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} CPUs", flush=True)
    print(f"producing {args.records:,} JSON records into {topic} ...", flush=True)
    produce_s = produce_all(
        kafka, topic, args.partitions,
        streamed(args.records, args.keys, args.seed, start_ms, by_key, by_sector),
    )  # fmt: skip
    total = sum(int(g[0]) for g in by_key.values())
    print(f"data: {total:,} records, {args.keys:,} keys in {len(SECTORS)} sectors, "
          f"{len(by_key):,} key windows, {len(by_sector):,} sector windows, "
          f"{args.partitions} partitions; produced in {produce_s:.1f}s", flush=True)  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="repartition-bench-"))
    rates: dict[tuple[str, int], list[float]] = {}
    ok = True
    try:
        for round_ in range(1, args.rounds + 1):
            for workers in (1, 2):
                for kind in ("key", "sector"):
                    name = f"{run}-{kind}-w{workers}-r{round_}"
                    folder = write_app(tmp / name, name, topic, args.batch)
                    if kind == "sector":
                        (folder / "app.sql").write_text(SECTOR_SQL)
                    r = run_workers(workers, args, topic, folder, name, total, kafka)
                    want, column = (
                        (by_key, "TICKER_SYMBOL") if kind == "key" else (by_sector, "SECTOR")
                    )
                    rows = read_results(kafka, f"{name}-out", len(want), 120)
                    problem = check(rows, column, want)
                    ok = ok and not problem
                    rates.setdefault((kind, workers), []).append(r["rate"])
                    cpu = "/".join(f"{c:.1f}" for c in r["cpu_s"])
                    print(f"  round {round_}: by {kind:<6} {workers} worker(s): "
                          f"{r['rate']:>9,.0f} records/s over {r['span_s']:.1f} s (CPU s "
                          f"{cpu}; machine {r['machine_busy_s']:.0f} of "
                          f"{r['machine_all_s']:.0f} CPU s busy), results "
                          f"{problem or 'OK'}", flush=True)  # fmt: skip
    finally:
        delete_topics_with_prefix(kafka, run)
    if not args.smoke:
        med = {k: statistics.median(v) for k, v in rates.items()}
        print()
        print(f"{'grouped by':>10} {'workers':>7} {'median records/s':>17}  runs")
        for (kind, workers), values in sorted(rates.items()):
            runs = ", ".join(f"{v:,.0f}" for v in values)
            print(f"{kind:>10} {workers:>7} {med[(kind, workers)]:>17,.0f}  {runs}")
        for workers in (1, 2):
            share = med[("sector", workers)] / med[("key", workers)]
            print(f"{workers} worker(s): by sector / by key = {share:.0%} (target >= 60 %)")
        for kind in ("key", "sector"):
            print(f"by {kind}: 2 workers / 1 worker = "
                  f"{med[(kind, 2)] / med[(kind, 1)]:.2f}x (target >= 1.5x)")  # fmt: skip
    if not ok:
        print("MISMATCH")
        raise SystemExit(1)
    print("results OK")


if __name__ == "__main__":
    main()
