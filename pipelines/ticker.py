"""The ticker statistics pipeline: per ticker and per tumbling window, count, min, max and
average price (the KDA guide's stock-ticker example)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from ground.errors import CodecError
from pipelines.stats import PriceStats
from pipelines.windows import Window

__all__ = ["TickerRecord", "parse_ticker", "render_result", "result_key"]


@dataclass(frozen=True, slots=True)
class TickerRecord:
    ticker_symbol: str
    price: float
    event_time_ms: int


def parse_ticker(value: Mapping[str, object], raw: bytes) -> TickerRecord:
    """Check the fields the pipeline needs; CodecError names the first bad field."""
    symbol = value.get("ticker_symbol")
    if not isinstance(symbol, str) or not symbol:
        raise CodecError("field 'ticker_symbol' is missing or not a non-empty string", raw)
    price = value.get("price")
    if isinstance(price, bool) or not isinstance(price, int | float) or not math.isfinite(price):
        raise CodecError("field 'price' is missing or not a finite number", raw)
    ts = value.get("event_time_ms")
    if isinstance(ts, bool) or not isinstance(ts, int):
        raise CodecError("field 'event_time_ms' is missing or not an integer (epoch ms)", raw)
    return TickerRecord(symbol, float(price), ts)


def result_key(symbol: str, window: Window) -> bytes:
    return f"{symbol}|{window.start_ms}".encode()


def render_result(symbol: str, window: Window, stats: PriceStats) -> bytes:
    return json.dumps(
        {
            "ticker_symbol": symbol,
            "window_start_ms": window.start_ms,
            "window_end_ms": window.end_ms,
            "count": stats.count,
            "min_price": stats.min,
            "max_price": stats.max,
            "avg_price": stats.avg,
        },
        separators=(",", ":"),
    ).encode()
