"""Offline hot-path numbers of the SQL worker on AVRO input (no Kafka, no other process).

    .venv/bin/python benchmarks/sql_offline.py                  # 400,000 records
    .venv/bin/python benchmarks/sql_offline.py --records 50000  # quick
    .venv/bin/python benchmarks/sql_offline.py --json           # one JSON line per case

Builds the partition processor that ``shardline run`` uses (``SqlApplication.processor``)
for AVRO ``ticker`` input (Confluent framing) and feeds it pre-built batches of
:class:`~pipelines.runtime.SourceRecord` — the bytes as they come from Kafka, with their
timestamps — one partition, ``--batch`` records per ``process`` call and a ``take_changes``
after each (as a commit would). Cases:

* ``tumbling-1k`` / ``tumbling-100k``: ``GROUP BY TICKER_SYMBOL, STEP(EVENT_TIME BY
  INTERVAL '60' SECOND)`` with COUNT/SUM/MIN/MAX/AVG over 1,000 / 100,000 keys;
* ``sliding-1k``: ``AVG(PRICE) OVER (PARTITION BY TICKER_SYMBOL RANGE INTERVAL '1' MINUTE
  PRECEDING)``.

For each, records/s of: ``fastavro`` — a bare ``fastavro.schemaless_reader`` per record, the
decode of the ingest ceiling; ``decode`` — the SQL input decoder (record → row);
``engine`` — the engine alone over pre-decoded rows; ``processor`` — the whole
``process`` (decode + engine + encode of the results).

``memory``: the state of the tumbling app for 100,000 keys × ``--windows`` open 60-s windows
(the allowed lateness keeps them open), measured with tracemalloc and as the RSS growth;
reported per key-window.

Every case checks its results against an independent count (rows per (key, window) for
tumbling, one output per input for sliding), so a fast wrong path cannot pass.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import random
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: import this checkout, not an installed one
    sys.path.insert(0, str(ROOT))

import fastavro  # noqa: E402

WINDOW_MS = 60_000
SECTORS = ("TECHNOLOGY", "ENERGY", "HEALTHCARE", "FINANCIAL", "RETAIL", "AUTOMOBILE")

TUMBLING_SQL = """\
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(8), WINDOW_START TIMESTAMP, TRADES BIGINT,
    SUM_PRICE DOUBLE, MIN_PRICE DOUBLE, MAX_PRICE DOUBLE, AVG_PRICE DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM TICKER_SYMBOL, STEP(EVENT_TIME BY INTERVAL '60' SECOND),
       COUNT(*), SUM(PRICE), MIN(PRICE), MAX(PRICE), AVG(PRICE)
FROM "SOURCE_SQL_STREAM_001"
GROUP BY TICKER_SYMBOL, STEP(EVENT_TIME BY INTERVAL '60' SECOND);
"""

SLIDING_SQL = """\
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    TICKER_SYMBOL VARCHAR(8), PRICE DOUBLE, AVG_PRICE DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM TICKER_SYMBOL, PRICE,
       AVG(PRICE) OVER (PARTITION BY TICKER_SYMBOL RANGE INTERVAL '1' MINUTE PRECEDING)
FROM "SOURCE_SQL_STREAM_001";
"""

APP_YAML = """\
ApplicationName: offline-{name}
ApplicationCode: app.sql
Inputs:
  - NamePrefix: SOURCE_SQL_STREAM
    Topic: offline-in
    PartitionKey: [TICKER_SYMBOL]
    InputSchema:
      RecordFormat: {{RecordFormatType: AVRO, AvroSchema: ticker}}
      RecordColumns:
        - {{Name: TICKER_SYMBOL, SqlType: VARCHAR(8), Mapping: $.ticker_symbol}}
        - {{Name: SECTOR, SqlType: VARCHAR(16), Mapping: $.sector}}
        - {{Name: CHANGE, SqlType: DOUBLE, Mapping: $.change}}
        - {{Name: PRICE, SqlType: DOUBLE, Mapping: $.price}}
        - {{Name: EVENT_TIME, SqlType: TIMESTAMP, Mapping: $.event_time_ms}}
Outputs:
  - Name: DESTINATION_SQL_STREAM
    Topic: offline-out
    DestinationSchema: {{RecordFormatType: JSON}}
