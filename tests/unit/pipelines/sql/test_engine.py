"""Crash anywhere, restore from the changelog, go on: the output equals an uninterrupted run.

The runtime commits a batch's outputs and the state changes it caused in one transaction, so
a restarted partition resumes from exactly the state after the last committed batch. This
checks the engine side of that promise for every kind of pump: a compacted changelog (the
latest value per key, deletes removed) rebuilt into a fresh engine continues identically.
"""

from __future__ import annotations

import random

import pytest

from pipelines.sql.engine import PartitionEngine
from pipelines.sql.plan import plan_application
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.corpus import (
    CHAIN_AND_JOIN,
    SLIDING,
    STAGGER,
    TICKER_COLUMNS,
    TOP_K,
    TUMBLING_EVENT_TIME,
    TUMBLING_ROWTIME,
    ticker_records,
)

RECORDS = ticker_records(3000, seed=11)
SOURCE = "SOURCE_SQL_STREAM_001"


def _batches(records, size):
    return [records[i : i + size] for i in range(0, len(records), size)]


def _feed(engine: PartitionEngine, batch) -> dict:
    rows = []
    for ts, values in batch:
        rowtime = engine.next_rowtime(ts)
        rows.append((rowtime, Timestamp(ts), *values))
    return engine.push(SOURCE, rows)


def _collect(out: list, streams: dict) -> None:
    for name in sorted(streams):
        if name != SOURCE:
            out.extend((name, tuple(row)) for row in streams[name])


def _run(plan, batches, *, crash_after: set[int]) -> tuple[list, list]:
    changelog: dict[bytes, bytes] = {}
    engine = PartitionEngine(plan, allowed_lateness_ms=5000)
    out: list = []
    failures: list = []
    for index, batch in enumerate(batches):
        _collect(out, _feed(engine, batch))
        failures.extend((f.pump, f.name, tuple(f.row)) for f in engine.take_failures())
        for key, value in engine.take_changes():  # committed with the batch
            if value is None:
                changelog.pop(key, None)
            else:
                changelog[key] = value
        if index in crash_after:
            engine = PartitionEngine(plan, allowed_lateness_ms=5000)
            engine.restore(list(changelog.items()))
    _collect(out, engine.advance(idle=True))
    return out, failures


@pytest.mark.parametrize(
    "code",
    [TUMBLING_ROWTIME, TUMBLING_EVENT_TIME, SLIDING, STAGGER, TOP_K, CHAIN_AND_JOIN],
    ids=["tumbling-rowtime", "tumbling-event-time", "sliding", "stagger", "top-k", "join"],
)
def test_restore_anywhere_continues_identically(code: str) -> None:
    plan = plan_application(
        code, application="t", inputs={SOURCE: TICKER_COLUMNS}, allowed_lateness_ms=5000
    )
    batches = _batches(RECORDS, 37)
    expected, expected_failures = _run(plan, batches, crash_after=set())
    assert expected
    rng = random.Random(3)
    for _ in range(3):
        crashes = set(rng.sample(range(len(batches)), 6))
        got, failures = _run(plan, batches, crash_after=crashes)
        assert got == expected
        assert failures == expected_failures


def test_state_goes_away_when_windows_close() -> None:
    plan = plan_application(TUMBLING_ROWTIME, application="t", inputs={SOURCE: TICKER_COLUMNS})
    engine = PartitionEngine(plan)
    changelog: dict[bytes, bytes] = {}
    for batch in _batches(RECORDS, 100):
        _feed(engine, batch)
        for key, value in engine.take_changes():
            if value is None:
                changelog.pop(key, None)
            else:
                changelog[key] = value
    engine.advance(idle=True)
    for key, value in engine.take_changes():
        if value is None:
            changelog.pop(key, None)
        else:
            changelog[key] = value
    # only the engine's ROWTIME and the operator's watermark remain: no open window leaks
    assert len(changelog) == 2


@pytest.mark.parametrize("sql", [TUMBLING_EVENT_TIME, TUMBLING_ROWTIME], ids=["event", "rowtime"])
def test_tumbling_changelog_keys_are_the_generic_encoding(sql: str) -> None:
    """The tumbling operator's fast key encoding gives ``codec.dumps([prefix, key])``'s
    bytes, the encoding every store used before (and ``restore`` decodes)."""
    from pipelines.sql import state_codec as codec

    plan = plan_application(
        sql, application="app", inputs={SOURCE: TICKER_COLUMNS}, allowed_lateness_ms=2000
    )
    engine = PartitionEngine(plan, allowed_lateness_ms=2000)
    checked = 0
    for batch in _batches(RECORDS[:600], 97):
        _feed(engine, batch)
        for op in engine.operators:
            store = op.store
            if store is None or not hasattr(op, "encode_key"):
                continue
            keys = list(store._dirty)
            want = [codec.dumps([store._prefix, k]) for k in keys]
            got = [k for k, _ in store.take(op.snapshot, op.encode_key)]
            assert got == want
            for key in keys:
                assert op.encode_key(key) == codec.dumps(key)
            checked += len(keys)
    assert checked > 100
