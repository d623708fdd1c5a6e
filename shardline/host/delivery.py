"""One delivery worker (Kafka topic → S3 / Elasticsearch) as a service."""

from __future__ import annotations

from typing import Any, ClassVar

from connectors import DeliveryWorker, RunSummary
from shardline.host.service import LoopService

__all__ = ["DeliveryService"]

#: Added to the worker's own shutdown timeout: the last commit and the consumer's close.
CLOSE_SLACK_S = 30.0


class DeliveryService(LoopService):
    """Runs :meth:`DeliveryWorker.run` on its own thread. A stop request ends consumption;
    the worker flushes for at most its ``shutdown_timeout_ms`` and commits only what the
    destination confirmed (see :mod:`connectors.core.worker`)."""

    kind: ClassVar[str] = "delivery"

    def __init__(
        self, worker: DeliveryWorker, *, until_idle_ms: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(
            worker.core.name,
            shutdown_timeout_s=worker.shutdown_timeout_ms / 1000 + CLOSE_SLACK_S,
            **kwargs,
        )
        self.worker = worker
        self.until_idle_ms = until_idle_ms

    def run_loop(self) -> RunSummary:
        return self.worker.run(until_idle_ms=self.until_idle_ms)

    def request_stop(self) -> None:
        self.worker.stop()

    def describe(self) -> dict[str, Any]:
        return {
            "topic": self.worker.topic,
            "destination": self.worker.core.destination_name,
            "paused_partitions": len(self.worker.paused),
            "abandoned_records": self.worker.abandoned,
        }
