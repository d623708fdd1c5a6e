"""A commit whose outcome is unknown: ``commit_transaction`` failed after the coordinator
had committed (a timeout while a broker restarts). Retried on the same producer it reports
success; when it cannot be, the replacement producer settles it on the broker and the worker
resumes from the offsets the broker committed, so nothing is written twice."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from ground.errors import TransactionError
from tests.unit.fakes import SleepingClock
from tests.unit.pipelines.runtime.fakes import FakeConsumer
from tests.unit.pipelines.runtime.harness import (
    assign,
    committed_outputs,
    expected,
    inputs,
    make,
)

TIMED_OUT = KafkaError(KafkaError._TIMED_OUT, "commit timed out", retriable=True)


def _fake_waits(rt) -> None:
    """The transactions' pauses move a clock instead of sleeping."""
    clock = SleepingClock()
    rt.transactions._monotonic, rt.transactions._sleep = clock, clock.sleep


def redelivered(consumer: FakeConsumer, data: list) -> list:
    """What the broker delivers after the consumer's last seek of each partition."""
    start: dict[int, int] = {}
    for _topic, p, offset in consumer.seeks:
        start[p] = offset
    return [m for m in data if m.offset() >= start.get(m.partition(), 0)]


def test_a_commit_that_timed_out_is_retried_on_the_same_producer() -> None:
    rt, producer, consumer, clock, _ = make()
    _fake_waits(rt)
    assign(rt, consumer, 0, 1)
    data = inputs(20)
    rt._handle(data, clock())
    producer.landed_commit_errors = [TIMED_OUT] * 5
    assert rt.ownership.commit()
    assert len(producer.committed) == 1 and not producer.aborted and producer.inits == 0
    assert rt.stats.commit_retries == 5 and not rt.transactions.in_doubt
    assert {(p, o): r for p, o, r in committed_outputs(producer)} == expected(data)


@pytest.mark.parametrize(
    "errors",
    [
        [TIMED_OUT] * 1_000,  # retried until the wait ran out
        [KafkaError(KafkaError._STATE, "unexpected state")],  # neither retriable nor abortable
    ],
    ids=["timeouts", "unknown-error"],
)
def test_a_commit_in_doubt_that_landed_is_not_replayed(errors: list[KafkaError]) -> None:
    rt, producer, consumer, clock, _ = make()
    _fake_waits(rt)
    rt.transactions.make_producer = lambda _id: producer  # the same transactional.id
    assign(rt, consumer, 0, 1)
    data = inputs(60)
    first, second, third = data[:20], data[20:40], data[40:]
    rt._handle(first, clock())
    assert rt.ownership.commit()
    rt._handle(second, clock())
    producer.landed_commit_errors = list(errors)
    try:
        rt.ownership.commit()
    except TransactionError as exc:  # as the loop does: a new producer, then rewind
        assert rt.transactions.in_doubt
        rt._recover(exc)  # the coordinator completes the commit that landed
    rt._handle(redelivered(consumer, data), clock())
    assert rt.ownership.commit()
    rows = committed_outputs(producer)
    positions = [(p, o) for p, o, _ in rows]
    assert len(positions) == len(set(positions)) == len(data), "results written twice"
    assert {(p, o): r for p, o, r in rows} == expected(first + second + third)
    assert producer.inits == 1 and rt.stats.in_doubt_resolved == 1
    assert not rt.transactions.in_doubt


def test_a_commit_in_doubt_that_did_not_land_is_replayed() -> None:
    """The same failure before the commit reached the coordinator: the new producer aborts
    it, and the worker replays from the earlier commit."""
    rt, producer, consumer, clock, _ = make()
    _fake_waits(rt)
    rt.transactions.make_producer = lambda _id: producer
    assign(rt, consumer, 0, 1)
    data = inputs(40)
    rt._handle(data[:20], clock())
    assert rt.ownership.commit()
    rt._handle(data[20:], clock())
    producer.fail_next_commit = KafkaError(KafkaError._STATE, "unexpected state")
    with pytest.raises(TransactionError) as failed:
        rt.ownership.commit()
    rt._recover(failed.value)
    assert len(producer.aborted) == 1
    assert {o.committed for o in rt.ownership.owned.values()} == {10}
    rt._handle(redelivered(consumer, data), clock())
    assert rt.ownership.commit()
    rows = committed_outputs(producer)
    assert {(p, o): r for p, o, r in rows} == expected(data) and len(rows) == len(data)


def test_a_commit_that_needs_an_abort_is_aborted_and_replayed() -> None:
    rt, producer, consumer, clock, _ = make()
    assign(rt, consumer, 0)
    rt._handle(inputs(4, partitions=1), clock())
    producer.fail_next_commit = KafkaError(KafkaError._STATE, "x", txn_requires_abort=True)
    assert not rt.ownership.commit()
    assert len(producer.aborted) == 1 and not rt.transactions.in_doubt


def test_the_injected_lost_reply_commits_and_then_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fault suite's ``lost_commit_reply_after``: the commit lands, the call reports a
    timeout, and the worker learns the outcome from the broker."""
    from ground.faults import Faults

    monkeypatch.setattr(
        "pipelines.runtime.transactions.faults", Faults({"lost_commit_reply_after": 2})
    )
    rt, producer, consumer, clock, _ = make()
    _fake_waits(rt)
    rt.transactions.make_producer = lambda _id: producer
    assign(rt, consumer, 0)
    data = inputs(30, partitions=1)
    rt._handle(data[:10], clock())
    assert rt.ownership.commit()
    rt._handle(data[10:20], clock())
    try:
        rt.ownership.commit()
    except TransactionError as exc:
        rt._recover(exc)
    rt._handle(redelivered(consumer, data), clock())
    assert rt.ownership.commit()
    rows = committed_outputs(producer)
    assert len(rows) == len({(p, o) for p, o, _ in rows}) == 30
    assert rt.stats.in_doubt_resolved == 1
