"""The loop around its Kafka clients (faked): end-of-partition events and rebalances."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from confluent_kafka import KafkaError

from ground.settings import Settings
from pipelines.runtime import OutRecord, RuntimeConfig, StreamRuntime
from pipelines.runtime.loop import _Owned


class _Error:
    def __init__(self, code: int) -> None:
        self._code = code

    def code(self) -> int:
        return self._code

    def fatal(self) -> bool:
        return False


class _Msg:
    def __init__(self, partition: int, offset: int, *, eof: bool = False) -> None:
        self._p, self._o, self._eof = partition, offset, eof

    def error(self) -> _Error | None:
        return _Error(KafkaError._PARTITION_EOF) if self._eof else None

    def topic(self) -> str:
        return "in"

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_000 + self._o)

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return b"v"


class _Producer:
    def begin_transaction(self) -> None:
        pass

    def produce(self, *args: Any) -> None:
        pass


class _Processor:
    def process(self, batch: Any) -> list[OutRecord]:
        return []

    def on_idle(self, now_ms: int, idle_ms: int) -> list[OutRecord]:
        return []

    def take_changes(self) -> list[tuple[bytes, bytes | None]]:
        return []

    def restore(self, entries: Any) -> None:
        pass


def _runtime() -> StreamRuntime:
    config = RuntimeConfig("app", ("in",), idle_timeout_ms=1_000, idle_check_interval_ms=100)
    rt = StreamRuntime(
        config, Settings.from_env({}), lambda t, p: _Processor(), stop=threading.Event()
    )
    rt._producer = _Producer()
    for p in (0, 1):
        rt._owned[("in", p)] = _Owned("in", p, "cl", _Processor(), 0, 0, True)
        rt._idle.add(("in", p), 0)
    return rt


def test_eof_in_the_same_poll_as_the_last_records_counts() -> None:
    rt = _runtime()
    # partition 0: records 0..2 then EOF at 3, all in one poll; partition 1 interleaved
    msgs = [_Msg(0, 0), _Msg(1, 0), _Msg(0, 1), _Msg(0, 2), _Msg(0, 3, eof=True), _Msg(1, 1)]
    rt._handle(msgs, now_ms=10)
    assert rt._owned[("in", 0)].position == 3
    assert rt._idle.caught_up(("in", 0))
    assert not rt._idle.caught_up(("in", 1))
    assert [tp for tp, _ in rt._idle.due(1_010)] == [("in", 0)]


def test_eof_behind_the_position_is_ignored() -> None:
    rt = _runtime()
    rt._handle([_Msg(0, 0), _Msg(0, 1)], now_ms=10)
    rt._handle([_Msg(0, 1, eof=True)], now_ms=20)  # a stale EOF from before a record
    assert not rt._idle.caught_up(("in", 0))


class _Consumer:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def committed(self, tps: list[Any], timeout: float) -> list[Any]:
        self.calls.append("committed")
        return [type(tp)(tp.topic, tp.partition, 5) for tp in tps]

    def consumer_group_metadata(self) -> object:
        return object()

    def incremental_assign(self, tps: list[Any]) -> None:
        self.calls.append("assign")


class _TxnProducer(_Producer):
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def send_offsets_to_transaction(self, *args: Any) -> None:
        pass

    def commit_transaction(self, timeout: float) -> None:
        self.calls.append("commit")


class _Reader:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def read(self, topic: str, partitions: list[int]) -> dict[int, dict[bytes, bytes]]:
        self.calls.append("restore")
        return {p: {} for p in partitions}


def test_new_partitions_commit_the_open_transaction_before_restoring() -> None:
    from confluent_kafka import TopicPartition

    rt = _runtime()
    calls: list[str] = []
    rt._producer, rt._consumer, rt._reader = _TxnProducer(calls), _Consumer(calls), _Reader(calls)
    rt._handle([_Msg(0, 0)], now_ms=10)  # opens a transaction
    assert rt._txn.open
    rt._on_assign(rt._consumer, [TopicPartition("in", 2)])
    assert rt._callback_error is None, rt._callback_error
    assert calls == ["commit", "committed", "restore", "assign"]
    assert not rt._txn.open and rt._owned[("in", 2)].position == 5


class _FailingProducer(_TxnProducer):
    """send_offsets_to_transaction fails as during a cooperative rebalance."""

    def send_offsets_to_transaction(self, *args: Any) -> None:
        from confluent_kafka import KafkaException

        raise KafkaException(KafkaError(KafkaError.ILLEGAL_GENERATION, "generation moved on"))

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")


class _SeekingConsumer(_Consumer):
    def seek(self, tp: Any) -> None:
        self.calls.append(f"seek {tp.partition}@{tp.offset}")


def test_a_rewind_inside_consume_drops_records_fetched_before_it() -> None:
    from confluent_kafka import TopicPartition

    rt = _runtime()
    calls: list[str] = []
    consumer = _SeekingConsumer(calls)
    rt._producer, rt._consumer, rt._reader = _FailingProducer(calls), consumer, _Reader(calls)
    rt._handle([_Msg(0, 0), _Msg(0, 1), _Msg(0, 2)], now_ms=10)
    # a rebalance callback (inside consume) cannot commit: abort, rewind partition 0 to 0
    rt._consuming = True
    rt._on_assign(consumer, [TopicPartition("in", 2)])
    rt._consuming = False
    assert rt._callback_error is None, rt._callback_error
    assert "abort" in calls and "seek 0@0" in calls and rt._owned[("in", 0)].position == 0
    # that consume() still returns records fetched before the seek: dropped, sought again
    calls.clear()
    kept = rt._drop_stale([_Msg(0, 3), _Msg(0, 4), _Msg(2, 5)])
    assert [(m.partition(), m.offset()) for m in kept] == [(2, 5)]
    assert calls == ["seek 0@0"]
    rt._handle(kept, now_ms=20)
    assert rt._owned[("in", 0)].position == 0  # not 5: records 0..2 come again
    rt._handle([_Msg(0, 0), _Msg(0, 1), _Msg(0, 2), _Msg(0, 3), _Msg(0, 4)], now_ms=30)
    assert rt._owned[("in", 0)].position == 5
    assert rt._drop_stale([_Msg(0, 5)]) != []  # only once


class _StuckProducer(_FailingProducer):
    """A producer whose transaction a broker restart broke: abort times out (or is fenced)."""

    def __init__(self, calls: list[str], error: int) -> None:
        super().__init__(calls)
        self.error = error

    def abort_transaction(self, timeout: float) -> None:
        from confluent_kafka import KafkaException

        self.calls.append("abort")
        fenced = self.error == KafkaError._FENCED
        raise KafkaException(KafkaError(self.error, "stuck", fatal=fenced))

    def purge(self, **_: Any) -> None:
        self.calls.append("purge")


def test_an_abort_that_fails_replaces_the_producer_and_rewinds() -> None:
    rt = _runtime()
    calls: list[str] = []
    fresh = _TxnProducer(calls)
    rt._new_producer = lambda: (calls.append("new producer"), fresh)[1]  # type: ignore[method-assign]
    rt._producer = _StuckProducer(calls, KafkaError._TIMED_OUT)
    rt._consumer, rt._reader = _SeekingConsumer(calls), _Reader(calls)
    rt._handle([_Msg(0, 0), _Msg(0, 1)], now_ms=10)
    rt._abort_and_rewind("produce failed", exclude=set())
    assert calls[:3] == ["abort", "purge", "new producer"]
    assert rt._producer is fresh and rt.stats.producer_resets == 1
    assert "seek 0@0" in calls and rt._owned[("in", 0)].position == 0 and not rt._txn.open


def test_a_fenced_abort_stops_the_worker() -> None:
    from ground.errors import TransactionError

    rt = _runtime()
    calls: list[str] = []
    rt._producer = _StuckProducer(calls, KafkaError._FENCED)
    rt._consumer, rt._reader = _SeekingConsumer(calls), _Reader(calls)
    rt._handle([_Msg(0, 0)], now_ms=10)
    with pytest.raises(TransactionError, match="fenced"):
        rt._abort_and_rewind("produce failed", exclude=set())


def test_a_fatal_producer_error_resets_the_producer_once_then_stops() -> None:
    """Fenced after a broker restart: a new producer, every partition replayed. Fenced again
    at once: another live worker has this transactional.id, so the worker stops."""
    from ground.errors import TransactionError

    rt = _runtime()
    calls: list[str] = []
    fresh = _TxnProducer(calls)
    rt._new_producer = lambda: (calls.append("new producer"), fresh)[1]  # type: ignore[method-assign]
    rt._producer = _TxnProducer(calls)
    rt._producer.purge = lambda **_: calls.append("purge")  # type: ignore[attr-defined]
    rt._consumer, rt._reader = _SeekingConsumer(calls), _Reader(calls)
    rt._handle([_Msg(0, 0), _Msg(0, 1)], now_ms=10)
    rt._recover(TransactionError("commit_transaction failed fatally: fenced"))
    assert rt._producer is fresh and rt.stats.producer_resets == 1
    assert "seek 0@0" in calls and rt._owned[("in", 0)].position == 0 and not rt._txn.open
    with pytest.raises(TransactionError, match="fenced"):
        rt._recover(TransactionError("commit_transaction failed fatally: fenced"))


class _HangingProducer(_TxnProducer):
    """librdkafka #5456/#5511: after the coordinator came back, send_offsets_to_transaction
    (and an abort) can block past any timeout. ``release`` lets the stuck threads end."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__(calls)
        self.release = threading.Event()

    def send_offsets_to_transaction(self, *args: Any) -> None:
        self.calls.append("send_offsets (stuck)")
        self.release.wait(30)

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort (stuck)")
        self.release.wait(30)

    def purge(self, **_: Any) -> None:
        self.calls.append("purge")


