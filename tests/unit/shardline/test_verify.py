"""The oracle itself, against a plain-Python recomputation."""

import json
import random
from collections import defaultdict

from schemas import codec_for
from shardline.verify import TopicRecord, compare_windows, expected_sql_ticker_windows

WINDOW_MS = 60_000
LATENESS_MS = 5_000


def _records(seed: int, n: int, *, partitions: int = 1, disorder_ms: int = 0) -> list[TopicRecord]:
    """Avro ticker records, spread over ``partitions``, event times up to ``disorder_ms``
    behind the clock."""
    rnd = random.Random(seed)
    ticker = codec_for("avro", "ticker")
    clock = 1_700_000_000_000
    offsets = [0] * partitions
    out = []
    for _ in range(n):
        clock += rnd.randint(1, 900)
        rec = {
            "ticker_symbol": rnd.choice(["AMZN", "TSLA", "IBM"]),
            "sector": "TECH",
            "change": 0.0,
            "price": round(rnd.uniform(1, 500), 2),
            "event_time_ms": clock - rnd.randint(0, disorder_ms),
        }
        p = rnd.randrange(partitions)
        out.append(TopicRecord(p, offsets[p], None, ticker.encode(rec), clock))
        offsets[p] += 1
    return out


def test_duckdb_oracle_matches_python() -> None:
    records = _records(1, 3_000, partitions=3, disorder_ms=90_000)
    broken = [TopicRecord(0, 10_000 + i, None, raw, 0) for i, raw in enumerate(
        [b"{broken", json.dumps({"ticker_symbol": "X"}).encode()])]
    oracle = expected_sql_ticker_windows(records + broken, WINDOW_MS, LATENESS_MS)
    assert oracle.malformed == 2
    ticker = codec_for("avro", "ticker")
    groups = defaultdict(list)
    late = []
    newest: dict[int, int] = {}
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        rec = ticker.decode(r.value)
        ts = rec["event_time_ms"]
        start = ts // WINDOW_MS * WINDOW_MS
        if r.partition in newest and start + WINDOW_MS <= newest[r.partition] - LATENESS_MS:
            late.append((r.partition, r.offset))
        else:
            groups[(rec["ticker_symbol"], start)].append(rec["price"])
        newest[r.partition] = max(newest.get(r.partition, ts), ts)
    assert late and oracle.late_records == late and oracle.late == len(late)
    assert len(oracle.windows) == len(groups)
    for row in oracle.windows:
        prices = groups[(row["ticker_symbol"], row["window_start_ms"])]
        assert row["count"] == len(prices)
        assert row["window_end_ms"] == row["window_start_ms"] + WINDOW_MS
        assert (row["min_price"], row["max_price"]) == (min(prices), max(prices))
        assert abs(row["avg_price"] - sum(prices) / len(prices)) < 1e-9


def test_compare_finds_every_kind_of_difference() -> None:
    rows = expected_sql_ticker_windows(_records(3, 500), WINDOW_MS, LATENESS_MS).windows
    assert compare_windows(rows, rows).ok
    assert compare_windows(rows, list(reversed(rows))).ok
    changed = [dict(r) for r in rows]
    changed[0]["count"] += 1
    changed[1]["avg_price"] *= 1.0001
    cmp = compare_windows(rows, changed[:-1] + [rows[0]])
    assert not cmp.ok
    assert len(cmp.missing) == 1
    assert cmp.duplicates == 1
    assert len(cmp.different) >= 1
    extra = rows + [{**rows[0], "ticker_symbol": "ZZZZ"}]
    assert compare_windows(rows, extra).unexpected == [("ZZZZ", rows[0]["window_start_ms"])]
