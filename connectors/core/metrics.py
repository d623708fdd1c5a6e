"""One hook for delivery metrics; the default logs one line per flush.

The core calls the hook at four points: ``on_incoming`` (records consumed, once per partition
per consume batch), ``on_processing`` (each ``encode`` call), ``on_flush`` (a batch delivered
and/or backed up — or given up on) and ``on_commit``. ``track`` hands the hook the core itself
once, for what is only known at read time (the age of the oldest undelivered record, the active
partitions). :class:`connectors.core.prometheus.PrometheusMetrics` maps all of it to Firehose's
CloudWatch metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = ["FanoutMetrics", "FlushReport", "LoggingMetrics", "MetricsHook", "PendingSource"]

log = logging.getLogger("connectors.metrics")


@dataclass(frozen=True, slots=True)
class FlushReport:
    """One flushed batch.

    ``records``/``bytes``: the batch; ``delivered``/``delivered_bytes``: what the destination
    confirmed; ``attempts``: requests sent (retries included); ``writes``: requests that wrote
    something (objects for S3, bulk requests for Elasticsearch); ``attempted_records``: records
    sent over all attempts. ``backup_*``: the same for the records the destination refused for
    good and that went to ``backup_destination``. ``failed``: records neither delivered nor
    backed up (the flush then raised and nothing is committed). ``forced``: the batch was cut
    early by the memory cap, not by the buffering hints.
    """

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
    delivered_bytes: int = 0
    writes: int = 0
    attempted_records: int = 0
    backup_destination: str | None = None
    backed_up_bytes: int = 0
    backup_attempts: int = 0
    backup_writes: int = 0
    failed: int = 0
    forced: bool = False  # cut early by the memory cap (max_buffered_mb), not by the hints

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)


class PendingSource(Protocol):
    """What a hook may read from a core at any time (from another thread, too)."""

    name: str

    @property
    def destination_name(self) -> str: ...

    @property
    def backup_name(self) -> str | None: ...

    def oldest_pending_ms(self) -> Mapping[tuple[str, int], int | None]:
        """Per partition held: the oldest undelivered record's Kafka timestamp (ms), or None."""
        ...

    def partition_count(self) -> int: ...

    def partition_count_exceeded(self) -> int: ...


class MetricsHook(Protocol):
    def track(self, source: PendingSource) -> None: ...

    def on_incoming(
        self, delivery: str, topic: str, partition: int, records: int, bytes_: int
    ) -> None: ...

    def on_processing(
        self, delivery: str, destination: str, seconds: float, succeeded: bool
    ) -> None: ...

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

    def track(self, source: PendingSource) -> None:
        return None

    def on_incoming(
        self, delivery: str, topic: str, partition: int, records: int, bytes_: int
    ) -> None:
        return None

    def on_processing(
        self, delivery: str, destination: str, seconds: float, succeeded: bool
    ) -> None:
        return None

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


class FanoutMetrics:
    """Passes every call on to each hook, in order (e.g. CLI lines and Prometheus)."""

    def __init__(self, *hooks: MetricsHook) -> None:
        self.hooks = hooks

    def track(self, source: PendingSource) -> None:
        for hook in self.hooks:
            hook.track(source)

    def on_incoming(
        self, delivery: str, topic: str, partition: int, records: int, bytes_: int
    ) -> None:
        for hook in self.hooks:
            hook.on_incoming(delivery, topic, partition, records, bytes_)

    def on_processing(
        self, delivery: str, destination: str, seconds: float, succeeded: bool
    ) -> None:
        for hook in self.hooks:
            hook.on_processing(delivery, destination, seconds, succeeded)

    def on_flush(self, report: FlushReport) -> None:
        for hook in self.hooks:
            hook.on_flush(report)

    def on_commit(self, delivery: str, topic: str, partition: int, offset: int) -> None:
        for hook in self.hooks:
            hook.on_commit(delivery, topic, partition, offset)
