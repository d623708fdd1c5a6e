"""An idle upstream partition with lag holds the stage behind a repartition (KIP-695's idea).

Every input partition is quiet long enough to be idle; then a backlog arrives on all of them
at once (a replay after a quiet night). The worker that fetches first must not move the
stage's time past the partitions another worker has not fetched yet: their markers say
idle, but their input has committed records beyond the positions in those markers. The
stage asks (an injected probe of last stable offsets) and waits for them, so nothing is
late that would not be late without the shuffle.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipelines.sql.planning import Grouping
from pipelines.sql.shuffle import MARKER, ChannelClock, ExchangeWriter, decode_record
from pipelines.sql.stages import Outbound
from tests.unit.pipelines.sql.local_cluster import LocalCluster
from tests.unit.pipelines.sql.test_idle_close import EVENT_TIME_APPS
from tests.unit.pipelines.sql.test_repartitioned_apps import (
    LATENESS_MS,
    PARTITIONS,
    SRC,
    errors,
    input_table,
    make_app,
    records,
    values,
)
from tests.unit.pipelines.sql.test_shuffle import ROWS

TP = tuple[str, int]


class FakeProbe:
    """Last stable offsets from a dict; counts the requests and what they asked."""

    def __init__(self, stable: dict[TP, int]) -> None:
        self.stable = stable
        self.asked: list[set[TP]] = []

    def __call__(self, partitions: object) -> dict[TP, int]:
        wanted = set(partitions)  # type: ignore[call-overload]
        self.asked.append(wanted)
        return {tp: self.stable[tp] for tp in wanted if tp in self.stable}


def _at(topic: str, partition: int, offset: int) -> tuple[tuple[str, int, int], ...]:
    return ((topic, partition, offset),)


# -- markers ------------------------------------------------------------------------------------
def test_an_idle_marker_carries_the_input_position_and_moves_when_it_does() -> None:
    writer = ExchangeWriter(Outbound(ROWS, "S", 0, Grouping((), ())), 2, 1)
    out: list = []
    writer.mark(1_000, 1_000, True, out, _at("in", 3, 40))
    assert decode_record(out[0].value) == ("w", 1, (1_000, 1_000, True, (("in", 3, 40),), False))
    writer.mark(1_000, 1_000, True, out, _at("in", 3, 40))  # nothing moved
    assert len(out) == 2
    writer.mark(1_000, 1_000, True, out, _at("in", 3, 42))  # aborted records were skipped
    assert len(out) == 4
    writer.mark(1_000, 1_000, False, out, _at("in", 3, 42))  # active: no position
    assert decode_record(out[-1].value)[2] == (1_000, 1_000, False, None, False)


def test_a_marker_of_the_previous_release_still_decodes() -> None:
    old = orjson.dumps([MARKER, 4, 1_000, 900, True])
    assert decode_record(old) == ("w", 4, (1_000, 900, True, None, False))


# -- the clock ----------------------------------------------------------------------------------
def test_an_idle_channel_whose_input_has_lag_holds_the_stage() -> None:
    probe = FakeProbe({("in", 1): 10})  # records beyond offset 0 were committed
    clock = ChannelClock(2, probe)
    clock.update(0, 0, 0, True, _at("in", 0, 0))
    clock.update(1, 0, 0, True, _at("in", 1, 0))
    # both idle: the stage would turn idle, but channel 1's input has lag
    assert clock.held() == [1] and not clock.stage_idle
    clock.begin_batch()
    clock.update(0, 5_000, 4_000, False)  # channel 0 fetched the backlog first
    assert (clock.stage_rowtime, clock.stage_frontier) == (0, 0)  # held by channel 1
    clock.update(1, 3_000, 2_000, False)  # channel 1 fetched too: its marker frees it
    assert clock.held() == []
    assert (clock.stage_rowtime, clock.stage_frontier) == (3_000, 2_000)


def test_an_idle_channel_without_lag_does_not_hold_the_stage() -> None:
    probe = FakeProbe({("in", 1): 7})
    clock = ChannelClock(2, probe)
    clock.update(0, 1_000, 1_000, False)
    clock.update(1, 500, 500, True, _at("in", 1, 7))  # caught up: its end is the stable end
    assert clock.held() == [] and clock.stage_rowtime == 1_000
    assert probe.asked == [{("in", 1)}]
    clock.update(0, 2_000, 2_000, False)
    assert clock.stage_rowtime == 2_000
    # a record committed after it went idle: the next move waits for it
    probe.stable[("in", 1)] = 8
    clock.begin_batch()
    clock.update(0, 3_000, 3_000, False)
    assert clock.held() == [1] and clock.stage_rowtime == 2_000
    clock.update(1, 2_500, 2_500, False)  # its marker frees it; it holds as any channel
    assert clock.held() == [] and clock.stage_rowtime == 2_500


def test_the_probe_is_asked_only_when_the_stage_would_pass_an_idle_channel() -> None:
    probe = FakeProbe({("in", 0): 0, ("in", 1): 0, ("in", 2): 0})
    clock = ChannelClock(3, probe)
    clock.update(0, 100, 100, False)
    clock.update(1, 100, 100, False)
    clock.update(2, 900, 900, True, _at("in", 2, 0))
    assert probe.asked == []  # the stage's time does not pass channel 2
    clock.update(0, 1_000, 1_000, False)
    clock.update(1, 1_000, 1_000, False)  # now it would: one request
    assert probe.asked == [{("in", 2)}]
    # several moves in one batch: one request serves them
    clock.begin_batch()
    for t in (1_100, 1_200, 1_300):
        clock.update(0, t, t, False)
        clock.update(1, t, t, False)
    assert len(probe.asked) == 2
    assert clock.stage_rowtime == 1_300


def test_idle_markers_without_positions_hold_nothing() -> None:
    probe = FakeProbe({})
    clock = ChannelClock(2, probe)
    clock.update(0, 1_000, 1_000, False)
    clock.update(1, 100, 100, True)  # a marker of the previous release
    assert clock.stage_rowtime == 1_000 and probe.asked == []


def test_a_partition_the_broker_does_not_answer_for_holds_nothing() -> None:
    probe = FakeProbe({})  # answers nothing
    clock = ChannelClock(2, probe)
    clock.update(0, 1_000, 1_000, False)
    clock.update(1, 100, 100, True, _at("in", 1, 3))
    assert clock.stage_rowtime == 1_000 and clock.held() == []


def test_positions_survive_a_restore_and_an_old_snapshot_still_restores() -> None:
    from pipelines.sql.state_codec import loads

    clock = ChannelClock(2)
    clock.update(0, 1_000, 1_000, False)
    clock.update(1, 100, 100, True, _at("in", 1, 3))
    ((key, value),) = clock.store.take(clock.snapshot)
    assert value is not None
    probe = FakeProbe({("in", 1): 9})
    again = ChannelClock(2, probe)
    again.restore(loads(key)[1], loads(value))
    again.update(0, 2_000, 2_000, False)
    assert again.held() == [1] and again.stage_rowtime == 1_000
    old = ChannelClock(2, probe)
    old.restore(loads(key)[1], loads(value)[:6])  # the previous release's six fields
    old.update(0, 2_000, 2_000, False)
    assert old.held() == [] and old.stage_rowtime == 2_000


# -- a stage processor: the backlog after a quiet night -------------------------------------------
def _backlog_run(
    tmp_path: Path, code: str, *, probe: bool, probed: Callable[[str], bool] = lambda t: True
) -> tuple[LocalCluster, list[tuple[int, int, dict[str, Any]]]]:
    """Every input partition goes idle (nothing in it yet); then the whole backlog is
    committed at once. Worker A reads its half of the partitions of every topic (input and
    repartition), in the order of the stages, before worker B fetches any of its half. The
    probe answers for the partitions of the topics ``probed`` accepts."""
    app = make_app(tmp_path, code, ["OUT"])
    holder: dict[str, LocalCluster] = {}
    if probe:
        app.stable_offsets = lambda tps: {
            tp: len(holder["c"].logs[tp]) for tp in tps if probed(tp[0])
        }
    else:
        app.stable_offsets = None
    c = holder["c"] = LocalCluster(app, {"in": PARTITIONS}, seed=11)
    inputs = [("in", p) for p in range(PARTITIONS)]

    def idle(tps: list[TP]) -> None:
        for tp in tps:
            c._pending.extend(c.procs[tp].on_idle(0, 0, len(c.logs[tp])))
        c.commit()

    def drain(tps: list[TP]) -> None:
        for tp in tps:
            proc, log = c.procs[tp], c.logs[tp]
            while c.cursor[tp] < len(log):
                batch = log[c.cursor[tp] : c.cursor[tp] + 150]
                c.cursor[tp] += len(batch)
                c._pending.extend(proc.process(batch))
            c.commit()

    def settle(tps: list[TP]) -> None:
        while any(c.cursor[tp] < len(c.logs[tp]) for tp in tps):
            drain(tps)

    stage = [tp for tp in c.partitions if tp[0] in c.internal]
    idle(inputs)
    settle(stage)
    data = records(2_000, seed=5)
    for part, ts, value in data:
        c.produce("in", part, [(ts, json.dumps(value).encode())])
    # worker A owns the lower half of every topic's partitions (input and repartition), B
    # the rest; A reads its input and runs its stage partitions before B fetches anything
    counts = c.app.wiring.partitions
    first = [tp for tp in c.partitions if tp[1] < counts[tp[0]] // 2]
    second = [tp for tp in c.partitions if tp not in first]
    drain(first)
    drain(second)
    settle(c.partitions)
    idle(inputs)
    settle(stage)
    return c, data


def _late_without_shuffle(data: list[tuple[int, int, dict[str, Any]]]) -> int:
    """How many rows are late by their own partition's watermark (DuckDB over the input)."""
    con = input_table(data)
    return con.execute(
        f"""SELECT count(*) FROM (
            SELECT event_ms - event_ms % 10000 AS ws,
                   max(event_ms) OVER (PARTITION BY part ORDER BY off ROWS BETWEEN
                       UNBOUNDED PRECEDING AND 1 PRECEDING) - {LATENESS_MS} AS wm
            FROM s) WHERE ws + 10000 <= wm"""
    ).fetchone()[0]


