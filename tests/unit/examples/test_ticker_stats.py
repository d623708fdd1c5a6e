"""The ticker-stats SQL application (examples/applications/ticker_stats) on the processor that
``shardline run`` hosts, against a brute-force recomputation, and its changelog: a processor
restored at any batch boundary goes on exactly as one that never stopped."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import pytest

from ground.settings import Settings
from pipelines.error_rows import ErrorRow
from pipelines.runtime.records import OutRecord, SourceRecord
from pipelines.sql.application import SqlApplication, SqlPartitionProcessor, check_application
from pipelines.sql.decoders import MALFORMED_RECORD
from pipelines.sql.operators.base import LATE_ROW
from schemas import codec_for

APP = Path(__file__).resolve().parents[3] / "examples" / "applications" / "ticker_stats"
WINDOW = 60_000  # app.sql: STEP(EVENT_TIME BY INTERVAL '60' SECOND)
LATENESS = 10_000
OUT, ERR = "ticker-stats", "ticker-stats-errors"
TICKER = codec_for("avro", "ticker")


def records(seed: int, n: int, disorder: int, malformed_every: int = 0) -> list[SourceRecord]:
    """Avro ticker records about a second apart, event times up to ``disorder`` behind."""
    rnd = random.Random(seed)
    t, out = 1_700_000_000_000, []
    for off in range(n):
        t += rnd.randint(0, 1_600)
        ts = t - rnd.randint(0, disorder)
        if malformed_every and off % malformed_every == 7:
            value = b'{"ticker_symbol": "AAA", "price": "not a number"}'  # JSON, not Avro
        else:
            value = TICKER.encode({
                "ticker_symbol": rnd.choice(["AAA", "BBB", "CCC"]), "sector": "TECHNOLOGY",
                "change": 0.5, "price": round(rnd.uniform(1, 100), 2), "event_time_ms": ts,
            })  # fmt: skip
        out.append(SourceRecord("ticker", 0, off, t, b"k", value))
    return out


def brute_force(recs: list[SourceRecord]):
    """Results, malformed offsets and late rows computed record by record with plain Python:
    a row is late when its window ended at or before the largest event time before it minus
    the lateness. A late row is (ROWTIME, symbol, price, event time); ROWTIME is the Kafka
    timestamp, which only grows here."""
    groups: dict[tuple[str, int], list[float]] = defaultdict(list)
    malformed: dict[int, str] = {}
    late: list[tuple[int, str, float, int]] = []
    max_ts = None
    for r in recs:
        if not r.value.startswith(b"\x00"):
            malformed[r.offset] = MALFORMED_RECORD
            continue
        v = TICKER.decode(r.value)
        sym, price, ts = v["ticker_symbol"], v["price"], v["event_time_ms"]
        start = ts // WINDOW * WINDOW
        if max_ts is not None and start + WINDOW <= max_ts - LATENESS:
            late.append((r.timestamp_ms, sym, price, ts))
            continue
        groups[(sym, start)].append(price)
        max_ts = ts if max_ts is None else max(max_ts, ts)
    results = {k: (len(v), min(v), max(v), sum(v) / len(v)) for k, v in groups.items()}
    return results, malformed, sorted(late)


def application() -> SqlApplication:
    config, plan = check_application(APP, allowed_lateness_ms=LATENESS)
    return SqlApplication(config, plan, Settings.from_env({}))


def run(app: SqlApplication, batches, changelog=None, restart_at=()):
    """Feed ``batches``; at each index in ``restart_at`` throw the processor away and restore
    a new one from the changelog the previous one wrote. Then idle-close everything."""
    changelog = {} if changelog is None else changelog
    proc: SqlPartitionProcessor = app.processor("ticker", 0)
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
            proc = app.processor("ticker", 0)
            proc.restore(list(changelog.items()))
        out += proc.process(batch)
        apply(proc.take_changes())
    out += proc.on_idle(10**13, 10_000)
    apply(proc.take_changes())
    return out, changelog


def results(out: list[OutRecord]):
    got = {}
    for o in out:
        if o.topic == OUT:
            v = json.loads(o.value)
            key = (v["ticker_symbol"], v["window_start_ms"])
            assert key not in got, f"window {key} emitted twice"
            assert v["window_end_ms"] == v["window_start_ms"] + WINDOW
            got[key] = (v["count"], v["min_price"], v["max_price"], v["avg_price"])
    malformed: dict[int, str] = {}
    late = []
    for o in out:
        if o.topic != ERR:
            continue
        row = json.loads(o.value)
        if row["ERROR_NAME"] == LATE_ROW:
            # DATA_ROW: the row as the pump saw it (ROWTIME, APPROXIMATE_ARRIVAL_TIME, columns)
            (_, rowtime), _arrival, sym, price, (_, event_ms) = json.loads(
                ErrorRow.original_bytes(row)
            )
            late.append((rowtime, sym, price, event_ms))
        else:
            assert row["SOURCE_OFFSET"] not in malformed
            malformed[row["SOURCE_OFFSET"]] = row["ERROR_NAME"]
    return got, malformed, sorted(late)


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
    recs = records(seed, 1_500, disorder=80_000, malformed_every=97)
    want, want_malformed, want_late = brute_force(recs)
    out, changelog = run(application(), chunks(recs, seed))
    got, got_malformed, got_late = results(out)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k][:3] == want[k][:3] and got[k][3] == pytest.approx(want[k][3])
    assert got_malformed == want_malformed and got_late == want_late
    assert want_late and want_malformed
    # every window is emitted: the changelog holds no more than after one record idle-closed
    # (the partition's clocks)
    _, one = run(application(), [recs[:1]])
    assert len(changelog) == len(one)


@pytest.mark.parametrize("seed", range(6))
def test_restore_at_batch_boundaries_changes_nothing(seed: int) -> None:
    recs = records(100 + seed, 1_200, disorder=60_000, malformed_every=131)
    batches = chunks(recs, seed)
    app = application()
    once, _ = run(app, batches)
    rnd = random.Random(seed)
    restarts = set(rnd.sample(range(1, len(batches)), k=min(5, len(batches) - 1)))
    restarted, _ = run(app, batches, restart_at=restarts)
    assert results(restarted) == results(once)


def test_error_rows_keep_the_original_bytes() -> None:
    bad = SourceRecord("ticker", 3, 42, 1_000, b"key", b"\xff not avro")
    out = application().processor("ticker", 3).process([bad])
    assert len(out) == 1 and out[0].topic == ERR
    row = json.loads(out[0].value)
    assert ErrorRow.original_bytes(row) == bad.value
    assert (row["ERROR_NAME"], row["SOURCE_PARTITION"], row["SOURCE_OFFSET"]) == (
        MALFORMED_RECORD, 3, 42)
