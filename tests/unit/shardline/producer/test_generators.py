"""Seeded generators: determinism, event-time rules, malformed injection."""

from __future__ import annotations

import itertools

import pytest

import schemas
import shardline.producer as producer
from ground.errors import CodecError, ConfigError
from shardline.producer import (
    MALFORMED_HORIZON,
    MALFORMED_KINDS,
    TICKER_SYMBOLS,
    DataSpec,
    ProduceConfig,
    clickstream_records,
    malformed_positions,
    ticker_records,
)

START = 1_700_000_000_000


def take(it, n):
    return list(itertools.islice(it, n))


def test_public_api_sorted():
    assert producer.__all__ == sorted(producer.__all__)
    assert all(hasattr(producer, name) for name in producer.__all__)


@pytest.mark.parametrize("gen", [ticker_records, clickstream_records])
def test_same_seed_same_records(gen):
    assert take(gen(7, START), 500) == take(gen(7, START), 500)
    assert take(gen(7, START), 500) != take(gen(8, START), 500)


@pytest.mark.parametrize("kind", ["ticker", "clickstream"])
@pytest.mark.parametrize("fmt", ["json", "avro"])
def test_same_spec_same_bytes(kind, fmt):
    spec = DataSpec(start_ms=START, kind=kind, format=fmt, seed=42, malformed=4, disorder_ms=50)
    assert list(spec.records(300)) == list(spec.records(300))
    other = DataSpec(start_ms=START, kind=kind, format=fmt, seed=43, malformed=4, disorder_ms=50)
    assert [r.value for r in spec.records(300)] != [r.value for r in other.records(300)]


def test_pinned_first_records():
    """Pins the generators: demo results and recorded expectations depend on these bytes."""
    assert take(ticker_records(0, START), 3) == [
        {"ticker_symbol": "WMT", "sector": "RETAIL", "change": 0.78, "price": 68.58,
         "event_time_ms": START + 42},
        {"ticker_symbol": "PFE", "sector": "HEALTHCARE", "change": -0.29, "price": 28.61,
         "event_time_ms": START + 120},
        {"ticker_symbol": "JNJ", "sector": "HEALTHCARE", "change": 0.25, "price": 158.95,
         "event_time_ms": START + 210},
    ]
    assert take(clickstream_records(0, START), 1) == [
        {"event_id": "7c65c1e582e2e662", "user_id": "user-0168", "session_id": "s-e3e7c2094cac",
         "page": "/products/7", "action": "view", "referrer": "https://twitter.com/",
         "event_time_ms": START + 31},
    ]


def test_ticker_shape_and_random_walk():
    sectors = {s: sec for s, sec, _ in TICKER_SYMBOLS}
    last: dict[str, float] = {s: c / 100 for s, _, c in TICKER_SYMBOLS}
    for rec in take(ticker_records(3, START), 5000):
        assert sectors[rec["ticker_symbol"]] == rec["sector"]
        assert rec["price"] == round(rec["price"], 2) and rec["price"] >= 1.0
        assert abs(rec["change"]) <= 1.5
        assert rec["price"] == pytest.approx(last[rec["ticker_symbol"]] + rec["change"])
        last[rec["ticker_symbol"]] = rec["price"]
        assert isinstance(rec["event_time_ms"], int)
    assert len({r["ticker_symbol"] for r in take(ticker_records(3, START), 2000)}) == len(
        TICKER_SYMBOLS)


def test_event_times_strictly_increase_without_disorder():
    times = [r["event_time_ms"] for r in take(ticker_records(1, START, mean_step_ms=20), 5000)]
    assert all(b > a for a, b in zip(times, times[1:], strict=False))
    assert times[0] > START
    mean = (times[-1] - START) / len(times)
    assert 17 < mean < 23


@pytest.mark.parametrize("gen", [ticker_records, clickstream_records])
def test_disorder_is_bounded_and_changes_only_times(gen):
    ordered = take(gen(5, START), 3000)
    disordered = take(gen(5, START, disorder_ms=400), 3000)
    strip = [{k: v for k, v in r.items() if k != "event_time_ms"} for r in ordered]
    assert strip == [{k: v for k, v in r.items() if k != "event_time_ms"} for r in disordered]
    newest, late = START, 0
    for rec in disordered:
        assert rec["event_time_ms"] >= newest - 400
        late += rec["event_time_ms"] < newest
        newest = max(newest, rec["event_time_ms"])
    assert late > 100  # it really is out of order


def test_start_ms_shifts_times_only():
    a = take(ticker_records(9, START), 200)
    b = take(ticker_records(9, START + 60_000), 200)
    assert [r["event_time_ms"] + 60_000 for r in a] == [r["event_time_ms"] for r in b]


