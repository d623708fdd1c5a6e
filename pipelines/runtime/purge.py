"""Deleting what a worker has committed from its repartition topics (Kafka Streams'
``repartition.purge.interval.ms``).

A repartition topic keeps its records for ever (``retention.ms`` -1: a stage that is down
for a week must still find them), so the stage that reads it deletes what it has committed:
every ``interval_ms``, for each repartition partition it owns, the records below the
committed offset (``AdminClient.delete_records``). They are processed, their results and
state committed with that offset: nothing reads them again. The request runs in the
background; a failure is logged and the next round asks again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any

from confluent_kafka import TopicPartition

__all__ = ["DEFAULT_PURGE_INTERVAL_MS", "RepartitionPurge"]

log = logging.getLogger(__name__)

DEFAULT_PURGE_INTERVAL_MS = 30_000
_TIMEOUT_S = 30.0


class RepartitionPurge:
    """``admin`` is an ``AdminClient`` (made by the caller: :mod:`.clients`); ``internal``
    the repartition topics."""

    def __init__(
        self,
        admin: Any,
        internal: Iterable[str],
        *,
        interval_ms: int = DEFAULT_PURGE_INTERVAL_MS,
        clock: Callable[[], int],
    ) -> None:
        self._admin = admin
        self._internal = frozenset(internal)
        self._interval_ms = interval_ms
        self._clock = clock
        self._next_ms = clock() + interval_ms
        #: per partition: the offset below which records were deleted
        self.purged: dict[tuple[str, int], int] = {}
        #: per partition: the request in flight and the offset it asked for
        self._pending: dict[tuple[str, int], tuple[int, Future[Any]]] = {}
        self.requests = 0

    def maybe(self, committed: Iterable[tuple[str, int, int]]) -> None:
        """``committed``: ``(topic, partition, committed offset)`` of the owned partitions;
        deletes below those of repartition topics when a round is due."""
        if not self._internal:
            return
        self._collect()
        now = self._clock()
        if now < self._next_ms:
            return
        self._next_ms = now + self._interval_ms
        offsets = [
            TopicPartition(topic, partition, offset)
            for topic, partition, offset in committed
            if topic in self._internal
            and offset > self.purged.get((topic, partition), 0)
            and (topic, partition) not in self._pending
        ]
        if not offsets:
            return
        try:
            futures = self._admin.delete_records(
                offsets, request_timeout=_TIMEOUT_S, operation_timeout=_TIMEOUT_S
            )
        except Exception as exc:  # a round lost; the next asks again
            log.warning("purging repartition topics: %s", exc)
            return
        self.requests += 1
        asked = {(o.topic, o.partition): o.offset for o in offsets}
        for tp, future in futures.items():
            key = (tp.topic, tp.partition)
            self._pending[key] = (asked[key], future)

    def _collect(self) -> None:
        for tp, (offset, future) in list(self._pending.items()):
            if not future.done():
                continue
            del self._pending[tp]
            try:
                future.result()
            except Exception as exc:
                log.warning("purging %s[%d]: %s", tp[0], tp[1], exc)
                continue
            self.purged[tp] = max(self.purged.get(tp, 0), offset)
