"""RANDOM_CUT_FOREST throughput of one worker, one numeric column, KDA's defaults.

    .venv/bin/python benchmarks/rcf.py                  # 20,000 to warm up, 50,000 timed
    .venv/bin/python benchmarks/rcf.py --records 10000  # quick
    .venv/bin/python benchmarks/rcf.py --smoke          # 1,000 + 2,000 records, checks only
    .venv/bin/python benchmarks/rcf.py --json           # one JSON line

The application is the Developer Guide's anomaly-detection pump as published::

    SELECT STREAM "heartRate", "rateType", ANOMALY_SCORE
    FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001")))

over the guide's data (JSON ``{"heartRate": 60..100, "rateType": "NORMAL"}``, 1 % HIGH at
150..200): one numeric column, 100 trees of 256 points, time decay 100,000, shingle 1. One
partition, no Kafka. The first ``--warmup`` records are not timed: a young forest takes most
records into its samples (a tree update each), a running one few (with time decay 100,000
a tree's sample takes about 256 / 100,000 of the records), so the steady rate is what a
long-running application sees. ``--batch`` records per ``process`` and a ``take_changes``
after each (as a commit would: the changelog's points and, every 20,000 records, a forest
checkpoint).
Rates, records/s:

* ``forest`` — the model alone: ``score`` then ``update`` per record (the ceiling);
* ``engine`` — the offline engine over pre-decoded rows (cursor, score, output rows, state);
* ``processor`` — the worker's processors: JSON decode, the repartition (the forest sees every
  row: the input's processor writes the rows to the repartition topic's records, which the
  stage's processor reads), engine, JSON encode. Its output values are read after the
  timing (no worker reads them). ``--case`` runs one case (repeat it for several).

Each also in CPU time (``process_time``), which a busy shared machine disturbs less than the
wall clock (the load average is printed with the numbers), and which build of the forest's
library ran: the PyPI wheel, or the one ``make forest`` compiled for x86-64-v3 (the same
scores, faster). The target is KDA's 20,000
records/s per worker, compared with the processor's rate. Every case checks its output: one
row per input, the first 65 scores 0 (learning), the HIGH records above the 99th percentile
of the NORMAL ones.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: import this checkout, not an installed one
    sys.path.insert(0, str(ROOT))

TARGET = 20_000
SQL = """\
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    "heartRate" INTEGER, "rateType" VARCHAR(20), "ANOMALY_SCORE" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "heartRate", "rateType", ANOMALY_SCORE
    FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001")));
"""
APP_YAML = """\
ApplicationName: bench-rcf
ApplicationCode: app.sql
Inputs:
  - NamePrefix: SOURCE_SQL_STREAM
    Topic: rcf-in
    InputSchema:
      RecordFormat: {RecordFormatType: JSON}
      RecordColumns:
        - {Name: heartRate, SqlType: INTEGER, Mapping: $.heartRate}
        - {Name: rateType, SqlType: VARCHAR(20), Mapping: $.rateType}
Outputs:
  - Name: DESTINATION_SQL_STREAM
    Topic: rcf-out
    DestinationSchema: {RecordFormatType: JSON}
ErrorOutput: {Topic: rcf-errors, RecordFormatType: JSON}
"""
START_MS = 1_700_000_000_000


def generate(n: int, seed: int) -> list[tuple[int, str]]:
    """The guide's heart rates: ``(heartRate, rateType)``."""
    rng = random.Random(seed)
    return [
        (rng.randint(150, 200), "HIGH") if rng.random() < 0.01 else (rng.randint(60, 100), "NORMAL")
        for _ in range(n)
    ]


def forest_build() -> str:
    """Which ``krcf`` is installed: ``make forest`` leaves a mark in the environment when it
    compiled it for x86-64-v3 (a wheel from PyPI is tagged ``manylinux``, one built here not)."""
    from importlib.metadata import distribution

    dist = distribution("krcf")
    built_here = "manylinux" not in (dist.read_text("WHEEL") or "")
    marked = (Path(sys.prefix) / ".krcf-x86-64-v3").exists()
    build = "x86-64-v3" if built_here and marked else "PyPI wheel" if not built_here else "local"
    return f"krcf {dist.version}, {build}"


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    got = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, got


