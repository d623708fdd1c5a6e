"""Runtimes wired to fake clients, shared by the tests of the loop, its transactions and
its partition ownership.

:func:`make` runs the demo counter on :class:`~tests.unit.pipelines.runtime.fakes.FakeProducer`
and friends, which keep committed and aborted transactions apart; :func:`stub_runtime`
owns partitions 0 and 1 of ``in`` with do-nothing processors, for tests that swap in the
call-logging stand-ins."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from confluent_kafka import TopicPartition

from ground.settings import Settings
from pipelines.runtime import OutRecord, RuntimeConfig, SourceRecord, StreamRuntime
from pipelines.runtime.ownership import OwnedPartition
from tests.demo_counter import IDLE_KEY, CounterProcessor
from tests.unit.fakes import ManualClock
from tests.unit.pipelines.runtime.fakes import (
    FakeConsumer,
    FakeProducer,
    FakeReader,
    StubProcessor,
    StubProducer,
    msg,
)

SRC, OUT, CHANGELOG = "in", "out", "app-in-changelog"


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
    clock = ManualClock(1_000_000)
    rt = StreamRuntime(
        config, Settings.from_env({}), lambda _t, p: Spy(p, calls),
        stop=threading.Event(), clock=clock,
    )  # fmt: skip
    producer = FakeProducer()
    consumer = FakeConsumer(producer)
    rt.transactions.producer = producer
    rt.ownership.consumer, rt.ownership.reader = consumer, FakeReader(producer)
    return rt, producer, consumer, clock, calls


def assign(rt: StreamRuntime, consumer: FakeConsumer, *parts: int) -> None:
    rt.ownership.on_assign(consumer, [TopicPartition(SRC, p) for p in parts])
    assert rt.ownership.callback_error is None, rt.ownership.callback_error


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


def stub_runtime() -> StreamRuntime:
    """Partitions 0 and 1 of ``in`` owned at offset 0, do-nothing processors and producer."""
    config = RuntimeConfig("app", ("in",), idle_timeout_ms=1_000, idle_check_interval_ms=100)
    rt = StreamRuntime(
        config, Settings.from_env({}), lambda t, p: StubProcessor(), stop=threading.Event()
    )
    rt.transactions.producer = StubProducer()
    for p in (0, 1):
        rt.ownership.owned[("in", p)] = OwnedPartition("in", p, "cl", StubProcessor(), 0, 0, True)
        rt._idle.add(("in", p), 0)
    return rt
