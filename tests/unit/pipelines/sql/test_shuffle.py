"""What crosses a repartition, and the time of the stage behind it: records, the channel clock
(min over active channels, Flink's valve) and the buffer that orders rows by ROWTIME."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest

from pipelines.sql import shuffle
from pipelines.sql.operators.base import Context
from pipelines.sql.planning import Grouping
from pipelines.sql.shuffle import (
    FRONTIER_SIDE,
    NEVER,
    ChannelClock,
    ExchangeWriter,
    MergeBuffer,
    decode_record,
    partition_of,
    shuffle_key,
)
from pipelines.sql.stages import Outbound, Repartition
from pipelines.sql.state_codec import loads
from pipelines.sql.types import Interval, Timestamp

ROWS = Repartition("app-J-repartition", "J", False, 1, "why", "SECTOR")
PARTIALS = Repartition("app-P-repartition", "P", True, 1, "why", "SECTOR")
GATED = Repartition("app-G-repartition", "G", False, 1, "why", "SECTOR", gated=True)


def test_rows_cross_with_their_exact_values_keyed_by_the_grouping() -> None:
    row = (Timestamp(1_000), "TECH", 1.5, math.inf, None, Decimal("1.10"), Interval(6), b"\x01")
    writer = ExchangeWriter(Outbound(ROWS, "S", 1, Grouping(("SECTOR",), (lambda r: r[1],))), 8, 3)
    out: list = []
    writer.write([row], Context("app", 0, 0), out)
    (record,) = out
    assert record.topic == ROWS.topic and record.timestamp_ms == 1_000
    assert record.key == shuffle_key(["TECH"]) and record.partition == partition_of(record.key, 8)
    kind, channel, (side, decoded) = decode_record(record.value)
    assert (kind, channel, side) == ("r", 3, 1)
    assert decoded == row and [type(v) for v in decoded] == [type(v) for v in row]


def test_consecutive_rows_with_one_key_cross_in_one_record(monkeypatch) -> None:
    rows = [(Timestamp(1_000 + i), "TECH" if i < 3 or i == 5 else "AUTO", float(i), Interval(i))
            for i in range(6)]  # fmt: skip
    keyed = ExchangeWriter(Outbound(ROWS, "S", 0, Grouping(("SECTOR",), (lambda r: r[1],))), 8, 2)
    out: list = []
    keyed.write(rows, Context("app", 0, 0), out)
    # runs: TECH x3, AUTO x2, TECH: three records, in the order of the rows
    assert [r.key for r in out] == [shuffle_key([k]) for k in ("TECH", "AUTO", "TECH")]
    assert [r.partition for r in out] == [partition_of(r.key, 8) for r in out]
    assert [r.timestamp_ms for r in out] == [1_000, 1_003, 1_005]
    decoded = [decode_record(r.value) for r in out]
    assert [(kind, channel, side) for kind, channel, (side, _) in decoded] == [
        ("R", 2, 0), ("R", 2, 0), ("r", 2, 0)
    ]  # fmt: skip
    got = [row for _, _, (_, batch) in decoded[:2] for row in batch] + [decoded[2][2][1]]
    assert got == rows and [type(v) for r in got for v in r] == [type(v) for r in rows for v in r]
    # column by column: JSON's own values as they are, TIMESTAMPs as milliseconds, the rest
    # in the state codec's forms
    assert json.loads(out[0].value)[3] == [
        ["$ts", [1_000, 1_001, 1_002]], ["", ["TECH"] * 3], ["", [0.0, 1.0, 2.0]],
        ["$", [["$i", 0], ["$i", 1], ["$i", 2]]],
    ]  # fmt: skip

    unkeyed = ExchangeWriter(Outbound(ROWS, "S", 0, Grouping((), ())), 8, 0)
    out = []
    unkeyed.write(rows, Context("app", 0, 0), out)
    (record,) = out
    assert record.key == shuffle_key([]) and record.partition == partition_of(record.key, 8)
    kind, _, (_, batch) = decode_record(record.value)
    assert kind == "R" and batch == rows

    monkeypatch.setattr(shuffle, "ROWS_RECORD_BYTES", 100)  # the six rows need ~190 bytes
    out = []
    unkeyed.write(rows, Context("app", 0, 0), out)
    assert len(out) > 1 and all(len(r.value) <= 100 for r in out)
    again = []
    for r in out:
        kind, _, payload = decode_record(r.value)
        again.extend(payload[1] if kind == "R" else [payload[1]])
    assert again == rows


@pytest.mark.parametrize(
    "values",
    [
        [1, 2**63 - 1, -(2**63)],
        [1, 2**63],  # beyond 64 bits
        [1, None, True, "x"],
        [0.5, -0.0, 1e300],
        [1e308, 1e308],  # finite, but their sum is not
        [0.5, math.nan],
        [math.inf, -math.inf],
        [Timestamp(5), None],
        [Decimal("1.10"), b"\x01"],
    ],
)
def test_a_column_of_a_rows_record_keeps_every_value_exactly(values: list) -> None:
    rows = [(Timestamp(1_000), v) for v in values]
    out: list = []
    ExchangeWriter(Outbound(ROWS, "S", 0, Grouping((), ())), 1, 0).write(
        rows, Context("a", 0, 0), out
    )
    (record,) = out
    _, _, (_, got) = decode_record(record.value)
    assert [repr(v) for r in got for v in r] == [repr(v) for r in rows for v in r]
    assert [type(v) for r in got for v in r] == [type(v) for r in rows for v in r]


def test_partials_are_keyed_by_the_group_without_the_window_or_by_the_event_time_window() -> None:
    grouping = Grouping(("SECTOR", None), (lambda r: r, lambda r: r), window=1)
    writer = ExchangeWriter(Outbound(PARTIALS, "__partials:P", 0, grouping, 10_000), 4, 0)
    start = Timestamp(20_000)
    out: list = []
    writer.write([(Timestamp(30_000), start, ("TECH", start), [3, [1, 2.5, 0.0, False, None]])],
                 Context("app", 0, 0), out)  # fmt: skip
    (record,) = out
    assert record.key == shuffle_key(["TECH"])
    kind, channel, payload = decode_record(record.value)
    assert (kind, channel) == ("p", 0)
    assert payload == (Timestamp(30_000), start, ("TECH", start), [3, [1, 2.5, 0.0, False, None]])
    # no group: each event-time window in a partition of its own; every ROWTIME window in
    # one partition (the stage may move a late partial to a later window: it must be there)
    for event_time, key in ((True, shuffle_key([start])), (False, shuffle_key([]))):
        global_writer = ExchangeWriter(
            Outbound(PARTIALS, "__partials:P", 0, Grouping((None,), (lambda r: r,), window=0),
                     10_000, event_time),
            4, 0,
        )  # fmt: skip
        out = []
        global_writer.write([(Timestamp(30_000), start, (start,), [3])], Context("app", 0, 0),
                            out)  # fmt: skip
        assert out[0].key == key


def test_rows_are_keyed_by_their_group_without_the_window() -> None:
    grouping = Grouping(("SECTOR", None), (lambda r: r[1], lambda r: r[0] - r[0] % 10), window=1)
    writer = ExchangeWriter(Outbound(ROWS, "S", 0, grouping), 8, 0)
    out: list = []
    rows = [(Timestamp(5), "TECH"), (Timestamp(25), "TECH")]
    writer.write(rows, Context("app", 0, 0), out)
    # two windows, one key: the rows cross together, in the group's partition
    (record,) = out
    assert record.key == shuffle_key(["TECH"])
    assert decode_record(record.value)[2] == (0, rows)


def test_join_keys_of_both_sides_hash_alike() -> None:
    assert shuffle_key([1.0, "a"]) == shuffle_key([1, "a"])
    assert shuffle_key([1.5]) != shuffle_key([1])


def test_markers_go_to_every_partition_when_they_moved() -> None:
    rows = ExchangeWriter(Outbound(ROWS, "S", 0, Grouping((), ())), 3, 2)
    out: list = []
    rows.mark(1_000, 1_000, False, out)
    rows.mark(1_000, 1_000, False, out)  # nothing moved
    assert sorted(o.partition for o in out) == [0, 1, 2]
    assert decode_record(out[0].value) == ("w", 2, (1_000, 1_000, False, None, False))
    rows.mark(1_000, 1_000, True, out)  # idle now
    assert len(out) == 6
    partials = ExchangeWriter(Outbound(PARTIALS, "__partials:P", 0, Grouping((), ()), 10_000), 2, 0)
    out = []
    for frontier in (NEVER, 5_000, 9_999, 10_000, 12_000, 20_500):
        partials.mark(frontier + 1, frontier, False, out)
    # one marker per window boundary the frontier passed (and the first)
    assert [decode_record(o.value)[2][1] for o in out[::2]] == [NEVER, 5_000, 10_000, 20_500]
    assert out[0].timestamp_ms is None  # no time yet: no ROWTIME header


def test_the_clock_waits_for_every_channel_and_takes_the_minimum() -> None:
    clock = ChannelClock(3)
    assert clock.update(0, 100, 10, False) is False  # channels 1 and 2 never heard of
    clock.update(1, 200, 20, False)
    assert (clock.stage_rowtime, clock.stage_frontier) == (NEVER, NEVER)
    assert clock.update(2, 150, 30, False)
    assert (clock.stage_rowtime, clock.stage_frontier, clock.stage_idle) == (100, 10, False)
    clock.update(0, 300, 40, False)
    assert (clock.stage_rowtime, clock.stage_frontier) == (150, 20)
    clock.update(0, 250, 35, False)  # an older marker (a replay) moves nothing back
    assert (clock.stage_rowtime, clock.stage_frontier) == (150, 20)


def test_idle_channels_do_not_hold_the_others_back_and_rejoin_once_caught_up() -> None:
    clock = ChannelClock(2)
    clock.update(0, 100, 100, False)
    clock.update(1, 500, 500, False)
    assert clock.stage_rowtime == 100
    clock.update(0, 100, 100, True)  # channel 0 idle
    assert (clock.stage_rowtime, clock.stage_idle) == (500, False)
    clock.update(1, 900, 900, False)
    assert clock.stage_rowtime == 900
    clock.update(0, 200, 200, False)  # back, but behind: left out until it catches up
    assert clock.stage_rowtime == 900
    clock.update(1, 1_500, 1_500, False)
    assert clock.stage_rowtime == 1_500
    clock.update(0, 1_200, 1_200, False)  # still behind
    clock.update(1, 1_700, 1_700, False)
    assert clock.stage_rowtime == 1_700
    clock.update(0, 1_800, 1_800, False)  # caught up: it holds the stage back again
    clock.update(1, 2_000, 2_000, False)
    assert clock.stage_rowtime == 1_800


def test_when_every_channel_is_idle_the_stage_is_idle_at_their_latest_time() -> None:
    clock = ChannelClock(2)
    clock.update(0, 100, 90, True)
    assert not clock.stage_idle  # channel 1 never heard of: it may still send anything
    assert clock.update(1, 300, 250, True)
    assert (clock.stage_rowtime, clock.stage_frontier, clock.stage_idle) == (300, 250, True)


def test_the_clock_survives_a_restore_and_refuses_another_channel_count() -> None:
    clock = ChannelClock(2)
    clock.update(0, 100, 90, False)
    clock.update(1, 300, 250, True)
    changes = clock.store.take(clock.snapshot)
    again = ChannelClock(2)
    for key, value in changes:
        assert value is not None
        again.restore(loads(key)[1], loads(value))
    assert again.stage_rowtime == clock.stage_rowtime
    assert again.stage_frontier == clock.stage_frontier and not again.stage_idle
    again.update(0, 400, 400, False)
    assert again.stage_rowtime == 400  # channel 1 is still idle: only channel 0 counts
    wider = ChannelClock(3)
    with pytest.raises(ValueError, match="reset the application"):
        wider.restore(loads(changes[0][0])[1], loads(changes[0][1] or b""))


def test_rows_leave_the_buffer_in_rowtime_order_once_the_stage_passed_them() -> None:
    buffer = MergeBuffer("J")
    for channel, rowtime, side in [(1, 500, 0), (0, 300, 0), (1, 300, 1), (0, 300, 1), (0, 700, 0)]:
        buffer.add(channel, side, (Timestamp(rowtime), f"{channel}@{rowtime}/{side}"), NEVER)
    assert buffer.release(300, False) == {}  # no row below 300
    released = buffer.release(600, False)
    # ROWTIME first, then channel, then arrival; each side keeps that order
    assert [r[1] for r in released[0]] == ["0@300/0", "1@500/0"]
    assert [r[1] for r in released[1]] == ["0@300/1", "1@300/1"]
    assert len(buffer) == 1
    assert buffer.release(600, True) == {0: [(Timestamp(700), "0@700/0")]}


def test_rows_of_one_record_join_the_buffer_as_single_rows_do() -> None:
    single, batched = MergeBuffer("J"), MergeBuffer("J")
    rows = [(Timestamp(t), f"{t}") for t in (300, 100, 300, 50, 700)]
    for row in rows:
        single.add(1, 0, row, 80)
    batched.add_many(1, 0, rows, 80)
    assert single.store.take(single.snapshot) == batched.store.take(batched.snapshot)
    assert single.release(500, False) == batched.release(500, False)
    assert single.release(0, True) == batched.release(0, True) == {0: [rows[4]]}


def test_a_row_below_the_stage_rowtime_takes_the_stage_rowtime() -> None:
    buffer = MergeBuffer("J")
    buffer.add(0, 0, (Timestamp(100), "x"), 200)  # its channel had been idle: not late
    buffer.add(1, 0, (Timestamp(250), "y"), 200)
    assert buffer.release(250, False) == {0: [(Timestamp(200), "x")]}
    assert buffer.release(300, False) == {0: [(Timestamp(250), "y")]}


def test_the_buffer_is_kept_in_chunks_and_restored_in_the_same_order() -> None:
    buffer = MergeBuffer("J")
    changelog: dict[bytes, bytes] = {}

    def take() -> None:
        for key, value in buffer.store.take(buffer.snapshot):
            if value is None:
                changelog.pop(key, None)
            else:
                changelog[key] = value
        buffer.end_epoch()

    buffer.add(0, 0, (Timestamp(300), "a"), NEVER)
    buffer.add(1, 0, (Timestamp(100), "b"), NEVER)
    take()
    buffer.add(1, 1, (Timestamp(300), "c"), NEVER)
    buffer.add(0, 0, (Timestamp(300), "d"), NEVER)
    take()
    buffer.release(200, False)  # b leaves: the first chunk is rewritten
    take()
    assert len(changelog) == 2
    again = MergeBuffer("J")
    for key, value in changelog.items():
        again.restore(loads(key)[1], json.loads(value))
    again.finish_restore()
    assert again.release(10**6, True) == buffer.release(10**6, True)
    buffer.add(0, 0, (Timestamp(400), "e"), NEVER)
    take()
    assert buffer.release(10**6, True) == {0: [(Timestamp(400), "e")]}
    take()
    assert changelog == {}  # every chunk left: deleted


def test_gated_rows_send_a_marker_when_their_frontier_moved() -> None:
    outbound = Outbound(GATED, "__gated:G", 0, Grouping((), ()), event_time=True)
    writer = ExchangeWriter(outbound, 2, 1)
    out: list = []
    writer.mark(1_000, 500, False, out)
    writer.mark(1_000, 500, False, out)  # nothing moved
    writer.mark(1_000, 700, False, out)  # the gate's watermark moved, ROWTIME did not
    assert [decode_record(o.value)[2][:2] for o in out[::2]] == [(1_000, 500), (1_000, 700)]


def test_a_deferred_frontier_takes_effect_when_it_leaves_the_buffer_behind_its_rows() -> None:
    clock, buffer = ChannelClock(2), MergeBuffer("G")
    # channel 0 is ahead in ROWTIME (its row waits), channel 1 ahead in event time
    buffer.add(0, 0, (Timestamp(2_000), "early event"), NEVER)
    buffer.add_frontier(0, 2_000, 9_000, NEVER)
    clock.update(0, 2_000, 9_000, False, frontier_later=True)
    buffer.add_frontier(1, 1_000, 20_000, NEVER)
    clock.update(1, 1_000, 20_000, False, frontier_later=True)
    assert (clock.stage_rowtime, clock.stage_frontier) == (1_000, NEVER)
    assert buffer.release(clock.stage_rowtime, False) == {}
    buffer.add_frontier(1, 2_500, 21_000, NEVER)
    clock.update(1, 2_500, 21_000, False, frontier_later=True)
    buffer.add_frontier(0, 3_000, 9_500, NEVER)
    clock.update(0, 3_000, 9_500, False, frontier_later=True)
    assert clock.stage_rowtime == 2_500
    released = buffer.release(clock.stage_rowtime, False)  # ROWTIME 2000 passed
    # channel 0's frontier leaves after its row; channel 1's first frontier before
    assert released == {0: [(Timestamp(2_000), "early event")],
                        FRONTIER_SIDE: [(Timestamp(1_000), 1, 20_000),
                                        (Timestamp(2_000), 0, 9_000)]}  # fmt: skip
    for _, channel, frontier in released[FRONTIER_SIDE]:
        clock.reached(channel, frontier)
    assert clock.stage_frontier == 9_000


def test_an_idle_channel_holds_the_frontier_until_its_waiting_frontier_left() -> None:
    clock, buffer = ChannelClock(2), MergeBuffer("G")
    clock.update(0, 1_000, 5_000, False)
    clock.update(1, 1_000, 8_000, False)
    assert clock.stage_frontier == 5_000
    buffer.add(0, 0, (Timestamp(3_000), "row"), clock.stage_rowtime)
    buffer.add_frontier(0, 3_000, 9_000, clock.stage_rowtime)
    clock.update(0, 3_000, 9_000, True, frontier_later=True)  # idle, its row still waiting
    clock.update(1, 2_000, 30_000, False)
    assert (clock.stage_rowtime, clock.stage_frontier) == (2_000, 5_000)
    assert buffer.waiting_frontiers(2) == [1, 0]
    # restored: the buffer tells the clock what waits
    again = ChannelClock(2)
    for key, value in clock.store.take(clock.snapshot):
        assert value is not None
        again.restore(loads(key)[1], loads(value))
    again.set_waiting(buffer.waiting_frontiers(2))
    clock.update(1, 4_000, 31_000, False)
    again.update(1, 4_000, 31_000, False)
    for c in (clock, again):
        assert (c.stage_rowtime, c.stage_frontier) == (4_000, 5_000)
    released = buffer.release(4_000, False)
    assert released[0] == [(Timestamp(3_000), "row")]
    ((_, channel, frontier),) = released[FRONTIER_SIDE]
    assert clock.reached(channel, frontier)
    assert clock.stage_frontier == 31_000  # channel 0 is idle, and holds nothing any more


# -- quiet channels -----------------------------------------------------------------------------
def test_a_quiet_channel_stops_holding_the_stage_and_comes_back_like_an_idle_one() -> None:
    clock = ChannelClock(3)
    clock.update(0, 100, 90, False)
    clock.update(1, 200, 150, False)
    clock.update(2, 150, NEVER, False)  # no row of channel 2 reaches the repartition
    assert (clock.stage_rowtime, clock.stage_frontier) == (100, NEVER)
    clock.update(2, 900, NEVER, False, quiet=True)
    assert (clock.stage_rowtime, clock.stage_frontier, clock.stage_idle) == (100, 90, False)
    clock.update(0, 1_000, 800, False)
    assert (clock.stage_rowtime, clock.stage_frontier) == (200, 150)
    # quiet is not idle: with the others idle, the stage's time moves on, but it is not idle
    clock.update(0, 1_000, 800, True)
    clock.update(1, 1_100, 900, True)
    assert (clock.stage_rowtime, clock.stage_frontier, clock.stage_idle) == (1_100, 900, False)
    clock.update(0, 1_200, 1_000, False)
    clock.update(1, 1_300, 1_100, False)
    # back with a row, behind the others: left out until it catches up
    clock.update(2, 1_250, 500, False)
    assert (clock.stage_rowtime, clock.stage_frontier) == (1_200, 1_000)
    clock.update(2, 1_400, 1_050, False)  # caught up: it holds the frontier again
    clock.update(0, 1_500, 1_200, False)
    assert clock.stage_frontier == 1_050


def test_quietness_is_in_the_marker_and_survives_a_restore() -> None:
    writer = ExchangeWriter(Outbound(PARTIALS, "__partials:P", 0, Grouping((), ()), 10_000,
                                     event_time=True), 2, 1)  # fmt: skip
    out: list = []
    writer.mark(1_000, NEVER, False, out)
    writer.mark(5_000, NEVER, False, out)  # partials: only a window boundary moves it
    assert len(out) == 2
    writer.mark(9_000, NEVER, False, out, quiet=True)
    assert len(out) == 4 and decode_record(out[-1].value)[2][4] is True
    writer.mark(12_000, NEVER, False, out, quiet=True)
    assert len(out) == 4
    # a marker of the release before has no quiet field: not quiet
    assert decode_record(json.dumps(["w", 1, 9_000, 0, False, None]).encode())[2][4] is False
    clock = ChannelClock(2)
    clock.update(0, 100, 50, False)
    clock.update(1, 9_000, NEVER, False, quiet=True)
    again = ChannelClock(2)
    for key, value in clock.store.take(clock.snapshot):
        again.restore(loads(key)[1], loads(value or b""))
    again.update(0, 200, 150, False)
    assert (again.stage_rowtime, again.stage_frontier) == (200, 150)
    # the state of the release before has no quiet channels: it still restores
    before = ChannelClock(2)
    before.restore(("c",), clock.snapshot(("c",))[:7])
    before.update(1, 9_500, 200, False)
    assert (before.stage_rowtime, before.stage_frontier) == (100, 50)
