"""TickerWindowsProcessor (pipeline.yaml on the runtime) against a brute-force recomputation,
and its changelog: a processor restored at any batch boundary goes on exactly as one that
never stopped."""

from __future__ import annotations

import json
import random
from collections import defaultdict

import pytest

from pipelines.config import PipelineConfig
from pipelines.decoding import decoder_for
from pipelines.error_rows import LATE_RECORD, MALFORMED_RECORD, ErrorRow
from pipelines.runtime.records import OutRecord, SourceRecord
from pipelines.ticker_processor import TickerWindowsProcessor

WINDOW = 1_000
GRACE = 200
CONFIG = PipelineConfig(
    app_id="app", input_topic="in", output_topic="out", error_topic="err",
    window_ms=WINDOW, grace_ms=GRACE, idle_timeout_ms=5_000,
)  # fmt: skip


def records(seed: int, n: int, disorder: int, malformed_every: int = 0) -> list[SourceRecord]:
    rnd = random.Random(seed)
    t, out = 50_000, []
    for off in range(n):
        t += rnd.randint(0, 40)
        ts = t - rnd.randint(0, disorder)
        if malformed_every and off % malformed_every == 7:
            value = b'{"ticker_symbol": "AAA", "price": "not a number"}'
        else:
            value = json.dumps({
                "ticker_symbol": rnd.choice(["AAA", "BBB", "CCC"]),
                "sector": "TECHNOLOGY", "change": 0.5,
                "price": round(rnd.uniform(1, 100), 2), "event_time_ms": ts,
            }).encode()  # fmt: skip
        out.append(SourceRecord("in", 0, off, ts, b"k", value))
    return out


def brute_force(recs: list[SourceRecord]):
    """Results and error names computed record by record with plain Python."""
    groups: dict[tuple[str, int], list[float]] = defaultdict(list)
    errors: dict[int, str] = {}
    max_ts = None
    closed_through = None
    for r in recs:
        try:
            v = json.loads(r.value)
            price = v["price"]
            if not isinstance(price, float | int):
                raise TypeError
            sym, ts = v["ticker_symbol"], v["event_time_ms"]
        except (KeyError, TypeError):
            errors[r.offset] = MALFORMED_RECORD
            continue
        start = ts // WINDOW * WINDOW
        watermark = None if max_ts is None else max_ts - GRACE
        if closed_through is not None and watermark is not None:
            watermark = max(watermark, closed_through)
        if watermark is not None and start + WINDOW <= watermark:
            errors[r.offset] = LATE_RECORD
            continue
        groups[(sym, start)].append(price)
        max_ts = ts if max_ts is None else max(max_ts, ts)
    return {k: (len(v), min(v), max(v), sum(v) / len(v)) for k, v in groups.items()}, errors


def run(proc_factory, batches, changelog=None, restart_at=()):
    """Feed ``batches``; at each index in ``restart_at`` throw the processor away and restore
    a new one from the changelog the previous one wrote. Then idle-close everything."""
    changelog = {} if changelog is None else changelog
    proc = proc_factory()
    proc.restore(changelog.items())
    out: list[OutRecord] = []

    def apply(changes):
        for k, v in changes:
            if v is None:
                changelog.pop(k, None)
            else:
                changelog[k] = v

    for i, batch in enumerate(batches):
        if i in restart_at:
            proc = proc_factory()
            proc.restore(list(changelog.items()))
        out += proc.process(batch)
        apply(proc.take_changes())
    out += proc.on_idle(10**13, 10_000)
    apply(proc.take_changes())
    return out, changelog


def results(out: list[OutRecord]):
    got = {}
    for o in out:
        if o.topic == "out":
            v = json.loads(o.value)
            key = (v["ticker_symbol"], v["window_start_ms"])
            assert key not in got, f"window {key} emitted twice"
            got[key] = (v["count"], v["min_price"], v["max_price"], v["avg_price"])
    errors = {}
    for o in out:
        if o.topic == "err":
            row = json.loads(o.value)
            assert row["SOURCE_OFFSET"] not in errors
            errors[row["SOURCE_OFFSET"]] = row["ERROR_NAME"]
    return got, errors


def factory():
    return TickerWindowsProcessor(CONFIG, 0, decoder_for("json", "ticker"), wall_ms=lambda: 1)


def chunks(recs, seed):
    rnd = random.Random(seed)
    i, out = 0, []
    while i < len(recs):
        n = rnd.randint(1, 60)
        out.append(recs[i:i + n])
        i += n
    return out


@pytest.mark.parametrize("seed", range(6))
def test_results_and_errors_equal_brute_force(seed: int) -> None:
    recs = records(seed, 1_500, disorder=400, malformed_every=97)
    want, want_errors = brute_force(recs)
    out, changelog = run(factory, chunks(recs, seed))
    got, got_errors = results(out)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k][:3] == want[k][:3] and got[k][3] == pytest.approx(want[k][3])
    assert got_errors == want_errors
    assert LATE_RECORD in want_errors.values() and MALFORMED_RECORD in want_errors.values()
    # every window is emitted: only the partition's clock is left in the changelog
    assert list(changelog) == [b"p"]


@pytest.mark.parametrize("seed", range(6))
def test_restore_at_batch_boundaries_changes_nothing(seed: int) -> None:
    recs = records(100 + seed, 1_200, disorder=300, malformed_every=131)
    batches = chunks(recs, seed)
    once, _ = run(factory, batches)
    rnd = random.Random(seed)
    restarts = set(rnd.sample(range(1, len(batches)), k=min(5, len(batches) - 1)))
    restarted, _ = run(factory, batches, restart_at=restarts)
    assert results(restarted) == results(once)


def test_error_rows_keep_the_original_bytes() -> None:
    bad = SourceRecord("in", 3, 42, 1_000, b"key", b"\xff not json")
    out = factory().process([bad])
    assert len(out) == 1 and out[0].topic == "err" and out[0].key == b"key"
    row = json.loads(out[0].value)
    assert ErrorRow.original_bytes(row) == bad.value
    assert (row["ERROR_NAME"], row["SOURCE_PARTITION"], row["SOURCE_OFFSET"]) == (
        MALFORMED_RECORD, 3, 42)
