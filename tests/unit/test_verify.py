"""The oracle itself, against a plain-Python recomputation."""

import json
import random
from collections import defaultdict

from shardline.verify import compare_windows, expected_ticker_windows


def _records(seed: int, n: int) -> list[bytes]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        rec = {
            "ticker_symbol": rnd.choice(["AMZN", "TSLA", "IBM"]),
            "sector": "TECH",
            "change": 0.0,
            "price": round(rnd.uniform(1, 500), 2),
            "event_time_ms": 1_700_000_000_000 + i * rnd.randint(1, 900),
        }
        out.append(json.dumps(rec).encode())
    return out


def test_duckdb_oracle_matches_python() -> None:
    values = _records(1, 2_000) + [b"{broken", b'{"ticker_symbol": "X"}']
    rows, malformed = expected_ticker_windows(values, 60_000)
    assert malformed == 2
    groups = defaultdict(list)
    for raw in values[:-2]:
        r = json.loads(raw)
        groups[(r["ticker_symbol"], r["event_time_ms"] // 60_000 * 60_000)].append(r["price"])
    assert len(rows) == len(groups)
    for row in rows:
        prices = groups[(row["ticker_symbol"], row["window_start_ms"])]
        assert row["count"] == len(prices)
        assert (row["min_price"], row["max_price"]) == (min(prices), max(prices))
        assert abs(row["avg_price"] - sum(prices) / len(prices)) < 1e-9


def test_exclude_leaves_records_out() -> None:
    values = _records(2, 100)
    all_rows, _ = expected_ticker_windows(values, 60_000)
    fewer, _ = expected_ticker_windows(values, 60_000, exclude=[0, 1, 2])
    assert sum(r["count"] for r in all_rows) - sum(r["count"] for r in fewer) == 3


def test_compare_finds_every_kind_of_difference() -> None:
    rows, _ = expected_ticker_windows(_records(3, 500), 60_000)
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