def test_clickstream_shape():
    recs = take(clickstream_records(11, START), 3000)
    assert {r["action"] for r in recs} == {"view", "click", "add_to_cart", "purchase"}
    assert len({r["event_id"] for r in recs}) == len(recs)
    sessions_per_user: dict[str, set[str]] = {}
    for r in recs:
        sessions_per_user.setdefault(r["user_id"], set()).add(r["session_id"])
        assert r["referrer"] is None or r["referrer"].startswith("https://")
    assert any(len(s) > 1 for s in sessions_per_user.values())
    codec = schemas.codec_for("avro", "clickstream")
    assert all(codec.decode(codec.encode(r)) == r for r in recs[:100])


def test_malformed_positions_are_seeded():
    assert malformed_positions(1, 100, 5) == malformed_positions(1, 100, 5)
    assert malformed_positions(1, 100, 5) != malformed_positions(2, 100, 5)
    pos = malformed_positions(1, 100, 5)
    assert pos == sorted(set(pos)) and all(0 <= p < 100 for p in pos)
    with pytest.raises(ConfigError):
        malformed_positions(1, 3, 4)


@pytest.mark.parametrize("kind", ["ticker", "clickstream"])
@pytest.mark.parametrize("fmt", ["json", "avro"])
def test_malformed_injection(kind, fmt):
    spec = DataSpec(start_ms=START, kind=kind, format=fmt, seed=21, malformed=8)
    recs = list(spec.records(400))
    assert [r.index for r in recs] == list(range(400))
    bad = [r for r in recs if r.malformed]
    assert [r.index for r in bad] == malformed_positions(21, 400, 8)
    kinds = MALFORMED_KINDS[fmt]
    assert [r.malformed for r in bad] == [kinds[i % len(kinds)] for i in range(8)]
    for r in bad:
        assert r.data is None
        with pytest.raises(CodecError) as info:
            schemas.decode_any(r.value, kind)
        assert info.value.raw == r.value
    # The good records are the generator's records, in order, as a prefix.
    good = [r for r in recs if not r.malformed]
    gen = ticker_records if kind == "ticker" else clickstream_records
    assert [r.data for r in good] == take(gen(21, START), 392)
    codec = schemas.codec_for(fmt, kind)
    assert all(r.value == codec.encode(r.data) for r in good)
    key_field = "ticker_symbol" if kind == "ticker" else "user_id"
    assert all(r.key == r.data[key_field] for r in good)


def test_malformed_reasons_per_kind():
    spec = DataSpec(start_ms=START, format="json", seed=2, malformed=4)
    reasons = {}
    for r in spec.records(50):
        if r.malformed:
            with pytest.raises(CodecError) as info:
                schemas.decode_any(r.value, "ticker")
            reasons[r.malformed] = info.value.reason
    assert reasons["missing-field"] == "missing field 'price'"
    assert reasons["wrong-type"] == "field 'price' is not a number"
    assert reasons["not-an-object"].startswith("JSON value is not an object")
    assert reasons["invalid-json"].startswith("invalid JSON")


def test_endless_stream_uses_the_horizon():
    spec = DataSpec(start_ms=START, seed=4, malformed=3)
    recs = take(spec.records(), MALFORMED_HORIZON + 50)
    assert [r.index for r in recs if r.malformed] == malformed_positions(4, MALFORMED_HORIZON, 3)


def test_key_field_override():
    spec = DataSpec(start_ms=START, seed=4, key_field="sector")
    assert {r.key for r in spec.records(200)} <= {sec for _, sec, _ in TICKER_SYMBOLS}


@pytest.mark.parametrize(
    "kwargs",
    [{"kind": "stocks"}, {"format": "xml"}, {"malformed": -1}, {"disorder_ms": -1},
     {"mean_step_ms": 0}, {"start_ms": -5}],
)
def test_spec_validation(kwargs):
    with pytest.raises(ConfigError):
        DataSpec(**{"start_ms": START, **kwargs})


@pytest.mark.parametrize(
    "kwargs",
    [{"count": None}, {"count": -1}, {"partitions": 0}, {"compression": "brotli"},
     {"rate_per_s": 0}, {"linger_ms": -1}, {"timestamp": "wall"}, {"topic": ""},
     {"count": 5, "data": DataSpec(start_ms=START, malformed=6)}],
)
def test_produce_config_validation(kwargs):
    args = {"topic": "t", "data": DataSpec(start_ms=START), **kwargs}
    with pytest.raises(ConfigError):
        ProduceConfig(**args)
