"""The late gate in front of a repartition decides the rows of an event-time window exactly as
the window itself does in that partition; the window behind closes on the stage frontier."""

from __future__ import annotations

import random

from pipelines.sql import state_codec as codec
from pipelines.sql.operators.base import LATE_ROW, Context
from pipelines.sql.operators.late_gate import TumblingBehind, TumblingGate
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.operators.plan_cases import SRC, pump

FIRST = (
    "s VARCHAR(16), ws TIMESTAMP, n BIGINT, first_price REAL",
    f"SELECT STREAM sector, STEP(event_time BY INTERVAL '10' SECOND), COUNT(*), "
    f"FIRST_VALUE(price) FROM {SRC} WHERE price > 1 "
    "GROUP BY sector, STEP(event_time BY INTERVAL '10' SECOND)",
)


def row(rowtime: int, sector: str, price: float, event_ms: int | None) -> tuple:
    event = None if event_ms is None else Timestamp(event_ms)
    return (Timestamp(rowtime), Timestamp(rowtime), "T", sector, 0.0, price, event)


def restored(op: TumblingGate, changelog: dict[bytes, bytes]) -> TumblingGate:
    """A new gate from ``changelog`` after ``op``'s changes went there (a restart)."""
    for key, value in op.store.take(op.snapshot):
        assert value is not None
        changelog[key] = value
    again = pump(*FIRST, lateness=3_000).late_gate.gate()  # type: ignore[union-attr]
    assert isinstance(again, TumblingGate)
    for key, value in changelog.items():
        again.restore(codec.loads(key)[1], codec.loads(value))
    return again


def test_the_gate_fails_and_keeps_the_rows_the_window_would() -> None:
    planned = pump(*FIRST, lateness=3_000)
    assert planned.two_phase is None and planned.late_gate is not None
    rng = random.Random(5)
    for _ in range(20):
        window, gate = planned.build(), planned.late_gate.gate()
        assert isinstance(gate, TumblingGate)
        window_ctx, gate_ctx = Context("app", 0, 3_000), Context("app", 0, 3_000)
        passed, every = [], []
        changelog: dict[bytes, bytes] = {}
        t = 0
        for _batch in range(rng.randrange(3, 8)):
            rows = []
            for _ in range(rng.randrange(1, 30)):
                t += rng.randrange(0, 400)
                event = None if rng.random() < 0.03 else t - rng.randrange(0, 12_000)
                rows.append(row(t, rng.choice("AB"), rng.choice([0.5, 2.0, 3.0]), event))
            every += rows
            window.process(rows, window_ctx)
            passed += gate.process(rows, gate_ctx)
            if rng.random() < 0.3:  # the partition went idle: both close what is open
                window.advance(window_ctx, idle=True)
                gate.advance(gate_ctx, idle=True)
            if rng.random() < 0.3:
                gate = restored(gate, changelog)
        assert [(f.name, f.row) for f in gate_ctx.failures] == [
            (f.name, f.row) for f in window_ctx.failures
        ]
        # it passes on every other row but those WHERE drops
        failed = {id(f.row) for f in gate_ctx.failures}
        assert passed == [r for r in every if id(r) not in failed and r[5] > 1]
    assert any(f.name == LATE_ROW for f in gate_ctx.failures)


def test_the_window_behind_closes_on_the_stage_frontier_not_on_its_rows() -> None:
    planned = pump(*FIRST, lateness=3_000)
    behind = planned.late_gate.window()  # type: ignore[union-attr]
    assert isinstance(behind, TumblingBehind)
    ctx = Context("app", 0, 3_000)
    # a row far ahead in event time closes nothing here (its partition's gate judged it)
    assert behind.process([row(1, "A", 2.0, 1_000), row(2, "A", 3.0, 60_000)], ctx) == []
    assert behind.process([row(3, "A", 5.0, 2_000)], ctx) == []
    assert behind.advance(ctx) == []  # no frontier yet
    ctx.frontiers["P"] = 10_000
    (result,) = behind.advance(ctx)
    assert result[1:] == ("A", Timestamp(0), 2, 2.0)
    # only a partition that was idle and came back behind sends a row for a closed window
    assert behind.process([row(4, "A", 4.0, 9_000)], ctx) == []
    (failure,) = ctx.failures
    assert failure.name == LATE_ROW
