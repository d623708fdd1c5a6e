"""From a :class:`DeliveryConfig` and the environment's :class:`Settings` to a running worker.

The destination's config builds what the core delivers to (its ``build()``) and checks what
it writes to (its ``check()``); this module adds the core and the Kafka consumer around it.
"""

from __future__ import annotations

import asyncio
from typing import cast

from confluent_kafka import Consumer

from connectors.config import DeliveryConfig
from connectors.core.delivery import DeliveryCore
from connectors.core.metrics import MetricsHook
from connectors.core.retry import RetryOptions
from connectors.core.worker import (
    ConsumerLike,
    DeliveryWorker,
    consumer_config,
    prefetch_bytes,
)
from ground.kafka import partition_count
from ground.settings import Settings

__all__ = ["build_core", "build_worker", "preflight"]

MIN_MAX_POLL_INTERVAL_MS = 300_000
MAX_POLL_INTERVAL_SLACK_MS = 60_000


def build_core(
    config: DeliveryConfig, settings: Settings, *, metrics: MetricsHook | None = None
) -> DeliveryCore:
    """The destination, its backups and the core, without Kafka."""
    destination = config.destination
    parts = destination.build(config.name, settings)
    return DeliveryCore(
        config.name, parts.destination, hints=destination.buffering, retry=destination.retry,
        backup=parts.backup, source_backup=parts.source_backup,
        format_failure=parts.format_failure, metrics=metrics, transform=parts.transform,
    )


def _retry_budget_ms(retry: RetryOptions) -> int:
    return retry.duration_ms + retry.max_backoff_ms


def build_worker(
    config: DeliveryConfig,
    settings: Settings,
    *,
    metrics: MetricsHook | None = None,
    consume_batch: int | None = None,
    shutdown_timeout_ms: int | None = None,
) -> DeliveryWorker:
    """A ready-to-run worker: ``build_worker(cfg, settings).run(until_idle_ms=5000)``."""
    core = build_core(config, settings, metrics=metrics)
    # A flush (retries of the destination, then of the backup) happens between two polls.
    budget = 2 * _retry_budget_ms(config.destination.retry) + MAX_POLL_INTERVAL_SLACK_MS
    consumer = Consumer(consumer_config(
        settings.kafka, config.group_id,
        max_poll_interval_ms=max(MIN_MAX_POLL_INTERVAL_MS, budget),
        auto_offset_reset=config.auto_offset_reset, max_buffered_bytes=config.max_buffered_bytes,
    ))
    kwargs = {"consume_batch": consume_batch} if consume_batch else {}
    # The pre-fetch queue gets its share of the cap; the core holds the rest.
    prefetch = prefetch_bytes(config.max_buffered_bytes)
    return DeliveryWorker(
        core, cast(ConsumerLike, consumer), config.topic,
        max_buffered_bytes=max(config.destination.buffering.size_bytes,
                               config.max_buffered_bytes - prefetch),
        shutdown_timeout_ms=(config.shutdown_timeout_ms if shutdown_timeout_ms is None
                             else shutdown_timeout_ms),
        **kwargs,
    )


def preflight(config: DeliveryConfig, settings: Settings, *, timeout_s: float = 10.0) -> None:
    """Fail fast with a clear error if the broker, the topic or a destination is unreachable.

    Creates the buckets marked ``ensure_bucket``.
    """
    partition_count(settings.kafka, config.topic, timeout_s)  # broker + topic
    asyncio.run(config.destination.check(settings))
