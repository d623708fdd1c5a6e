"""How far a partition's committed records go: its last stable offset, asked of the broker.

A stage behind a repartition lets an idle upstream partition stop holding its time only
while that partition's input is caught up (:mod:`pipelines.sql.shuffle`). It asks with a
:data:`StableOffsetProbe`: the last stable offset (what a read_committed consumer can read
up to) of a few partitions, in one request. :class:`StableOffsets` is the Kafka one; tests
inject a fake.

One :class:`StableOffsets` serves every stage partition of a worker. Told of each poll of
the runtime (:meth:`StableOffsets.new_poll`, the runtime's ``on_poll``), it asks the broker
at most about once per poll: the first call of a poll asks for the partitions it is given
and for every partition asked for in this poll or the one before (the other stage
partitions' idle channels), and the calls after it in the same poll are answered from that
(a partition the broker did not answer for stays unknown). Never told of a poll, it asks at
every call.
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
    all of them, ``read_committed``, shared by the calls of one poll (see the module). The
    admin client is made at the first request.

    ``calls`` counts the calls, ``requests`` the requests to the broker, ``seconds`` and
    ``cpu_seconds`` the wall and CPU (this thread's) time spent in requests."""

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
        self.requests = 0
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        #: polls are signalled: answers are shared within one
        self._per_poll = False
        self._answers: dict[tuple[str, int], int] = {}
        #: the partitions asked of the broker in this poll (answered or not)
        self._known: set[tuple[str, int]] = set()
        #: the partitions callers wanted in this poll, and in the one before
        self._wanted: set[tuple[str, int]] = set()
        self._wanted_before: set[tuple[str, int]] = set()

    def new_poll(self) -> None:
        """The runtime polled again: what the broker said before is not asked again in
        this poll's calls until one needs a partition it has not heard of."""
        self._per_poll = True
        self._answers = {}
        self._known = set()
        self._wanted_before, self._wanted = self._wanted, set()

    def __call__(self, partitions: Collection[tuple[str, int]]) -> dict[tuple[str, int], int]:
        if not partitions:
            return {}
        self.calls += 1
        if not self._per_poll:
            return self._request(set(partitions))
        wanted = set(partitions)
        self._wanted |= wanted
        if not wanted <= self._known:
            # every partition wanted in this poll and the one before: the other stage
            # partitions will ask for them too
            ask = (wanted | self._wanted | self._wanted_before) - self._known
            self._answers.update(self._request(ask))
            self._known |= ask
        answers = self._answers
        return {tp: answers[tp] for tp in wanted if tp in answers}

    def _request(self, partitions: set[tuple[str, int]]) -> dict[tuple[str, int], int]:
        if self._admin is None:
            self._admin = AdminClient(admin_config(self._kafka))
        started, cpu = time.perf_counter(), time.thread_time()
        self.requests += 1
        try:
            return self._ask(partitions, time.monotonic() + self.timeout_ms / 1000)
        finally:
            self.seconds += time.perf_counter() - started
            self.cpu_seconds += time.thread_time() - cpu

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