@pytest.mark.parametrize("name", ["sector_two_phase"])
def test_a_backlog_after_a_quiet_night_is_not_late_behind_the_repartition(
    tmp_path: Path, name: str
) -> None:
    c, data = _backlog_run(tmp_path, EVENT_TIME_APPS[name], probe=True)
    late = errors(c)
    assert all(e["ERROR_NAME"] == "Late_Row" for e in late)
    # only the rows late in their own partition, one error each: none for the shuffle
    assert not [e for e in late if e["MESSAGE"].startswith("partial")]
    assert len(late) == _late_without_shuffle(data) > 0
    assert sum(v["N"] for v in values(c, "OUT")) + len(late) == len(data)


def test_without_the_probe_the_same_backlog_was_late(tmp_path: Path) -> None:
    # what the probe fixes: the stage moved on with the first half of the partitions
    c, data = _backlog_run(tmp_path, EVENT_TIME_APPS["sector_two_phase"], probe=False)
    assert [e for e in errors(c) if e["MESSAGE"].startswith("partial aggregate")]


# -- a chain of stages ----------------------------------------------------------------------------
CHAIN = f"""
CREATE OR REPLACE STREAM "PER_SECTOR" (sector VARCHAR(16), ws TIMESTAMP, n BIGINT);
CREATE OR REPLACE PUMP "P1" AS INSERT INTO "PER_SECTOR"
SELECT STREAM sector, STEP(event_time BY INTERVAL '10' SECOND), COUNT(*) FROM {SRC}
GROUP BY sector, STEP(event_time BY INTERVAL '10' SECOND);
CREATE OR REPLACE STREAM "OUT" (ws TIMESTAMP, n BIGINT);
CREATE OR REPLACE PUMP "P2" AS INSERT INTO "OUT"
SELECT STREAM STEP(ws BY INTERVAL '30' SECOND), SUM(n) FROM "PER_SECTOR"
GROUP BY STEP(ws BY INTERVAL '30' SECOND);
"""


@pytest.mark.parametrize("probed", ["every topic", "input only"])
def test_a_stage_two_hops_behind_is_covered_by_the_stage_between(
    tmp_path: Path, probed: str
) -> None:
    # the second stage asks only its own repartition topic's offsets; even unanswered, the
    # first stage, held for its input's lag, holds it (docs/sql.md, Chains of stages)
    c, data = _backlog_run(
        tmp_path, CHAIN, probe=True, probed=lambda t: probed == "every topic" or t == "in"
    )
    assert len(c.app.repartition_topics) == 2
    late = errors(c)
    assert not [e for e in late if e["MESSAGE"].startswith("partial")]
    assert len(late) == _late_without_shuffle(data) > 0
    assert sum(v["N"] for v in values(c, "OUT")) + len(late) == len(data)


def test_without_the_probe_the_chain_was_late(tmp_path: Path) -> None:
    c, data = _backlog_run(tmp_path, CHAIN, probe=False)
    assert [e for e in errors(c) if e["MESSAGE"].startswith("partial aggregate")]
    assert sum(v["N"] for v in values(c, "OUT")) < len(data) - _late_without_shuffle(data)
