"""Faust's Kafka consumer for user agents, reading ``read_committed``.

The SQL runtime writes its results in Kafka transactions. A consumer reading
``read_uncommitted`` (Kafka's default, and Faust's) sees the records of transactions that
were later aborted — a worker killed mid-transaction, a replay after a failure — and an
agent would act on results that never happened. ``read_committed`` returns only committed
records, up to the last stable offset.

faust-streaming ties the consumer's isolation level to ``processing_guarantee``:
``_create_worker_consumer`` passes ``read_committed`` only with ``exactly_once``, which also
switches on its transaction manager (one transactional producer per assigned partition,
offsets committed in Faust's transactions) — the machinery of faust-streaming's open
duplicate reports (#517, #177, #323). User agents here stay ``at_least_once`` and only their
reads change: :class:`ReadCommittedConsumerThread` sets the aiokafka consumer's isolation
level before it starts. aiokafka reads ``_isolation_level`` once, when ``start()`` builds its
fetcher; ``tests/unit/shardline/host/test_kafka.py`` pins that, and the agents' integration
test fails if aborted records get through. High watermarks follow: with ``read_committed``
the end of a partition is its last stable offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

__all__ = [
    "ISOLATION_LEVEL",
    "ReadCommittedConsumer",
    "ReadCommittedConsumerThread",
    "ReadCommittedTransport",
]

ISOLATION_LEVEL = "read_committed"


class ReadCommittedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread with a ``read_committed`` consumer."""

    def _create_worker_consumer(
        self, transport: faust_aiokafka.Transport
    ) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = ISOLATION_LEVEL
        return consumer

    def highwater(self, tp: TP) -> int:
        return int(self._ensure_consumer().last_stable_offset(tp))

    async def _highwaters(self, partitions: Iterable[TP]) -> Mapping[TP, int]:
        consumer = self._ensure_consumer()
        return {tp: consumer.last_stable_offset(tp) for tp in partitions}


class ReadCommittedConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ReadCommittedConsumerThread:
        return ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class ReadCommittedTransport(faust_aiokafka.Transport):
    """The ``kafka://`` transport whose consumers read committed records only."""

    Consumer: ClassVar[Any] = ReadCommittedConsumer
