"""Parquet encode rate of the S3 destination's format conversion: records/s and MB/s of JSON in,
for ~200-byte ticker-like JSON records, per Parquet compression, next to the JSON Lines + GZIP
encoder as a reference; prints numbers, asserts nothing.

    .venv/bin/python benchmarks/parquet_encode.py --records 100000 --object 20000

Records are seeded; each figure is the best of three runs over ``--records`` records encoded
``--object`` records per object (one Parquet file, one row group each), as the destination
does per flushed batch. ``--bad`` makes one record in N unconvertible (the per-value path).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Sequence

from connectors.core import Record
from connectors.s3 import (
    CompressionFormat,
    JsonLinesEncoder,
    ParquetCompression,
    ParquetEncoder,
    schema_for,
)
from connectors.s3.formats import BodyEncoder


def ticker_records(n: int, bad_every: int, seed: int = 7) -> list[Record]:
    rnd = random.Random(seed)
    symbols = ["AMZN", "MSFT", "GOOG", "TBV", "QXZ", "WAS", "NFLX", "JNJ"]
    out = []
    for i in range(n):
        doc = {
            "ticker_symbol": rnd.choice(symbols),
            "sector": rnd.choice(["TECHNOLOGY", "ENERGY", "FINANCIAL", "HEALTHCARE"]),
            "change": round(rnd.uniform(-5, 5), 2),
            "price": round(rnd.uniform(1, 900), 2),
            "event_time_ms": 1_700_000_000_000 + i * 13,
            # padding to ~200 bytes, ignored by the schema (as extra keys are)
            "exchange": "NASDAQ", "trade_id": f"{rnd.getrandbits(64):016x}",
            "note": "x" * rnd.randint(20, 40),
        }
        value = json.dumps(doc).encode()
        if bad_every and i % bad_every == bad_every - 1:
            value = value.replace(b'"price": ', b'"price": "n/a", "x": ', 1)
        out.append(Record("bench", 0, i, None, value, 1_700_000_000_000 + i))
    return out


def best_of(runs: int, fn: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(encoder: BodyEncoder, records: Sequence[Record], per_object: int) -> tuple[float,
                                                                                      int]:
    chunks = [records[i:i + per_object] for i in range(0, len(records), per_object)]
    out = [0]

    def run() -> None:
        out[0] = sum(len(encoder.encode(chunk).body) for chunk in chunks)

    return best_of(3, run), out[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--object", type=int, default=20_000, help="records per object")
    parser.add_argument("--bad", type=int, default=0, help="one unconvertible record in N")
    args = parser.parse_args()
    records = ticker_records(args.records, args.bad)
    mb_in = sum(len(r.value or b"") for r in records) / 1e6
    print(f"{args.records} records, {mb_in * 1e6 / args.records:.0f} bytes of JSON each on"
          f" average, {args.object} per object, best of 3")
    print(f"{'encoder':<28}{'records/s':>12}{'MB/s in':>10}{'out/in':>9}")
    schema = schema_for("ticker")
    encoders: list[tuple[str, BodyEncoder]] = [
        (f"parquet {c.value}", ParquetEncoder(schema, compression=c)) for c in ParquetCompression
    ]
    encoders.append(("jsonl GZIP (reference)", JsonLinesEncoder(CompressionFormat.GZIP)))
    for name, encoder in encoders:
        seconds, size = measure(encoder, records, args.object)
        print(f"{name:<28}{args.records / seconds:>12,.0f}{mb_in / seconds:>10.1f}"
              f"{size / (mb_in * 1e6):>9.3f}")


if __name__ == "__main__":
    main()