ErrorOutput: {{Topic: offline-errors, RecordFormatType: JSON}}
EventTime: {{AllowedLatenessMs: {lateness}, IdleTimeoutMs: 1000}}
"""

Data = list[tuple[str, int, bytes]]
RATES = ("fastavro", "decode", "engine", "processor")


def generate(n: int, keys: int, seed: int, start_ms: int, span_ms: int) -> Data:
    """``(symbol, event_time_ms, Avro bytes)``, event times increasing over ``span_ms``."""
    from schemas import codec_for

    codec = codec_for("avro", "ticker")
    rng = random.Random(seed)
    symbols = [f"S{i:05d}" for i in range(keys)]
    prices = [1000 + rng.randrange(50_000) for _ in range(keys)]
    out: Data = []
    for i in range(n):
        k = i % keys if i < keys else int(rng.random() * keys)  # every key at least once
        old = prices[k]
        new = prices[k] = max(100, old + int(rng.random() * 301) - 150)
        t = start_ms + i * span_ms // n
        record = {
            "ticker_symbol": symbols[k],
            "sector": SECTORS[k % len(SECTORS)],
            "change": (new - old) / 100,
            "price": new / 100,
            "event_time_ms": t,
        }
        out.append((symbols[k], t, codec.encode(record)))
    return out


def build(kind: str, lateness: int) -> Any:
    from ground.settings import Settings
    from pipelines.sql.appconfig import load_application
    from pipelines.sql.application import SqlApplication, _plan

    folder = Path(tempfile.mkdtemp(prefix="sql-offline-"))
    (folder / "app.sql").write_text(TUMBLING_SQL if kind == "tumbling" else SLIDING_SQL)
    (folder / "application.yaml").write_text(APP_YAML.format(name=kind, lateness=lateness))
    config = load_application(folder)
    return SqlApplication(config, _plan(config, None), Settings.from_env())


def rate(n: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    got = fn()
    return n / (time.perf_counter() - t0), got


def source_records(data: Data) -> list[Any]:
    from pipelines.runtime import SourceRecord

    return [
        SourceRecord("offline-in", 0, i, ts, s.encode(), v) for i, (s, ts, v) in enumerate(data)
    ]


def run_processor(app: Any, records: list[Any], batch: int) -> list[Any]:
    proc = app.processor("offline-in", 0)
    out: list[Any] = []
    for i in range(0, len(records), batch):
        out.extend(proc.process(records[i : i + batch]))
        proc.take_changes()
    out.extend(proc.on_idle(0, 0))
    return out


def check(kind: str, data: Data, outputs: list[Any]) -> None:
    """Independent of the engine: counts per (key, window), or one output per input."""
    bad = [o for o in outputs if o.topic != "offline-out"]
    if bad:
        raise SystemExit(f"{kind}: {len(bad)} error records, first {bad[0].value[:200]!r}")
    if kind == "sliding":
        if len(outputs) != len(data):
            raise SystemExit(f"sliding: {len(outputs)} outputs for {len(data)} inputs")
        return
    want = Counter((s, t - t % WINDOW_MS) for s, t, _ in data)
    got: dict[tuple[str, int], int] = {}
    for o in outputs:
        row = json.loads(o.value)
        start = datetime.strptime(row["WINDOW_START"], "%Y-%m-%d %H:%M:%S.%f")
        ms = int(start.replace(tzinfo=UTC).timestamp() * 1000)
        got[(row["TICKER_SYMBOL"], ms)] = row["TRADES"]
    if got != dict(want):
        raise SystemExit(f"tumbling: results differ from the input counts ({len(got)} groups)")


def throughput(kind: str, keys: int, n: int, batch: int) -> dict[str, Any]:
    from pipelines.runtime.loop import tune_gc
    from pipelines.sql.engine import PartitionEngine
    from pipelines.sql.types import Timestamp
    from schemas import load_schema

    tune_gc()  # as a worker does
    data = generate(n, keys, seed=7, start_ms=1_700_000_000_000, span_ms=1_000_000)
    app = build(kind, lateness=5000)
    records = source_records(data)
    result: dict[str, Any] = {"case": f"{kind}-{keys // 1000}k", "records": n}

    schema = load_schema("ticker")
    reader = fastavro.schemaless_reader

    def bare() -> int:
        for _, _, v in data:
            b = io.BytesIO(v)
            b.seek(5)
            reader(b, schema, None)
        return n

    result["fastavro"], _ = rate(n, bare)
    decoder = app._decoders["offline-in"][1]
    prefixed = getattr(decoder, "prefixed", None)  # the processor's decode step, if fused
    if prefixed is not None:
        result["decode"], decoded = rate(n, lambda: [prefixed((), v) for _, _, v in data])
    else:
        result["decode"], decoded = rate(
            n, lambda: [decoder.decode_rows(v)[0] for _, _, v in data]
        )
    rows = [(Timestamp(ts), Timestamp(ts), *r) for (_, ts, _), r in zip(data, decoded, strict=True)]

    def engine() -> int:
        eng = PartitionEngine(app.plan, allowed_lateness_ms=5000)
        got = 0
        for i in range(0, n, batch):
            got += len(eng.push("SOURCE_SQL_STREAM_001", rows[i : i + batch]))
            eng.take_changes()
        return got

    result["engine"], _ = rate(n, engine)
    result["processor"], outputs = rate(n, lambda: run_processor(app, records, batch))
    check(kind, data, outputs)
    result["outputs"] = len(outputs)
    return result


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        import os

        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory(keys: int, windows: int, batch: int) -> dict[str, Any]:
    """State of ``keys`` × ``windows`` open tumbling windows, per key-window."""
    n = keys * windows
    span = windows * WINDOW_MS - 1
    data = generate(n, keys, seed=11, start_ms=1_700_000_040_000 - 40_000, span_ms=span)
    app = build("tumbling", lateness=(windows + 1) * WINDOW_MS)  # nothing closes
    records = source_records(data)
    groups = len({(s, t - t % WINDOW_MS) for s, t, _ in data})
    proc = app.processor("offline-in", 0)
    gc.collect()
    tracemalloc.start()
    rss0 = rss_bytes()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(0, n, batch):
        out = proc.process(records[i : i + batch])
        if out:
            raise SystemExit(f"memory: {len(out)} unexpected outputs (a window closed)")
        proc.take_changes()
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    rss = rss_bytes() - rss0
    return {
        "case": "memory",
        "keys": keys,
        "key_windows": groups,
        "traced_mb": round(used / 1e6, 1),
        "bytes_per_key_window": round(used / groups),
        "rss_growth_mb": round(rss / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--windows", type=int, default=3, help="open windows per key (memory)")
    parser.add_argument("--cases", default="tumbling-1k,tumbling-100k,sliding-1k,memory")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for case in args.cases.split(","):
        if case == "memory":
            result = memory(100_000, args.windows, args.batch)
        else:
            kind, keys = case.split("-")
            result = throughput(kind, int(keys.rstrip("k")) * 1000, args.records, args.batch)
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            print(
                "  ".join(
                    f"{k}={v / 1000:.0f}k/s" if k in RATES else f"{k}={v}"
                    for k, v in result.items()
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
