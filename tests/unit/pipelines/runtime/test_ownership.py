"""Partition ownership against fake clients: rebalance callbacks, start offsets, restore
from the changelog, and the rewind after an abort."""

from __future__ import annotations

from confluent_kafka import KafkaError, TopicPartition

from tests.unit.pipelines.runtime.fakes import (
    FailingProducer,
    LogConsumer,
    LogProducer,
    LogReader,
    SeekingConsumer,
    msg,
)
from tests.unit.pipelines.runtime.fakes import (
    StubMsg as _Msg,
)
from tests.unit.pipelines.runtime.harness import (
    SRC,
    assign,
    committed_outputs,
    expected,
    inputs,
    make,
    stub_runtime,
)


def test_abort_rewinds_rebuilds_from_the_changelog_and_replays_exactly_once() -> None:
    rt, producer, consumer, clock, calls = make()
    assign(rt, consumer, 0, 1)
    data = inputs(40)
    first, second = data[:20], data[20:]
    rt._handle(first, clock())
    assert rt.ownership.commit()
    rt._handle(second, clock())
    producer.fail_next_commit = KafkaError(KafkaError._STATE, "boom", txn_requires_abort=True)
    assert not rt.ownership.commit()
    assert len(producer.aborted) == 1 and rt.stats.aborts == 1
    assert sorted(consumer.seeks) == [(SRC, 0, 10), (SRC, 1, 10)]
    assert calls.count(("new", 0)) == 2  # rebuilt from the committed changelog
    # The broker re-delivers from the committed offsets; a stale record before them is dropped.
    rt._handle([msg(SRC, 0, 9, b"k0", b"999")] + second, clock())
    assert rt.stats.duplicates_dropped == 1
    assert rt.ownership.commit()
    rows = committed_outputs(producer)
    positions = [(p, o) for p, o, _ in rows]
    assert len(positions) == len(set(positions)) == 40
    assert {(p, o): r for p, o, r in rows} == expected(data)


def test_revoke_commits_then_drops_and_lost_aborts() -> None:
    rt, producer, consumer, clock, _ = make()
    assign(rt, consumer, 0, 1)
    rt._handle(inputs(4), clock())
    rt.ownership.on_revoke(consumer, [TopicPartition(SRC, 1)])
    assert producer.committed[-1][1] == [(SRC, 0, 2), (SRC, 1, 2)]
    assert list(rt.ownership.owned) == [(SRC, 0)]
    rt._handle([msg(SRC, 0, 2, b"k", b"1"), msg(SRC, 1, 2, b"k", b"1")], clock())
    assert rt.stats.not_owned_dropped == 1
    rt.ownership.on_lost(consumer, [TopicPartition(SRC, 0)])
    assert len(producer.aborted) == 1 and rt.ownership.owned == {}


def test_now_starts_at_the_end_and_commits_that_start() -> None:
    rt, producer, consumer, clock, _ = make(starting_position="NOW")
    consumer.end_offset = 500
    assign(rt, consumer, 0)
    assert consumer.assigned == [(SRC, 0, 500)]
    assert rt.ownership.owned[(SRC, 0)].commit_due
    rt.transactions.begin(clock())
    assert rt.ownership.commit()
    assert producer.committed[-1][1] == [(SRC, 0, 500)]
    assert not rt.ownership.owned[(SRC, 0)].commit_due
    # a restart resumes from the committed offset, not from the (later) end
    rt2, _, consumer2, _, _ = make(starting_position="NOW")
    rt2.transactions.producer, consumer2.producer = producer, producer
    consumer2.end_offset = 900
    assign(rt2, consumer2, 0)
    assert consumer2.assigned == [(SRC, 0, 500)]


def test_a_repartition_topic_starts_at_its_beginning_whatever_the_starting_position() -> None:
    from confluent_kafka import TopicPartition

    rt, _, consumer, _, _ = make(
        starting_position="NOW", repartition_topics=(("app-P-repartition", 2),)
    )
    consumer.end_offset = 500
    rt.ownership.on_assign(
        consumer, [TopicPartition("app-P-repartition", 1), TopicPartition(SRC, 0)]
    )
    assert rt.ownership.callback_error is None, rt.ownership.callback_error
    assert sorted(consumer.assigned) == [("app-P-repartition", 1, 0), (SRC, 0, 500)]


def test_new_partitions_commit_the_open_transaction_before_restoring() -> None:
    from confluent_kafka import TopicPartition

    rt = stub_runtime()
    calls: list[str] = []
    rt.transactions.producer = LogProducer(calls)
    rt.ownership.consumer, rt.ownership.reader = LogConsumer(calls), LogReader(calls)
    rt._handle([_Msg(0, 0)], now_ms=10)  # opens a transaction
    assert rt.transactions.open
    rt.ownership.on_assign(rt.ownership.consumer, [TopicPartition("in", 2)])
    assert rt.ownership.callback_error is None, rt.ownership.callback_error
    assert calls == ["commit", "committed", "restore", "assign"]
    assert not rt.transactions.open and rt.ownership.owned[("in", 2)].position == 5


def test_a_rewind_inside_consume_drops_records_fetched_before_it() -> None:
    from confluent_kafka import TopicPartition

    rt = stub_runtime()
    calls: list[str] = []
    consumer = SeekingConsumer(calls)
    rt.transactions.producer = FailingProducer(calls)
    rt.ownership.consumer, rt.ownership.reader = consumer, LogReader(calls)
    rt._handle([_Msg(0, 0), _Msg(0, 1), _Msg(0, 2)], now_ms=10)
    # a rebalance callback (inside consume) cannot commit: abort, rewind partition 0 to 0
    rt.ownership.consuming = True
    rt.ownership.on_assign(consumer, [TopicPartition("in", 2)])
    rt.ownership.consuming = False
    assert rt.ownership.callback_error is None, rt.ownership.callback_error
    assert "abort" in calls and "seek 0@0" in calls and rt.ownership.owned[("in", 0)].position == 0
    # that consume() still returns records fetched before the seek: dropped, sought again
    calls.clear()
    kept = rt.ownership.drop_stale([_Msg(0, 3), _Msg(0, 4), _Msg(2, 5)])
    assert [(m.partition(), m.offset()) for m in kept] == [(2, 5)]
    assert calls == ["seek 0@0"]
    rt._handle(kept, now_ms=20)
    assert rt.ownership.owned[("in", 0)].position == 0  # not 5: records 0..2 come again
    rt._handle([_Msg(0, 0), _Msg(0, 1), _Msg(0, 2), _Msg(0, 3), _Msg(0, 4)], now_ms=30)
    assert rt.ownership.owned[("in", 0)].position == 5
    assert rt.ownership.drop_stale([_Msg(0, 5)]) != []  # only once
