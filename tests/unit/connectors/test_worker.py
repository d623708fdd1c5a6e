"""The Kafka loop against a fake consumer (the ConsumerLike seam) and the in-memory destination."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

import connectors
from connectors.core import BufferingHints, DeliveryCore, DeliveryWorker, Retry, RetryOptions
from ground.errors import DeliveryError, PermanentDeliveryError
from tests.unit.connectors.helpers import ManualClock, MemoryDestination, no_sleep


@dataclass
class Msg:
    _topic: str
    _partition: int
    _offset: int
    _value: bytes

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)


@dataclass
class FakeConsumer:
    """Hands out scripted polls; each poll advances the manual clock by 100 ms."""

    clock: ManualClock
    polls: list[list[Msg]]
    revoke_after_poll: int | None = None
    commits: list[dict[tuple[str, int], int]] = field(default_factory=list)
    fail_commits: list[KafkaError] = field(default_factory=list)  # raised by the next commits
    failed: list[dict[tuple[str, int], int]] = field(default_factory=list)
    callbacks: dict[str, Any] = field(default_factory=dict)
    closed: bool = False
    n: int = 0

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        self.callbacks = callbacks
        callbacks["on_assign"](self, [TopicPartition("t", 0), TopicPartition("t", 1)])

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Msg]:
        self.clock.now += 100
        self.n += 1
        if self.revoke_after_poll is not None and self.n == self.revoke_after_poll:
            self.callbacks["on_revoke"](self, [TopicPartition("t", 1)])
        return self.polls.pop(0) if self.polls else []

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert asynchronous is False
        offs = {(tp.topic, tp.partition): tp.offset for tp in offsets}
        if self.fail_commits:
            self.failed.append(offs)
            raise KafkaException(self.fail_commits.pop(0))
        self.commits.append(offs)

    def close(self) -> None:
        self.closed = True


def msgs(partition: int, offsets: range) -> list[Msg]:
    return [Msg("t", partition, o, b'{"o":%d}' % o) for o in offsets]


def worker(dest: MemoryDestination, consumer: FakeConsumer, clock: ManualClock,
           hints: BufferingHints | None = None) -> DeliveryWorker:
    core = DeliveryCore("d", dest, hints=hints or BufferingHints(10**6, 3, 1_000),
                        retry=RetryOptions(duration_ms=1_000, max_attempts=2),
                        clock=clock, sleep=no_sleep)
    return DeliveryWorker(core, consumer, "t", poll_timeout_ms=100)


def test_until_idle_delivers_everything_and_commits_end_offsets() -> None:
    clock = ManualClock()
    consumer = FakeConsumer(clock, [msgs(0, range(5)) + msgs(1, range(2)), msgs(0, range(5, 7))])
    dest = MemoryDestination()
    summary = worker(dest, consumer, clock).run(until_idle_ms=500)
    assert sorted((b.partition, r.offset) for b in dest.sent for r in b.records) == sorted(
        [(0, o) for o in range(7)] + [(1, o) for o in range(2)])
    assert summary.committed == {("t", 0): 7, ("t", 1): 2}
    assert consumer.commits[0] == {("t", 0): 3}  # the first full batch, before the rest
    assert consumer.closed


def test_interval_flush_uses_the_injected_clock() -> None:
    clock = ManualClock()
    consumer = FakeConsumer(clock, [msgs(0, range(1))] + [[]] * 20)
    dest = MemoryDestination()
    w = worker(dest, consumer, clock, BufferingHints(10**6, None, 300))
    w.run(until_idle_ms=1_000)
    assert consumer.commits[0] == {("t", 0): 1}
    # flushed by the interval (3 polls of 100 ms), well before the idle exit at 1 s
    assert len(consumer.commits) == 1 and dest.offsets == [0]


def test_revoked_partitions_are_flushed_and_committed_before_they_move() -> None:
    clock = ManualClock()
    consumer = FakeConsumer(clock, [msgs(1, range(2))], revoke_after_poll=2)
    dest = MemoryDestination()
    worker(dest, consumer, clock).run(until_idle_ms=500)
    assert consumer.commits[0] == {("t", 1): 2}
    assert dest.offsets == [0, 1]


def test_permanent_failure_stops_the_worker_without_committing() -> None:
    clock = ManualClock()
    consumer = FakeConsumer(clock, [msgs(0, range(3))])
    dest = MemoryDestination(script=[lambda b: Retry("503")] * 5)
    with pytest.raises(PermanentDeliveryError, match="RetriesExhausted: 503"):
        worker(dest, consumer, clock).run(until_idle_ms=500)
    assert consumer.commits == [] and consumer.closed


def test_a_commit_failing_while_the_coordinator_is_away_is_retried() -> None:
    """A broker restart: the commit fails, the worker goes on and commits the same offsets
    (and the later ones) once the coordinator answers; --until-idle waits for that."""
    clock = ManualClock()
    consumer = FakeConsumer(clock, [msgs(0, range(3)), [], msgs(0, range(3, 5))])
    consumer.fail_commits = [KafkaError(KafkaError._WAIT_COORD),
                             KafkaError(KafkaError.COORDINATOR_NOT_AVAILABLE)]
    dest = MemoryDestination()
    summary = worker(dest, consumer, clock).run(until_idle_ms=500)
    assert consumer.failed[0] == {("t", 0): 3}
    assert consumer.commits[-1] == {("t", 0): 5} and summary.committed == {("t", 0): 5}
    assert dest.offsets == list(range(5))  # each record sent once


def test_a_fatal_commit_error_stops_the_worker() -> None:
    clock = ManualClock()
    consumer = FakeConsumer(clock, [msgs(0, range(3))])
    consumer.fail_commits = [KafkaError(KafkaError._FENCED, fatal=True)]
    with pytest.raises(DeliveryError, match="could not commit"):
        worker(MemoryDestination(), consumer, clock).run(until_idle_ms=500)
    assert consumer.commits == []


def test_public_api_is_pinned() -> None:
    assert connectors.__all__ == sorted(connectors.__all__)
    assert set(connectors.__all__) >= {
        "DeliveryConfig", "build_worker", "load_deliveries", "S3Destination",
        "ElasticsearchDestination", "DeliveryCore", "Retry", "RetryPartial", "DontRetry",
        "Successful",
    }
    for name in connectors.__all__:
        assert hasattr(connectors, name), name


def test_the_interval_counts_from_the_previous_consume_return() -> None:
    """A record a consume() call returns came in after the previous call returned: neither
    this call's wait for a full batch nor a slow flush in between delays its buffer's cut."""
    clock = ManualClock()
    start = clock.now
    commit_times: list[int] = []

    class Timed(FakeConsumer):
        def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> None:
            commit_times.append(clock.now)
            super().commit(offsets=offsets, asynchronous=asynchronous)

    class Slow(MemoryDestination):
        async def send(self, request: Any) -> Any:
            clock.now += 500  # a slow _bulk
            return await super().send(request)

    # each poll takes 100 ms; offset 0 in the first poll, offset 1 in the poll after its flush
    consumer = Timed(clock, [msgs(0, range(1)), [], [], msgs(0, range(1, 2))] + [[]] * 20)
    dest = Slow()
    worker(dest, consumer, clock, BufferingHints(10**6, None, 300)).run(until_idle_ms=2_000)
    assert dest.offsets == [0, 1]
    # offset 0: due 300 ms after the first call started (no call before it), so flushed after
    # the poll ending at +300, not +400; the slow send ends at +800. Offset 1 comes back from
    # the poll +800..+900; the call before it returned at +300 (the flush came in between), so
    # it is due at +600 and cut right after that poll, at +900, not at +1,100 (300 ms after
    # its own call started); its send ends at +1,400.
    assert commit_times == [start + 800, start + 1_400]