@pytest.fixture
def hanging(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A runtime whose producer hangs (short deadlines), the calls log, and the producer
    a reset brings; the stuck threads are released afterwards."""
    from pipelines.runtime import loop

    monkeypatch.setattr(loop, "STUCK_GRACE_S", 0.05)
    monkeypatch.setattr(loop, "ABORT_TIMEOUT_S", 0.05)
    rt = _runtime()
    rt._timeout_s = 0.05
    calls: list[str] = []
    stuck, fresh = _HangingProducer(calls), _TxnProducer(calls)
    rt._new_producer = lambda: (calls.append("new producer"), fresh)[1]  # type: ignore[method-assign]
    rt._producer = stuck
    rt._consumer, rt._reader = _SeekingConsumer(calls), _Reader(calls)
    yield rt, calls, fresh
    stuck.release.set()


def test_a_commit_stuck_past_its_timeout_replaces_the_producer_and_replays(hanging: Any) -> None:
    from ground.errors import TransactionError

    rt, calls, fresh = hanging
    rt._handle([_Msg(0, 0), _Msg(0, 1)], now_ms=10)
    with pytest.raises(TransactionError, match="send_offsets_to_transaction did not return"):
        rt._commit()
    assert rt._owned[("in", 0)].committed == 0  # nothing counted as committed
    rt._recover(TransactionError("stuck"))
    assert rt._producer is fresh and rt.stats.producer_resets == 1
    assert calls.index("purge") < calls.index("new producer")
    assert "seek 0@0" in calls and rt._owned[("in", 0)].position == 0
    assert not rt._txn.open


def test_an_abort_stuck_past_its_timeout_replaces_the_producer(hanging: Any) -> None:
    rt, calls, fresh = hanging
    rt._handle([_Msg(1, 0)], now_ms=10)
    rt._abort_and_rewind("produce failed", exclude=set())
    assert calls[:3] == ["abort (stuck)", "purge", "new producer"]
    assert rt._producer is fresh and "seek 1@0" in calls