def check(case: str, data: list[tuple[int, str]], scores: list[float]) -> None:
    if len(scores) != len(data):
        raise SystemExit(f"{case}: {len(scores)} scores for {len(data)} records")
    if any(s != 0.0 for s in scores[:65]) or not all(s > 0 for s in scores[65:]):
        raise SystemExit(f"{case}: the learning phase is not the first 65 records")
    start = min(1000, len(data) // 3)
    pairs = list(zip(data[start:], scores[start:], strict=True))
    high = [s for (_, t), s in pairs if t == "HIGH"]
    normal = sorted(s for (_, t), s in pairs if t != "HIGH")
    if not high or min(high) <= normal[int(0.99 * len(normal))]:
        raise SystemExit(f"{case}: HIGH heart rates do not all rank above the 99th percentile")


def build() -> Any:
    from ground.settings import Settings
    from pipelines.sql.appconfig import load_application
    from pipelines.sql.application import SqlApplication, _plan

    folder = Path(tempfile.mkdtemp(prefix="bench-rcf-"))
    (folder / "app.sql").write_text(SQL)
    (folder / "application.yaml").write_text(APP_YAML)
    config = load_application(folder)
    return SqlApplication(config, _plan(config, None), Settings.from_env())


CASES = ("forest", "engine", "processor")


def run(warmup: int, n: int, batch: int, cases: tuple[str, ...] = CASES) -> dict[str, Any]:
    from pipelines.runtime import SourceRecord
    from pipelines.runtime.loop import tune_gc
    from pipelines.sql.engine import PartitionEngine
    from pipelines.sql.ml import RandomCutForest, RcfParams
    from pipelines.sql.operators.rcf_plan import forest_seed
    from pipelines.sql.types import Timestamp

    tune_gc()  # as a worker does
    total = warmup + n
    data = generate(total, seed=7)
    result: dict[str, Any] = {"warmup": warmup, "records": n, "batch": batch, "target": TARGET}

    def forest() -> Callable[[int, int], list[float]]:
        model = RandomCutForest(RcfParams(1, seed=forest_seed("bench-rcf", "STREAM_PUMP")))

        def feed(start: int, end: int) -> list[float]:
            return [model.observe([float(rate)])[0] for rate, _ in data[start:end]]

        return feed

    app = build()
    # offline: one partition of the input (the forest is global, so the plan may repartition)
    app.wire({"rcf-in": 1})
    rows = [(Timestamp(START_MS + i), Timestamp(START_MS + i), *v) for i, v in enumerate(data)]

    def engine() -> Callable[[int, int], list[float]]:
        eng = PartitionEngine(app.plan)

        def feed(start: int, end: int) -> list[float]:
            scores: list[float] = []
            for i in range(start, end, batch):
                out = eng.push("SOURCE_SQL_STREAM_001", rows[i : min(i + batch, end)])
                scores.extend(r[3] for r in out["DESTINATION_SQL_STREAM"])
                eng.take_changes()
            return scores

        return feed

    records = [
        SourceRecord(
            "rcf-in", 0, i, START_MS + i, None,
            json.dumps({"heartRate": h, "rateType": t}).encode(),
        )
        for i, (h, t) in enumerate(data)
    ]  # fmt: skip

    def processor() -> Callable[[int, int], list[float]]:
        # the forest sees every row, so the plan may move the rows to one partition of a
        # repartition topic first: its rows go on to that stage, as a worker's consumer
        # would take them (the serialisation between the stages is part of the cost)
        procs = {t: app.processor(t, 0) for t in ("rcf-in", *app.repartition_topics)}
        last_ms = records[-1].timestamp_ms
        offsets = dict.fromkeys(procs, 0)

        def run_stage(topic: str, batch_records: list[Any], scores: list[Any]) -> None:
            proc = procs[topic]
            onward: dict[str, list[Any]] = {}
            emitted = proc.process(batch_records) if batch_records else proc.on_idle(last_ms, 0)
            for out in emitted:
                if out.topic in procs:
                    onward.setdefault(out.topic, []).append(
                        SourceRecord(
                            out.topic,
                            0,
                            offsets[out.topic],
                            out.timestamp_ms or 0,
                            out.key,
                            out.value,
                        )
                    )
                    offsets[out.topic] += 1
                elif out.topic == "rcf-out":
                    scores.append(out.value)  # read after the timing: no worker does
                else:
                    raise SystemExit(f"processor: an error row {out.value[:200]!r}")
            proc.take_changes()
            for inner, rows in onward.items():
                run_stage(inner, rows, scores)

        def feed(start: int, end: int) -> list[Any]:
            scores: list[Any] = []
            for i in range(start, end, batch):
                run_stage("rcf-in", records[i : min(i + batch, end)], scores)
            if end == total:  # the input ends: a stage may hold its last row until idle
                for topic in procs:
                    run_stage(topic, [], scores)
            return scores

        return feed

    makers = {"forest": forest, "engine": engine, "processor": processor}
    for case in cases:
        feed = makers[case]()
        warm = feed(0, warmup)
        wall, cpu, timed_scores = timed(lambda feed=feed: feed(warmup, total))
        scores = warm + timed_scores
        if case == "processor":  # the output records' values
            scores = [orjson.loads(value)["ANOMALY_SCORE"] for value in scores]
        check(case, data, scores)
        result[case] = round(n / wall)
        result[f"{case}_cpu"] = round(n / cpu)
    result["load_average"] = round(os.getloadavg()[0], 1)
    result["forest_build"] = forest_build()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=50_000, help="timed records")
    parser.add_argument("--warmup", type=int, default=20_000, help="records before timing")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--smoke", action="store_true", help="1,000 + 2,000 records")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument(
        "--case", action="append", choices=CASES, help="only this case (repeatable)"
    )
    args = parser.parse_args()
    warmup, n = (1_000, 2_000) if args.smoke else (args.warmup, args.records)
    cases = tuple(args.case) if args.case else CASES
    result = run(warmup, n, args.batch, cases)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"RANDOM_CUT_FOREST, one numeric column, KDA defaults, one worker: {n:,} records "
        f"after {warmup:,} (load average {result['load_average']} on {os.cpu_count()} cores; "
        f"{result['forest_build']})"
    )
    for case in cases:
        print(
            f"  {case:10s} {result[case]:>9,} records/s   "
            f"{result[case + '_cpu']:>9,} records/s of CPU"
        )
    if "processor" in cases:
        verdict = "meets" if result["processor_cpu"] >= TARGET else "is below"
        print(f"  target     {TARGET:>9,} records/s: the processor's CPU rate {verdict} it")


if __name__ == "__main__":
    main()
