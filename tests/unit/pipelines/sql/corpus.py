"""Seeded ticker data for the SQL corpus, shaped like KDA's demo stream, with disorder.

Each record: ``(kafka_timestamp_ms, (TICKER_SYMBOL, SECTOR, CHANGE, PRICE, EVENT_TIME))``.
Kafka timestamps rise steadily; event times trail them by a few seconds, shuffled a little
(out of order), and about 1 % trail by up to three minutes (late for a 60-second window with
a few seconds of allowed lateness).
"""

from __future__ import annotations

import random
from typing import Any

from pipelines.sql.plan import StreamColumn
from pipelines.sql.types import Timestamp, parse_type

__all__ = ["TICKER_COLUMNS", "ticker_records"]

TICKER_COLUMNS = [
    StreamColumn("TICKER_SYMBOL", parse_type("VARCHAR(4)")),
    StreamColumn("SECTOR", parse_type("VARCHAR(16)")),
    StreamColumn("CHANGE", parse_type("REAL")),
    StreamColumn("PRICE", parse_type("REAL")),
    StreamColumn("EVENT_TIME", parse_type("TIMESTAMP")),
]
_SECTORS = ["TECHNOLOGY", "ENERGY", "HEALTHCARE", "FINANCIAL", "RETAIL"]
START_MS = 1_780_000_000_000 - 1_780_000_000_000 % 60_000


def ticker_records(
    count: int, *, seed: int = 7, symbols: int = 20, rate_per_s: int = 10
) -> list[tuple[int, tuple[Any, ...]]]:
    rng = random.Random(seed)
    names = [f"T{i:02d}" for i in range(symbols)]
    sector = {n: _SECTORS[i % len(_SECTORS)] for i, n in enumerate(names)}
    price = {n: 50.0 + 5 * i for i, n in enumerate(names)}
    records = []
    ts = START_MS + rng.randrange(0, 60_000)
    for _ in range(count):
        ts += rng.randrange(0, 2 * 1000 // rate_per_s + 1)
        name = rng.choice(names)
        change = round(rng.uniform(-2, 2), 2)
        price[name] = round(max(1.0, price[name] + change), 2)
        delay = rng.randrange(0, 4000)
        if rng.random() < 0.01:
            delay = rng.randrange(60_000, 180_000)
        records.append((ts, (name, sector[name], change, price[name], Timestamp(ts - delay))))
    # a little disorder in arrival: swap neighbours (Kafka timestamps stay as produced)
    for i in range(0, len(records) - 1, 7):
        records[i], records[i + 1] = records[i + 1], records[i]
    return records
