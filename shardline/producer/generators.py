"""Deterministic, seeded test data: stock tickers and click-stream events.

Everything here is a pure function of its arguments: the same seed and start time give
byte-identical records in the same order, on any machine, so a test or the demo can
recompute exactly what a producer sent. Only ``random.Random.random()``,
``getrandbits()`` and ``sample()`` are used (stable across CPython 3 versions).

Event times start at ``start_ms`` and advance by a seeded step (uniform in
``[1, 2·mean_step_ms - 1]``, so strictly increasing). With ``disorder_ms > 0`` each event
time is moved back by a seeded amount in ``[0, disorder_ms]``: out of order, but never more
than ``disorder_ms`` behind the newest event time seen so far (bounded out-of-orderness,
what a watermark with that delay tolerates). The draws are made whatever ``disorder_ms``
is, so changing it moves times only; symbols, prices and keys stay the same.

Malformed records (:func:`generate`) replace the records at ``malformed`` seeded positions
of the message stream; the well-formed records around them are the generator's records
in order, so the good records of a run are always a prefix of :func:`ticker_records`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from ground.errors import ConfigError
from schemas import FORMATS, Codec, codec_for

__all__ = [
    "CLICK_ACTIONS",
    "DEFAULT_MEAN_STEP_MS",
    "KINDS",
    "MALFORMED_HORIZON",
    "MALFORMED_KINDS",
    "TICKER_SYMBOLS",
    "DataSpec",
    "Record",
    "clickstream_records",
    "generate",
    "malformed_positions",
    "ticker_records",
]

Kind = Literal["ticker", "clickstream"]
KINDS: tuple[Kind, ...] = ("ticker", "clickstream")
DEFAULT_MEAN_STEP_MS = 50
MALFORMED_HORIZON = 1000
"""With no record count (a run for a duration), malformed positions are drawn from the
first this many records."""

# (symbol, sector, start price in cents): the kind of rows of the KDA demo stream.
TICKER_SYMBOLS: tuple[tuple[str, str, int], ...] = (
    ("AMZN", "TECHNOLOGY", 18_550),
    ("AAPL", "TECHNOLOGY", 19_020),
    ("MSFT", "TECHNOLOGY", 41_530),
    ("CRM", "TECHNOLOGY", 27_140),
    ("XOM", "ENERGY", 11_260),
    ("CVX", "ENERGY", 15_480),
    ("NEE", "ENERGY", 7_350),
    ("JNJ", "HEALTHCARE", 15_870),
    ("PFE", "HEALTHCARE", 2_890),
    ("UNH", "HEALTHCARE", 52_010),
    ("JPM", "FINANCIAL", 20_110),
    ("BAC", "FINANCIAL", 3_940),
    ("GS", "FINANCIAL", 46_300),
    ("WMT", "RETAIL", 6_780),
    ("TGT", "RETAIL", 14_220),
    ("TSLA", "AUTOMOBILE", 24_860),
)
_MAX_TICK_CENTS = 150  # one step moves a price by at most ±1.50
_MIN_PRICE_CENTS = 100

CLICK_ACTIONS: tuple[tuple[str, float], ...] = (
    ("view", 0.60),
    ("click", 0.25),
    ("add_to_cart", 0.10),
    ("purchase", 0.05),
)
_PAGES = (
    "/", "/search", "/cart", "/checkout", "/account", "/deals",
    *(f"/products/{n}" for n in range(1, 25)),
)
_REFERRERS = (
    "https://www.google.com/", "https://www.bing.com/", "https://news.ycombinator.com/",
    "https://twitter.com/", "https://example.com/blog",
)
_USERS = 200
_NEW_SESSION_P = 0.08


def _pick(rng: random.Random, seq: tuple[Any, ...]) -> Any:
    return seq[int(rng.random() * len(seq))]


def _check_times(start_ms: int, disorder_ms: int, mean_step_ms: int) -> None:
    if start_ms < 0:
        raise ConfigError("start_ms", f"must be >= 0, got {start_ms}")
    if disorder_ms < 0:
        raise ConfigError("disorder_ms", f"must be >= 0, got {disorder_ms}")
    if mean_step_ms < 1:
        raise ConfigError("mean_step_ms", f"must be >= 1, got {mean_step_ms}")


def _event_times(rng: random.Random, start_ms: int, disorder_ms: int, mean_step_ms: int):
    """Closure giving the next event time; two draws per call whatever the settings."""
    base = start_ms
    span = max(1, 2 * mean_step_ms - 1)

    def step() -> int:
        nonlocal base
        base += 1 + int(rng.random() * span)
        late = int(rng.random() * (disorder_ms + 1))
        return max(start_ms, base - late)

    return step


def ticker_records(
    seed: int,
    start_ms: int,
    *,
    disorder_ms: int = 0,
    mean_step_ms: int = DEFAULT_MEAN_STEP_MS,
) -> Iterator[dict[str, Any]]:
    """An endless stream of ticker dicts (ticker.avsc): per-symbol random walks in cents."""
    _check_times(start_ms, disorder_ms, mean_step_ms)
    rng = random.Random(seed)
    prices = {sym: cents for sym, _sector, cents in TICKER_SYMBOLS}
    next_time = _event_times(rng, start_ms, disorder_ms, mean_step_ms)
    while True:
        symbol, sector, _ = _pick(rng, TICKER_SYMBOLS)
        old = prices[symbol]
        new = max(_MIN_PRICE_CENTS, old + int(rng.random() * (2 * _MAX_TICK_CENTS + 1))
                  - _MAX_TICK_CENTS)
        prices[symbol] = new
        yield {
            "ticker_symbol": symbol,
            "sector": sector,
            "change": (new - old) / 100,
            "price": new / 100,
            "event_time_ms": next_time(),
        }


def clickstream_records(
    seed: int,
    start_ms: int,
    *,
    disorder_ms: int = 0,
    mean_step_ms: int = DEFAULT_MEAN_STEP_MS,
) -> Iterator[dict[str, Any]]:
    """An endless stream of click dicts (clickstream.avsc) from a pool of 200 users."""
    _check_times(start_ms, disorder_ms, mean_step_ms)
    rng = random.Random(seed)
    sessions: dict[str, str] = {}
    next_time = _event_times(rng, start_ms, disorder_ms, mean_step_ms)
    while True:
        user = f"user-{int(rng.random() * _USERS):04d}"
        new_session = user not in sessions or rng.random() < _NEW_SESSION_P
        if new_session:
            sessions[user] = f"s-{rng.getrandbits(48):012x}"
        u, action = rng.random(), CLICK_ACTIONS[-1][0]
        for name, weight in CLICK_ACTIONS:
            if u < weight:
                action = name
                break
            u -= weight
        referrer_draw = rng.random()
        yield {
            "event_id": f"{rng.getrandbits(64):016x}",
            "user_id": user,
            "session_id": sessions[user],
            "page": _pick(rng, _PAGES),
            "action": action,
            "referrer": _pick(rng, _REFERRERS) if new_session and referrer_draw < 0.6 else None,
            "event_time_ms": next_time(),
        }


_GENERATORS: dict[str, Callable[..., Iterator[dict[str, Any]]]] = {
    "ticker": ticker_records,
    "clickstream": clickstream_records,
}
_DEFAULT_KEY_FIELD = {"ticker": "ticker_symbol", "clickstream": "user_id"}
_VICTIM_FIELD = {"ticker": "price", "clickstream": "event_time_ms"}

MALFORMED_KINDS: dict[str, tuple[str, ...]] = {
    "json": ("invalid-json", "missing-field", "wrong-type", "not-an-object"),
    "avro": ("unknown-schema-id", "truncated-avro", "invalid-json", "missing-field"),
}
_UNKNOWN_SCHEMA_ID = 999


@dataclass(frozen=True, slots=True)
class Record:
    """One message of a run: ``index`` in the stream, Kafka key and value bytes.

    ``data`` is the dict encoded in ``value``; for a malformed record it is None and
    ``malformed`` names the defect (one of :data:`MALFORMED_KINDS`).
    """

    index: int
    key: str
    value: bytes
    data: dict[str, Any] | None = None
    malformed: str | None = None


@dataclass(frozen=True, slots=True)
class DataSpec:
    """What to generate; :meth:`records` regenerates the exact same messages."""

    start_ms: int
    kind: Kind = "ticker"
    seed: int = 0
    format: str = "json"
    disorder_ms: int = 0
    mean_step_ms: int = DEFAULT_MEAN_STEP_MS
    malformed: int = 0
    key_field: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError("kind", f"one of {KINDS}, got {self.kind!r}")
        if self.format not in FORMATS:
            raise ConfigError("format", f"one of {FORMATS}, got {self.format!r}")
        if self.malformed < 0:
            raise ConfigError("malformed", f"must be >= 0, got {self.malformed}")
        _check_times(self.start_ms, self.disorder_ms, self.mean_step_ms)

    @property
    def partition_key_field(self) -> str:
        return self.key_field or _DEFAULT_KEY_FIELD[self.kind]

    def records(self, count: int | None = None, *, codec: Codec | None = None) -> Iterator[Record]:
        """The first ``count`` messages (endless if None); same spec and codec ⇒ same bytes."""
        return generate(self, count, codec=codec)


def malformed_positions(seed: int, horizon: int, k: int) -> list[int]:
    """``k`` distinct sorted positions in ``[0, horizon)``, a function of ``seed`` only."""
    if k > horizon:
        raise ConfigError("malformed", f"{k} malformed records do not fit in {horizon}")
    return sorted(random.Random(f"shardline-malformed:{seed}").sample(range(horizon), k))


def generate(
    spec: DataSpec, count: int | None = None, *, codec: Codec | None = None
) -> Iterator[Record]:
    """Encoded messages of ``spec``: good records with malformed ones at seeded positions.

    ``codec`` encodes the good records (default: the ``spec.kind`` schema of the process's
    catalog in ``spec.format``); the producer passes one that registers its schema under
    the topic's subject.
    """
    if codec is not None and (codec.format, codec.schema_name) != (spec.format, spec.kind):
        raise ConfigError("codec", f"a {codec.format} codec of {codec.schema_name!r} for "
                                   f"{spec.format} records of {spec.kind!r}")
    if count is not None and count < 0:
        raise ConfigError("count", f"must be >= 0, got {count}")
    horizon = count if count is not None else MALFORMED_HORIZON
    bad_at = {
        pos: MALFORMED_KINDS[spec.format][i % len(MALFORMED_KINDS[spec.format])]
        for i, pos in enumerate(malformed_positions(spec.seed, horizon, spec.malformed))
    }
    codec = codec or codec_for(spec.format, spec.kind)
    key_field = spec.partition_key_field
    good = _GENERATORS[spec.kind](
        spec.seed, spec.start_ms, disorder_ms=spec.disorder_ms, mean_step_ms=spec.mean_step_ms
    )
    pending = next(good)
    index = 0
    while count is None or index < count:
        key = str(pending[key_field])
        if index in bad_at:
            yield Record(index, key, _malformed(bad_at[index], spec.kind, pending, codec),
                         malformed=bad_at[index])
        else:
            yield Record(index, key, codec.encode(pending), data=pending)
            pending = next(good)
        index += 1


def _malformed(kind: str, schema_kind: str, template: dict[str, Any], codec: Codec) -> bytes:
    victim = _VICTIM_FIELD[schema_kind]
    as_json = json.dumps(template, separators=(",", ":")).encode()
    if kind == "invalid-json":
        return as_json[: len(as_json) // 2]
    if kind == "missing-field":
        return json.dumps({k: v for k, v in template.items() if k != victim},
                          separators=(",", ":")).encode()
    if kind == "wrong-type":
        return json.dumps({**template, victim: str(template[victim])},
                          separators=(",", ":")).encode()
    if kind == "not-an-object":
        return json.dumps(list(template.values()), separators=(",", ":")).encode()
    avro = codec.encode(template)  # the avro kinds are only made for the avro format
    if kind == "unknown-schema-id":
        return avro[:1] + _UNKNOWN_SCHEMA_ID.to_bytes(4, "big") + avro[5:]
    if kind == "truncated-avro":
        return avro[: 5 + (len(avro) - 5) // 2]
    raise AssertionError(f"unknown malformed kind {kind}")
