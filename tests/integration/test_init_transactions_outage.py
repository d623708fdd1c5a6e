"""A transactional producer replaced while its broker is down is initialised once the broker
is back — on the same producer — and is not fenced afterwards (the soak's fatal ``_FENCED``).

The runtime's :class:`~pipelines.runtime.transactions.Transactions` on a private broker
(``private_kafka``: killed and restarted here, never the shared stack's): a transaction
commits; the broker is killed; the producer is replaced (as after a fatal error), and its
``init_transactions`` times out while the broker is down — several times, each retried on the
same producer; the broker restarts; the init completes, and transactions commit again, with
nothing fenced. Before, the first timeout replaced the producer once more, and the timed-out
call completing on the broker fenced the replacement."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer

from ground.errors import TransactionError
from ground.kafka import ensure_topics
from ground.startup import StartupWait
from pipelines.runtime import RunStats, RuntimeConfig
from pipelines.runtime.clients import producer_config
from pipelines.runtime.records import OutRecord
from pipelines.runtime.transactions import Transactions
from tests.integration.fault_report import report
from tests.integration.fixtures_private import PrivateServer

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(420)]

#: each init_transactions call gives up after this long (the operation timeout)
OPERATION_TIMEOUT_MS = 4_000
#: the broker stays down this long: several timed-out calls
BROKER_DOWN_S = 14.0


def _committed(kafka: object, topic: str) -> list[bytes]:
    consumer = Consumer(kafka.client_config({  # type: ignore[attr-defined]
        "group.id": f"it-read-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest",
        "isolation.level": "read_committed", "enable.partition.eof": True,
    }))  # fmt: skip
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error() is not None:
                if got:  # end of the partition, after the records
                    break
                continue
            got.append(msg.value())
    finally:
        consumer.close()
    return got


def test_a_replacement_initialised_during_an_outage_is_not_fenced(
    private_kafka: PrivateServer,
) -> None:
    if private_kafka.pid() is None:
        private_kafka.start()
    settings = private_kafka.settings
    topic = f"it-init-{uuid.uuid4().hex[:8]}"
    ensure_topics(settings.kafka, [topic], 1)
    config = RuntimeConfig("it-init", (topic,), operation_timeout_ms=OPERATION_TIMEOUT_MS,
                           transaction_timeout_ms=10_000)  # fmt: skip
    stats = RunStats()
    txn = Transactions(
        config, stats, lambda txn_id: Producer(producer_config(config, settings.kafka, txn_id)),
        init_wait=StartupWait(120_000, 500, 2_000),
    )  # fmt: skip
    txn.start(f"it-init-{uuid.uuid4().hex[:8]}")

    def commit(value: bytes) -> None:
        txn.begin(0)
        txn.write([OutRecord(topic, None, value, None, 0)])
        txn.commit([], None)

    commit(b"before")
    private_kafka.kill9()
    failure: list[BaseException] = []

    def replace() -> None:  # as the runtime does after a fatal producer error
        try:
            txn.reset(TransactionError("commit_transaction failed fatally: fenced"))
        except BaseException as exc:  # handed to the test
            failure.append(exc)

    replacing = threading.Thread(target=replace, name="replace-producer")
    down_at = time.monotonic()
    replacing.start()
    time.sleep(BROKER_DOWN_S)
    assert replacing.is_alive(), f"the replacement did not wait for the broker: {failure}"
    restart_s = private_kafka.start()
    replacing.join(120)
    assert not replacing.is_alive() and not failure, failure
    init_s = time.monotonic() - down_at
    commit(b"after")  # fenced, before: a fatal error here
    commit(b"and again")
    assert stats.producer_resets == 1 and stats.init_retries >= 2
    assert _committed(settings.kafka, topic) == [b"before", b"after", b"and again"]
    report(12, broker_down_s=round(BROKER_DOWN_S, 1),
           restart_s=round(restart_s, 1), init_retries=stats.init_retries,
           initialised_after_s=round(init_s, 1))  # fmt: skip
