"""How far a partition's committed records go: its last stable offset, asked of the broker.

A stage behind a repartition lets an idle upstream partition stop holding its time only
while that partition's input is caught up (:mod:`pipelines.sql.shuffle`). It asks with a
:data:`StableOffsetProbe`: the last stable offset (what a read_committed consumer can read
up to) of a few partitions, in one request. :class:`StableOffsets` is the Kafka one; tests
inject a fake.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from confluent_kafka import IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from ground.kafka_config import KafkaConfig
from pipelines.runtime.clients import admin_config

__all__ = ["DEFAULT_PROBE_TIMEOUT_MS", "StableOffsetProbe", "StableOffsets"]

log = logging.getLogger(__name__)

#: ``{(topic, partition), …} -> {(topic, partition): last stable offset}``; a partition it
#: could not learn is missing from the answer.
StableOffsetProbe = Callable[[Collection[tuple[str, int]]], dict[tuple[str, int], int]]

#: How long one probe keeps asking while the broker answers with a retriable error.
DEFAULT_PROBE_TIMEOUT_MS = 5_000


class StableOffsets:
    """The last stable offsets of partitions, one ``ListOffsets`` request (per broker) for
    all of them, ``read_committed``. The admin client is made at the first call.

    ``calls`` and ``seconds`` count the probes and the time spent in them."""

    def __init__(
        self,
        kafka: KafkaConfig,
        *,
        timeout_ms: int = DEFAULT_PROBE_TIMEOUT_MS,
        admin: Any = None,
    ) -> None:
        self._kafka = kafka
        self._admin = admin
        self.timeout_ms = timeout_ms
        self.calls = 0
        self.seconds = 0.0

    def __call__(self, partitions: Collection[tuple[str, int]]) -> dict[tuple[str, int], int]:
        if not partitions:
            return {}
        if self._admin is None:
            self._admin = AdminClient(admin_config(self._kafka))
        started = time.perf_counter()
        self.calls += 1
        try:
            return self._ask(partitions, time.monotonic() + self.timeout_ms / 1000)
        finally:
            self.seconds += time.perf_counter() - started

    def _ask(
        self, partitions: Collection[tuple[str, int]], deadline: float
    ) -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        wanted = set(partitions)
        while wanted:
            left = max(0.1, deadline - time.monotonic())
            futures = self._admin.list_offsets(
                {TopicPartition(t, p): OffsetSpec.latest() for t, p in sorted(wanted)},
                isolation_level=IsolationLevel.READ_COMMITTED,
                request_timeout=left,
            )
            for tp, future in futures.items():
                try:
                    out[(tp.topic, tp.partition)] = future.result(timeout=left).offset
                    wanted.discard((tp.topic, tp.partition))
                except Exception as exc:  # a timeout, or the broker's answer
                    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
                    if isinstance(exc, KafkaException) and not (
                        isinstance(err, KafkaError) and err.retriable()
                    ):
                        log.warning("%s[%d]: last stable offset: %s", tp.topic, tp.partition, exc)
                        wanted.discard((tp.topic, tp.partition))
            if wanted and time.monotonic() >= deadline:
                log.warning("last stable offsets of %s not known within %d ms",
                            sorted(wanted), self.timeout_ms)  # fmt: skip
                break
            if wanted:
                time.sleep(0.1)
        return out
