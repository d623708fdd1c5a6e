"""One hook for delivery metrics; the default logs one line per flush."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

__all__ = ["FlushReport", "LoggingMetrics", "MetricsHook"]

log = logging.getLogger("connectors.metrics")


@dataclass(frozen=True, slots=True)
class FlushReport:
    """One flushed batch. ``writes``: objects (S3) or bulk requests (ES) that succeeded."""

    delivery: str
    destination: str
    topic: str
    partition: int
    start_offset: int
    end_offset: int
    records: int
    bytes: int
    delivered: int
    backed_up: int
    attempts: int
    duration_ms: int
    freshness_ms: int

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)


class MetricsHook(Protocol):
    def on_flush(self, report: FlushReport) -> None: ...

    def on_commit(self, delivery: str, topic: str, partition: int, offset: int) -> None: ...


class LoggingMetrics:
    """Logs each flush at INFO (``-v``); also keeps running totals for the CLI summary."""

    def __init__(self) -> None:
        self.records = 0
        self.bytes = 0
        self.flushes = 0
        self.retries = 0
        self.backed_up = 0

    def on_flush(self, report: FlushReport) -> None:
        self.records += report.delivered
        self.bytes += report.bytes
        self.flushes += 1
        self.retries += report.retries
        self.backed_up += report.backed_up
        log.info(
            "%s → %s %s[%d] offsets %d..%d: %d records, %d bytes, %d delivered, %d backed up, "
            "%d retries, %d ms, freshness %d ms",
            report.delivery, report.destination, report.topic, report.partition,
            report.start_offset, report.end_offset, report.records, report.bytes,
            report.delivered, report.backed_up, report.retries, report.duration_ms,
            report.freshness_ms,
        )

    def on_commit(self, delivery: str, topic: str, partition: int, offset: int) -> None:
        log.debug("%s committed %s[%d] at %d", delivery, topic, partition, offset)
