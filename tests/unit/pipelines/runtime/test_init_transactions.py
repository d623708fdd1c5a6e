"""``init_transactions`` that times out (the coordinator away: a broker restarting) is retried
on the same producer with capped exponential backoff, never on a new producer: a timed-out
call can still complete on the broker, bump the epoch and fence any newer producer of the
same ``transactional.id`` (librdkafka: retry the call on the same instance).

The clock is a fake one: each call that times out takes its whole timeout on it, as a real
one does, and the pauses between attempts pass on it too."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from ground.errors import TransactionError
from ground.settings import Settings
from ground.startup import StartupWait
from pipelines.runtime import RunStats, RuntimeConfig, StreamRuntime
from pipelines.runtime.transactions import Transactions
from tests.unit.fakes import SleepingClock
from tests.unit.pipelines.runtime.fakes import LogReader, SeekingConsumer, StubMsg
from tests.unit.pipelines.runtime.harness import stub_runtime

CONFIG = RuntimeConfig("app", ("in",), transaction_timeout_ms=30_000, operation_timeout_ms=10_000)


class SlowCoordinatorProducer:
    """``init_transactions`` times out ``timeouts`` times (each taking its whole timeout on
    the clock), then succeeds; or fails with ``error`` once."""

    def __init__(
        self, clock: SleepingClock, timeouts: int, error: KafkaError | None = None
    ) -> None:
        self.clock = clock
        self.timeouts = timeouts
        self.error = error
        self.inits: list[float] = []  # the timeout of each call

    def init_transactions(self, timeout: float) -> None:
        self.inits.append(timeout)
        if self.error is not None:
            raise KafkaException(self.error)
        if len(self.inits) <= self.timeouts:
            self.clock.now += timeout
            raise KafkaException(KafkaError(
                KafkaError._TIMED_OUT, "Failed to initialize Producer ID: Local: Timed out",
                retriable=True,
            ))  # fmt: skip

    def purge(self, **_: Any) -> None:
        pass


def transactions(
    clock: SleepingClock, producers: list[SlowCoordinatorProducer], wait: StartupWait
) -> tuple[Transactions, list[str]]:
    made: list[str] = []
    queue = list(producers)

    def make(txn_id: str) -> SlowCoordinatorProducer:
        made.append(txn_id)
        return queue.pop(0)

    txn = Transactions(CONFIG, RunStats(), make, init_wait=wait, sleep=clock.sleep,
                       monotonic=clock)  # fmt: skip
    return txn, made


def test_a_timed_out_init_is_retried_on_the_same_producer_with_backoff() -> None:
    clock = SleepingClock()
    producer = SlowCoordinatorProducer(clock, timeouts=4)
    txn, made = transactions(clock, [producer], StartupWait(120_000, 500, 2_000))
    txn.start("app-host-0")
    assert made == ["app-host-0"]  # one producer, never replaced
    assert txn.producer is producer and len(producer.inits) == 5
    assert clock.pauses == [0.5, 1.0, 2.0, 2.0]  # doubling, capped
    assert producer.inits[0] == 10.0  # each call gets the operation timeout
    assert txn.stats.init_retries == 4 and txn.stats.producer_resets == 0


def test_it_gives_up_after_the_wait_and_makes_no_second_producer() -> None:
    clock = SleepingClock()
    producer = SlowCoordinatorProducer(clock, timeouts=10**6)
    txn, made = transactions(clock, [producer], StartupWait(60_000, 1_000, 10_000))
    start = clock.now
    with pytest.raises(TransactionError, match="gave up after 60s"):
        txn.start("app-host-0")
    assert made == ["app-host-0"]
    assert 60.0 <= clock.now - start <= 60.0 + CONFIG.operation_timeout_ms / 1000
    assert len(producer.inits) > 3 and all(t >= 1.0 for t in producer.inits)


def test_it_waits_at_least_the_transaction_timeout() -> None:
    clock = SleepingClock()
    producer = SlowCoordinatorProducer(clock, timeouts=10**6)
    txn, _ = transactions(clock, [producer], StartupWait(0, 1_000, 10_000))
    start = clock.now
    with pytest.raises(TransactionError):
        txn.start("app-host-0")
    assert clock.now - start >= CONFIG.transaction_timeout_ms / 1000


@pytest.mark.parametrize("error", [
    KafkaError(KafkaError._FENCED, "fenced", fatal=True),
    KafkaError(KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, "not allowed"),
])  # fmt: skip
def test_a_fatal_or_permanent_init_failure_is_not_retried(error: KafkaError) -> None:
    clock = SleepingClock()
    producer = SlowCoordinatorProducer(clock, timeouts=0, error=error)
    txn, _ = transactions(clock, [producer], StartupWait())
    with pytest.raises(TransactionError, match="init_transactions failed"):
        txn.start("app-host-0")
    assert len(producer.inits) == 1 and clock.pauses == []


def test_a_replacement_whose_init_times_out_is_not_replaced_again() -> None:
    """The soak's fatal ``_FENCED``: after a fatal error the runtime replaces the producer;
    the new one's ``init_transactions`` times out while the broker restarts. It is retried on
    that same producer until the broker answers, and the worker goes on with it (a third
    producer would be fenced by the second's timed-out call completing)."""
    rt = stub_runtime()
    clock = SleepingClock()
    replacement = SlowCoordinatorProducer(clock, timeouts=3)
    replacement.begin_transaction = lambda: None  # type: ignore[attr-defined]
    made: list[str] = []
    rt.transactions.make_producer = lambda txn_id: (made.append(txn_id), replacement)[1]
    rt.transactions._sleep, rt.transactions._monotonic = clock.sleep, clock
    rt.transactions.transactional_id = "app-host-0"
    calls: list[str] = []
    rt.ownership.consumer, rt.ownership.reader = SeekingConsumer(calls), LogReader(calls)
    rt._handle([StubMsg(0, 0), StubMsg(0, 1)], now_ms=10)
    rt._recover(TransactionError("commit_transaction failed fatally: fenced"))
    assert made == ["app-host-0"] and rt.transactions.producer is replacement
    assert len(replacement.inits) == 4 and rt.stats.init_retries == 3
    assert "seek 0@0" in calls and not rt.transactions.open


def test_the_runtime_waits_as_long_as_the_settings_say() -> None:
    settings = Settings.from_env({"SHARDLINE_STARTUP_WAIT_MS": "300000"})
    rt = StreamRuntime(CONFIG, settings, lambda t, p: None, stop=threading.Event())
    assert rt.transactions.init_wait_s == 300.0
    short = StreamRuntime(CONFIG, Settings.from_env({"SHARDLINE_STARTUP_WAIT_MS": "0"}),
                          lambda t, p: None, stop=threading.Event())  # fmt: skip
    assert short.transactions.init_wait_s == CONFIG.transaction_timeout_ms / 1000
