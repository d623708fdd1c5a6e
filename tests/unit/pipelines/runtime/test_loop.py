"""The loop's bookkeeping against fake clients: what gets committed, aborted, replayed."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from ground.errors import ProcessorError, TransactionError
from ground.settings import Settings
from pipelines.runtime import OutRecord, RuntimeConfig, SourceRecord, StreamRuntime
from tests.demo_counter import IDLE_KEY, CounterProcessor
from tests.unit.pipelines.runtime.fakes import FakeConsumer, FakeProducer, FakeReader, eof, msg

SRC, OUT, CHANGELOG = "in", "out", "app-in-changelog"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


class Spy(CounterProcessor):
    def __init__(self, partition: int, log: list) -> None:
        super().__init__(partition, OUT)
        self.log = log
        log.append(("new", partition))

    def process(self, batch: Sequence[SourceRecord]) -> list[OutRecord]:
        self.log.append(("process", batch[0].partition, [r.offset for r in batch]))
        return super().process(batch)


def make(calls: list | None = None, **overrides):
    calls = [] if calls is None else calls
    config = RuntimeConfig("app", (SRC,), output_topics=(OUT,), **overrides)
    clock = Clock()
    rt = StreamRuntime(
        config, Settings.from_env({}), lambda _t, p: Spy(p, calls),
        stop=threading.Event(), clock=clock,
    )  # fmt: skip
    producer = FakeProducer()
    consumer = FakeConsumer(producer)
    rt._producer, rt._consumer, rt._reader = producer, consumer, FakeReader(producer)
    return rt, producer, consumer, clock, calls


def assign(rt: StreamRuntime, consumer: FakeConsumer, *parts: int) -> None:
    rt._on_assign(consumer, [TopicPartition(SRC, p) for p in parts])
    assert rt._callback_error is None, rt._callback_error


def inputs(n: int, partitions: int = 2) -> list:
    """Records i = 0..n-1: partition i % partitions, key k<i % 3>, value i."""
    offsets = [0] * partitions
    out = []
    for i in range(n):
        p = i % partitions
        out.append(msg(SRC, p, offsets[p], b"k%d" % (i % 3), b"%d" % i))
        offsets[p] += 1
    return out


def expected(messages: list) -> dict[tuple[int, int], tuple[bytes, int, int]]:
    state: dict[tuple[int, bytes], tuple[int, int]] = {}
    out = {}
    for m in messages:
        key = (m.partition(), m.key())
        c, s = state.get(key, (0, 0))
        state[key] = (c + 1, s + int(m.value()))
        out[(m.partition(), m.offset())] = (m.key(), c + 1, s + int(m.value()))
    return out


def committed_outputs(producer: FakeProducer) -> list[tuple[int, int, tuple[bytes, int, int]]]:
    rows = []
    for _topic, key, value, partition, _ in producer.committed_records(OUT):
        if key == IDLE_KEY:
            continue
        p, o, c, s = (int(x) for x in value.split(b","))
        assert partition == p
        rows.append((p, o, (key, c, s)))
    return rows


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
    assert rt._commit()
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
    assert rt._commit()
    ((records, offsets),) = producer.committed
    changelog = [(k, v) for t, k, v, _, _ in records if t == CHANGELOG]
    # each key once, with its state after the last batch (written before the offsets)
    assert sorted(changelog) == [(b"k0", b"3,9"), (b"k1", b"3,12"), (b"k2", b"3,15")]
    assert offsets == [(SRC, 0, 9)]
    # 12 records of one partition without a commit: taken then (bounds one entry's size)
    for i in range(9, 21, 3):
        rt._handle(data[i : i + 3], clock())
    assert len([r for r in producer.open or [] if r[0] == CHANGELOG]) == 3
    assert rt._commit()
    (records, offsets) = producer.committed[1]
    changelog = [(k, v) for t, k, v, _, _ in records if t == CHANGELOG]
    assert sorted(changelog) == [(b"k0", b"7,63"), (b"k1", b"7,70"), (b"k2", b"7,77")]
    assert offsets == [(SRC, 0, 21)]


def test_abort_rewinds_rebuilds_from_the_changelog_and_replays_exactly_once() -> None:
    rt, producer, consumer, clock, calls = make()
    assign(rt, consumer, 0, 1)
    data = inputs(40)
    first, second = data[:20], data[20:]
    rt._handle(first, clock())
    assert rt._commit()
    rt._handle(second, clock())
    producer.fail_next_commit = KafkaError(KafkaError._STATE, "boom", txn_requires_abort=True)
    assert not rt._commit()
    assert len(producer.aborted) == 1 and rt.stats.aborts == 1
    assert sorted(consumer.seeks) == [(SRC, 0, 10), (SRC, 1, 10)]
    assert calls.count(("new", 0)) == 2  # rebuilt from the committed changelog
    # The broker re-delivers from the committed offsets; a stale record before them is dropped.
    rt._handle([msg(SRC, 0, 9, b"k0", b"999")] + second, clock())
    assert rt.stats.duplicates_dropped == 1
    assert rt._commit()
    rows = committed_outputs(producer)
    positions = [(p, o) for p, o, _ in rows]
    assert len(positions) == len(set(positions)) == 40
    assert {(p, o): r for p, o, r in rows} == expected(data)


def test_retriable_commit_is_retried_and_fatal_raises() -> None:
    rt, producer, consumer, clock, _ = make()
    assign(rt, consumer, 0)
    rt._handle(inputs(2, partitions=1), clock())
    producer.fail_next_commit = KafkaError(KafkaError._TIMED_OUT, "slow", retriable=True)
    assert rt._commit()
    assert len(producer.committed) == 1 and not producer.aborted
    rt._handle([msg(SRC, 0, 2, b"k", b"1")], clock())
    producer.fail_next_commit = KafkaError(KafkaError._FENCED, "fenced", fatal=True)
    with pytest.raises(TransactionError):
        rt._commit()


def test_processor_exception_names_where_and_commits_nothing() -> None:
    rt, producer, consumer, clock, _ = make()
    assign(rt, consumer, 0)
    with pytest.raises(ProcessorError) as info:
        rt._handle([msg(SRC, 0, 0, b"k", b"1"), msg(SRC, 0, 1, b"k", b"boom")], clock())
    assert (info.value.topic, info.value.partition, info.value.offset) == (SRC, 0, 0)
    rt._fail("test")
    assert producer.committed == [] and len(producer.aborted) == 1


def test_revoke_commits_then_drops_and_lost_aborts() -> None:
    rt, producer, consumer, clock, _ = make()
    assign(rt, consumer, 0, 1)
    rt._handle(inputs(4), clock())
    rt._on_revoke(consumer, [TopicPartition(SRC, 1)])
    assert producer.committed[-1][1] == [(SRC, 0, 2), (SRC, 1, 2)]
    assert list(rt._owned) == [(SRC, 0)]
    rt._handle([msg(SRC, 0, 2, b"k", b"1"), msg(SRC, 1, 2, b"k", b"1")], clock())
    assert rt.stats.not_owned_dropped == 1
    rt._on_lost(consumer, [TopicPartition(SRC, 0)])
    assert len(producer.aborted) == 1 and rt._owned == {}


def test_now_starts_at_the_end_and_commits_that_start() -> None:
    rt, producer, consumer, clock, _ = make(starting_position="NOW")
    consumer.end_offset = 500
    assign(rt, consumer, 0)
    assert consumer.assigned == [(SRC, 0, 500)]
    assert rt._owned[(SRC, 0)].commit_due
    rt._begin(clock())
    assert rt._commit()
    assert producer.committed[-1][1] == [(SRC, 0, 500)]
    assert not rt._owned[(SRC, 0)].commit_due
    # a restart resumes from the committed offset, not from the (later) end
    rt2, _, consumer2, _, _ = make(starting_position="NOW")
    rt2._producer, consumer2.producer = producer, producer
    consumer2.end_offset = 900
    assign(rt2, consumer2, 0)
    assert consumer2.assigned == [(SRC, 0, 500)]


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
    assert rt._commit()
    idle = [r for r in producer.committed_records(OUT) if r[1] == IDLE_KEY]
    assert idle == [(OUT, IDLE_KEY, b"0,idle,5000", 0, 0)]


def test_a_full_producer_queue_is_waited_out() -> None:
    rt, producer, consumer, clock, _ = make()
    assign(rt, consumer, 0)
    producer.fail_next_produce = BufferError
    rt._handle([msg(SRC, 0, 0, b"k", b"1")], clock())
    assert producer.polls >= 1
    assert rt._commit()
    assert len(committed_outputs(producer)) == 1


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
    assert rt._txn.open and rt._txn.started_ms == start
    clock.now = start + 150
    rt._iteration(consumer, 0.1, start + 10_000)  # due in 50 ms
    assert producer.committed == []
    clock.now = start + 260
    rt._iteration(consumer, 0.1, start + 10_000)  # overdue: no wait, then the commit
    assert len(producer.committed) == 1 and not rt._txn.open
    rt._iteration(consumer, 0.1, start + 10_000)  # nothing open: the whole wait again
    assert timeouts == [0.1, pytest.approx(0.05), 0.0, 0.1]
