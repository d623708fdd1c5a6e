"""The loop against fake clients: the hot path (one process call per partition per batch),
idle calls and end-of-partition events, a failure mid-batch, and how long consume() waits."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from ground.errors import ProcessorError
from tests.demo_counter import IDLE_KEY
from tests.unit.pipelines.runtime.fakes import StubMsg as _Msg
from tests.unit.pipelines.runtime.fakes import eof, msg
from tests.unit.pipelines.runtime.harness import (
    CHANGELOG,
    OUT,
    SRC,
    assign,
    committed_outputs,
    expected,
    inputs,
    make,
    stub_runtime,
)


def test_one_process_call_per_partition_per_batch_and_atomic_commit() -> None:
    rt, producer, consumer, clock, calls = make()
    assign(rt, consumer, 0, 1)
    assert consumer.assigned == [(SRC, 0, 0), (SRC, 1, 0)]  # TRIM_HORIZON: low watermark
    batch = inputs(10)
    rt._handle(batch, clock())
    assert [c for c in calls if c[0] == "process"] == [
        ("process", 0, [0, 1, 2, 3, 4]),
        ("process", 1, [0, 1, 2, 3, 4]),
    ]
    assert producer.committed == []  # nothing visible before the commit
    assert rt.ownership.commit()
    ((records, offsets),) = producer.committed
    assert offsets == [(SRC, 0, 5), (SRC, 1, 5)]
    rows = committed_outputs(producer)
    assert {(p, o): r for p, o, r in rows} == expected(batch)
    changelog = [(k, v, p) for t, k, v, p, _ in records if t == CHANGELOG]
    assert sorted(changelog) == sorted(
        [
            (b"k%d" % k, b"%d,%d" % (c, s), p)
            for (p, k), (c, s) in {
                (p, int(key[1:])): (c, s) for (p, _), (key, c, s) in expected(batch).items()
            }.items()
        ]
    )
    assert rt.stats.records == 10 and rt.stats.commits == 1


def test_changes_of_many_batches_are_taken_once_at_commit_or_every_batch_max_records() -> None:
    rt, producer, consumer, clock, calls = make(batch_max_records=12)
    assign(rt, consumer, 0)
    data = inputs(30, partitions=1)  # keys k0, k1, k2 on partition 0
    for i in range(0, 9, 3):  # three batches of 3 records: 9 < 12, nothing taken yet
        rt._handle(data[i : i + 3], clock())
    assert [r for r in producer.open or [] if r[0] == CHANGELOG] == []
    assert rt.ownership.commit()
    ((records, offsets),) = producer.committed
    changelog = [(k, v) for t, k, v, _, _ in records if t == CHANGELOG]
    # each key once, with its state after the last batch (written before the offsets)
    assert sorted(changelog) == [(b"k0", b"3,9"), (b"k1", b"3,12"), (b"k2", b"3,15")]
    assert offsets == [(SRC, 0, 9)]
    # 12 records of one partition without a commit: taken then (bounds one entry's size)
    for i in range(9, 21, 3):
        rt._handle(data[i : i + 3], clock())
    assert len([r for r in producer.open or [] if r[0] == CHANGELOG]) == 3
    assert rt.ownership.commit()
    (records, offsets) = producer.committed[1]
    changelog = [(k, v) for t, k, v, _, _ in records if t == CHANGELOG]
    assert sorted(changelog) == [(b"k0", b"7,63"), (b"k1", b"7,70"), (b"k2", b"7,77")]
    assert offsets == [(SRC, 0, 21)]


def test_processor_exception_names_where_and_commits_nothing() -> None:
    rt, producer, consumer, clock, _ = make()
    assign(rt, consumer, 0)
    with pytest.raises(ProcessorError) as info:
        rt._handle([msg(SRC, 0, 0, b"k", b"1"), msg(SRC, 0, 1, b"k", b"boom")], clock())
    assert (info.value.topic, info.value.partition, info.value.offset) == (SRC, 0, 0)
    rt._fail("test")
    assert producer.committed == [] and len(producer.aborted) == 1


def test_idle_after_end_of_partition_goes_into_the_transaction() -> None:
    rt, producer, consumer, clock, _ = make(idle_timeout_ms=5_000, idle_check_interval_ms=1_000)
    assign(rt, consumer, 0, 1)
    rt._handle([msg(SRC, 0, 0, b"k", b"1"), eof(SRC, 0, 1), msg(SRC, 1, 0, b"k", b"1")], clock())
    clock.now += 4_999
    rt._check_idle(clock())
    assert rt.stats.idle_calls == 0
    clock.now += 1
    rt._check_idle(clock())
    assert rt.stats.idle_calls == 1  # partition 0 only: partition 1 never reached its end
    assert rt.ownership.commit()
    idle = [r for r in producer.committed_records(OUT) if r[1] == IDLE_KEY]
    assert idle == [(OUT, IDLE_KEY, b"0,idle,5000", 0, 0)]


def test_eof_in_the_same_poll_as_the_last_records_counts() -> None:
    rt = stub_runtime()
    # partition 0: records 0..2 then EOF at 3, all in one poll; partition 1 interleaved
    msgs = [_Msg(0, 0), _Msg(1, 0), _Msg(0, 1), _Msg(0, 2), _Msg(0, 3, eof=True), _Msg(1, 1)]
    rt._handle(msgs, now_ms=10)
    assert rt.ownership.owned[("in", 0)].position == 3
    assert rt._idle.caught_up(("in", 0))
    assert not rt._idle.caught_up(("in", 1))
    assert [tp for tp, _ in rt._idle.due(1_010)] == [("in", 0)]


def test_eof_behind_the_position_is_ignored() -> None:
    rt = stub_runtime()
    rt._handle([_Msg(0, 0), _Msg(0, 1)], now_ms=10)
    rt._handle([_Msg(0, 1, eof=True)], now_ms=20)  # a stale EOF from before a record
    assert not rt._idle.caught_up(("in", 0))


def test_a_produce_failure_mid_batch_rewinds_every_partition_and_the_run_goes_on() -> None:
    rt, producer, consumer, clock, calls = make()
    rt._prepare_topics = lambda: None  # type: ignore[method-assign]
    rt._open_clients = lambda: None  # type: ignore[method-assign]
    assign(rt, consumer, 0, 1)
    data = inputs(10)
    # Partition 0's outputs fail to enqueue; partition 1's records were consumed but not
    # processed yet. The broker then re-delivers from the committed offsets.
    producer.fail_next_produce = KafkaException(KafkaError(KafkaError._STATE, "txn error"))
    consumer.script = [data, data]
    consumer.on_empty = rt.stop.set
    stats = rt.run()
    assert stats.aborts == 1 and stats.commits == 1
    assert sorted(consumer.seeks) == [(SRC, 0, 0), (SRC, 1, 0)]
    rows = committed_outputs(producer)
    assert len(rows) == len({(p, o) for p, o, _ in rows}) == 10
    assert {(p, o): r for p, o, r in rows} == expected(data)
    assert producer.committed[-1][1] == [(SRC, 0, 5), (SRC, 1, 5)]


def test_consume_waits_no_longer_than_until_the_commit_is_due() -> None:
    """An open transaction is committed on time: consume() is not left waiting past
    commit_interval_ms (the results would come out up to a whole poll wait late)."""
    rt, producer, consumer, clock, _ = make(commit_interval_ms=200)
    timeouts: list[float] = []
    real = consumer.consume

    def consume(num_messages: int = 1, timeout: float = -1) -> list:
        timeouts.append(timeout)
        return real(num_messages, timeout)

    consumer.consume = consume  # type: ignore[method-assign]
    assign(rt, consumer, 0)
    consumer.script = [inputs(3, partitions=1), [], [], []]
    start = clock.now
    rt._iteration(consumer, 0.1, start + 10_000)  # no transaction yet: the whole wait
    assert rt.transactions.open and rt.transactions.started_ms == start
    clock.now = start + 150
    rt._iteration(consumer, 0.1, start + 10_000)  # due in 50 ms
    assert producer.committed == []
    clock.now = start + 260
    rt._iteration(consumer, 0.1, start + 10_000)  # overdue: no wait, then the commit
    assert len(producer.committed) == 1 and not rt.transactions.open
    rt._iteration(consumer, 0.1, start + 10_000)  # nothing open: the whole wait again
    assert timeouts == [0.1, pytest.approx(0.05), 0.0, 0.1]


def test_on_poll_is_called_after_each_poll_before_its_records_are_processed() -> None:
    rt, _producer, consumer, _clock, calls = make()
    rt.on_poll = lambda: calls.append(("poll",))
    assign(rt, consumer, 0, 1)
    consumer.script = [inputs(4), [], [msg(SRC, 1, 2, b"k0", b"9")]]
    for _ in range(3):
        rt._iteration(consumer, 0.1, 10**12)
    assert [c[:2] for c in calls if c[0] != "new"] == [
        ("poll",), ("process", 0), ("process", 1), ("poll",), ("poll",), ("process", 1),
    ]
