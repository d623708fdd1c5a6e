"""The two phases of a windowed aggregation: partials per partition, merged behind a
repartition once the stage frontier passed the window; what comes too late is an error."""

from __future__ import annotations

from pipelines.sql.operators.base import Context
from pipelines.sql.operators.two_phase import (
    ItemsFinal,
    ItemsPartial,
    TumblingFinal,
    TumblingPartial,
)
from pipelines.sql.types import Timestamp
from tests.unit.pipelines.sql.operators.plan_cases import SRC, pump

SECTOR = (
    "s VARCHAR(16), n BIGINT, total DOUBLE",
    f"SELECT STREAM sector, COUNT(*), SUM(price) FROM {SRC} "
    "GROUP BY sector, STEP(ROWTIME BY INTERVAL '10' SECOND)",
)
TOP = (
    "item VARCHAR(4), item_count BIGINT",
    f"SELECT STREAM * FROM TABLE(TOP_K_ITEMS_TUMBLING(CURSOR(SELECT STREAM * FROM {SRC}), "
    "'TICKER_SYMBOL', 2, 10))",
)


def row(t: int, ticker: str, sector: str, price: float) -> tuple:
    return (Timestamp(t), Timestamp(t), ticker, sector, 0.0, price, Timestamp(t))


def phases(case: tuple[str, str]) -> tuple:
    planned = pump(*case)
    assert planned.two_phase is not None
    return planned.two_phase.partial(), planned.two_phase.final()


def test_partials_leave_when_the_partitions_rowtime_passes_their_window_end() -> None:
    partial, _ = phases(SECTOR)
    assert isinstance(partial, TumblingPartial)
    ctx = Context("app", 0, 0)
    assert partial.process([row(1_000, "A", "TECH", 2.0), row(4_000, "B", "TECH", 3.0)], ctx) == []
    assert partial.frontier() == 4_000
    # rows filtered out before this pump moved the partition's ROWTIME on: the window is done
    (out,) = partial.settle(10_500, ctx)
    rowtime, start, key, states = out
    assert (rowtime, start, key) == (10_500, 0, ("TECH", Timestamp(0)))
    assert states[0] == 2 and partial.frontier() == 10_500


def test_the_final_merges_and_closes_at_the_stage_frontier_and_refuses_late_partials() -> None:
    partial_a, final = phases(SECTOR)
    partial_b, _ = phases(SECTOR)
    assert isinstance(final, TumblingFinal)
    ctx = Context("app", 0, 0)
    partial_a.process([row(1_000, "A", "TECH", 2.0)], ctx)
    partial_b.process([row(2_000, "B", "TECH", 5.0), row(3_000, "C", "OIL", 1.0)], ctx)
    parts = partial_a.settle(10_000, ctx) + partial_b.settle(10_000, ctx)
    assert final.process(parts, ctx) == []
    ctx.frontiers["P"] = 9_999
    assert final.advance(ctx) == []  # one partition may still send for [0, 10 s)
    ctx.frontiers["P"] = 10_000
    ctx.rowtime = 12_000
    got = sorted(tuple(r) for r in final.advance(ctx))
    assert got == [(Timestamp(10_000), "OIL", 1, 1.0), (Timestamp(10_000), "TECH", 2, 7.0)]
    assert final.rowtime_floor(50_000) == 10_000  # the next results end after the frontier
    # a partial of a closed window (its partition had been idle, and came back behind the
    # others): on ROWTIME its rows entered the stage's stream now, in the first open window
    final.process(parts[:1], ctx)
    assert ctx.failures == []
    ctx.frontiers["P"] = 20_000
    ((result, key),) = [(tuple(r), r.key) for r in final.advance(ctx)]
    assert result == (Timestamp(20_000), "TECH", 1, 2.0)
    assert key == b'app/D/10000/["TECH"]'


SECTOR_EVENT_TIME = (
    "s VARCHAR(16), n BIGINT, total DOUBLE",
    f"SELECT STREAM sector, COUNT(*), SUM(price) FROM {SRC} "
    "GROUP BY sector, STEP(event_time BY INTERVAL '10' SECOND)",
)


def test_a_late_partial_of_an_event_time_window_is_an_error_with_its_aggregates() -> None:
    partial_a, final = phases(SECTOR_EVENT_TIME)
    partial_b, _ = phases(SECTOR_EVENT_TIME)
    ctx = Context("app", 0, 0)
    assert partial_a.process([row(1_000, "A", "TECH", 2.0)], ctx) == []
    late = partial_a.advance(ctx, idle=True)
    parts = partial_b.process([row(2_000, "B", "TECH", 5.0), row(12_000, "C", "OIL", 1.0)], ctx)
    parts += partial_b.advance(ctx, idle=True)
    final.process(parts, ctx)
    ctx.frontiers["P"] = 20_000
    assert len(final.advance(ctx)) == 2
    final.process(late, ctx)  # partition A's, after the window closed
    (failure,) = ctx.failures
    assert failure.name == "Late_Row" and "idle" in failure.message
    assert failure.row[1:] == ("TECH", Timestamp(0), 1, 2.0)


def test_top_k_sketches_merge_across_partitions() -> None:
    partial_a, final = phases(TOP)
    partial_b, _ = phases(TOP)
    assert isinstance(partial_a, ItemsPartial) and isinstance(final, ItemsFinal)
    ctx = Context("app", 0, 0)
    partial_a.process([row(1_000, "A", "S", 1.0), row(2_000, "A", "S", 1.0)], ctx)
    partial_b.process([row(1_500, "B", "S", 1.0), row(1_600, "B", "S", 1.0),
                       row(1_700, "B", "S", 1.0), row(1_800, "A", "S", 1.0)], ctx)  # fmt: skip
    parts = partial_a.advance(ctx, idle=True) + partial_b.settle(10_000, ctx)
    assert partial_a.frontier() == 10_000 and partial_b.frontier() == 10_000
    final.process(parts, ctx)
    ctx.frontiers["P"] = 10_000
    got = [(tuple(r), r.key) for r in final.advance(ctx)]
    assert got == [
        ((Timestamp(10_000), "A", 3), b"app/D/0/0"),
        ((Timestamp(10_000), "B", 3), b"app/D/0/1"),
    ]


def test_the_partial_phase_takes_the_compiled_row_loop_and_matches_the_plain_one() -> None:
    """The partial phase reads the input's rows, as a one-phase window does: it takes the
    compiled loop (without it a shuffled aggregation ran at half the speed, benchmarks/
    repartition.py), and gives the partials the row-by-row loop gives."""
    fast, _ = phases(SECTOR)
    plain, _ = phases(SECTOR)
    assert fast._fast is not None
    plain._fast = None
    ctx_fast, ctx_plain = Context("app", 0, 0), Context("app", 0, 0)
    rows = [row(t, f"T{t % 7}", ("TECH", "OIL", "RETAIL")[t % 3], (t % 13) / 2)
            for t in range(0, 30_000, 137)]  # fmt: skip
    for i in range(0, len(rows), 25):
        batch = rows[i : i + 25]
        assert fast.process(batch, ctx_fast) == plain.process(batch, ctx_plain)
    assert fast.settle(40_000, ctx_fast) == plain.settle(40_000, ctx_plain)
    assert fast.frontier() == plain.frontier()
