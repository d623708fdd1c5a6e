"""The transactional producer against fake clients: retries, a full queue, aborts that fail
or hang, and the producer replaced after a fatal error (once)."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError

from ground.errors import TransactionError
from tests.unit.pipelines.runtime.fakes import (
    HangingProducer,
    LogProducer,
    LogReader,
    SeekingConsumer,
    StuckProducer,
    msg,
)
from tests.unit.pipelines.runtime.fakes import (
    StubMsg as _Msg,
)
from tests.unit.pipelines.runtime.harness import (
    SRC,
    assign,
    committed_outputs,
    inputs,
    make,
    stub_runtime,
)


def test_retriable_commit_is_retried_and_fatal_raises() -> None:
    rt, producer, consumer, clock, _ = make()
    assign(rt, consumer, 0)
    rt._handle(inputs(2, partitions=1), clock())
    producer.fail_next_commit = KafkaError(KafkaError._TIMED_OUT, "slow", retriable=True)
    assert rt.ownership.commit()
    assert len(producer.committed) == 1 and not producer.aborted
    rt._handle([msg(SRC, 0, 2, b"k", b"1")], clock())
    producer.fail_next_commit = KafkaError(KafkaError._FENCED, "fenced", fatal=True)
    with pytest.raises(TransactionError):
        rt.ownership.commit()


def test_a_full_producer_queue_is_waited_out() -> None:
    rt, producer, consumer, clock, _ = make()
    assign(rt, consumer, 0)
    producer.fail_next_produce = BufferError
    rt._handle([msg(SRC, 0, 0, b"k", b"1")], clock())
    assert producer.polls >= 1
    assert rt.ownership.commit()
    assert len(committed_outputs(producer)) == 1


def test_an_abort_that_fails_replaces_the_producer_and_rewinds() -> None:
    rt = stub_runtime()
    calls: list[str] = []
    fresh = LogProducer(calls)
    rt.transactions.make_producer = lambda _id: (calls.append("new producer"), fresh)[1]
    rt.transactions.producer = StuckProducer(calls, KafkaError._TIMED_OUT)
    rt.ownership.consumer, rt.ownership.reader = SeekingConsumer(calls), LogReader(calls)
    rt._handle([_Msg(0, 0), _Msg(0, 1)], now_ms=10)
    rt.ownership.abort_and_rewind("produce failed", exclude=set())
    assert calls[:3] == ["abort", "purge", "new producer"]
    assert rt.transactions.producer is fresh and rt.stats.producer_resets == 1
    assert (
        "seek 0@0" in calls and rt.ownership.owned[("in", 0)].position == 0
        and not rt.transactions.open
    )


def test_a_fenced_abort_stops_the_worker() -> None:
    from ground.errors import TransactionError

    rt = stub_runtime()
    calls: list[str] = []
    rt.transactions.producer = StuckProducer(calls, KafkaError._FENCED)
    rt.ownership.consumer, rt.ownership.reader = SeekingConsumer(calls), LogReader(calls)
    rt._handle([_Msg(0, 0)], now_ms=10)
    with pytest.raises(TransactionError, match="fenced"):
        rt.ownership.abort_and_rewind("produce failed", exclude=set())


def test_a_fatal_producer_error_resets_the_producer_once_then_stops() -> None:
    """Fenced after a broker restart: a new producer, every partition replayed. Fenced again
    at once: another live worker has this transactional.id, so the worker stops."""
    from ground.errors import TransactionError

    rt = stub_runtime()
    calls: list[str] = []
    fresh = LogProducer(calls)
    rt.transactions.make_producer = lambda _id: (calls.append("new producer"), fresh)[1]
    rt.transactions.producer = LogProducer(calls)
    rt.transactions.producer.purge = lambda **_: calls.append("purge")  # type: ignore[attr-defined]
    rt.ownership.consumer, rt.ownership.reader = SeekingConsumer(calls), LogReader(calls)
    rt._handle([_Msg(0, 0), _Msg(0, 1)], now_ms=10)
    rt._recover(TransactionError("commit_transaction failed fatally: fenced"))
    assert rt.transactions.producer is fresh and rt.stats.producer_resets == 1
    assert (
        "seek 0@0" in calls and rt.ownership.owned[("in", 0)].position == 0
        and not rt.transactions.open
    )
    with pytest.raises(TransactionError, match="fenced"):
        rt._recover(TransactionError("commit_transaction failed fatally: fenced"))


@pytest.fixture
def hanging(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A runtime whose producer hangs (short deadlines), the calls log, and the producer
    a reset brings; the stuck threads are released afterwards."""
    from pipelines.runtime import transactions

    monkeypatch.setattr(transactions, "STUCK_GRACE_S", 0.05)
    monkeypatch.setattr(transactions, "ABORT_TIMEOUT_S", 0.05)
    rt = stub_runtime()
    rt.transactions.timeout_s = 0.05
    calls: list[str] = []
    stuck, fresh = HangingProducer(calls), LogProducer(calls)
    rt.transactions.make_producer = lambda _id: (calls.append("new producer"), fresh)[1]
    rt.transactions.producer = stuck
    rt.ownership.consumer, rt.ownership.reader = SeekingConsumer(calls), LogReader(calls)
    yield rt, calls, fresh
    stuck.release.set()


def test_a_commit_stuck_past_its_timeout_stops_the_worker_with_nothing_committed(
    hanging: Any,
) -> None:
    """A call that never returns keeps its producer alive on its thread: only a new
    process frees it, so the worker stops (``shardline run`` starts its process again)
    instead of piling abandoned producers up."""
    from ground.errors import StuckClientError, TransactionError

    rt, calls, _fresh = hanging
    rt._handle([_Msg(0, 0), _Msg(0, 1)], now_ms=10)
    with pytest.raises(StuckClientError, match="send_offsets_to_transaction did not return"):
        rt.ownership.commit()
    assert not issubclass(StuckClientError, TransactionError)  # no in-process recovery
    assert rt.ownership.owned[("in", 0)].committed == 0  # nothing counted as committed
    assert rt.transactions.producer is None and not rt.transactions.open
    assert rt.stats.stuck_calls == 1 and rt.stats.producer_resets == 0
    assert "new producer" not in calls


def test_an_abort_stuck_past_its_timeout_stops_the_worker(hanging: Any) -> None:
    from ground.errors import StuckClientError

    rt, calls, _fresh = hanging
    rt._handle([_Msg(1, 0)], now_ms=10)
    with pytest.raises(StuckClientError, match="abort_transaction did not return"):
        rt.ownership.abort_and_rewind("produce failed", exclude=set())
    assert calls[:1] == ["abort (stuck)"] and "new producer" not in calls
    assert rt.stats.stuck_calls == 1


def test_a_stuck_client_ends_the_loop_and_its_stop_asks_nothing_more_of_the_producer(
    hanging: Any,
) -> None:
    """The failure path after a stuck call: ``abandon`` (abort what is open) and ``close``
    (flush) must not call the stuck producer again, or the worker would hang on it."""
    from ground.errors import StuckClientError

    rt, calls, _fresh = hanging
    rt._handle([_Msg(0, 0)], now_ms=10)
    with pytest.raises(StuckClientError):
        rt.ownership.commit()
    before = list(calls)
    rt.transactions.abandon("stuck")
    rt.transactions.close()
    assert calls == before
