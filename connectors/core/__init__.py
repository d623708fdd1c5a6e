"""The delivery core: buffer per partition → encode → send → classify → retry → ack → commit.

Destinations implement :class:`Destination` (``encode``, ``send``, ``classify``); everything
else — buffering hints, retries with backoff and jitter, backups of permanent failures,
contiguous offset commits, rebalances — lives here, once.
"""

from connectors.core.buffer import BufferingHints, PartitionBuffer
from connectors.core.delivery import DeliveryCore
from connectors.core.failures import FailureFormatter, format_failure, to_backup_record
from connectors.core.metrics import (
    FanoutMetrics,
    FlushReport,
    LoggingMetrics,
    MetricsHook,
    PendingSource,
)
from connectors.core.offsets import OffsetTracker
from connectors.core.outcome import (
    Destination,
    DontRetry,
    Outcome,
    Retry,
    RetryPartial,
    Successful,
)
from connectors.core.prometheus import PrometheusMetrics
from connectors.core.records import Batch, Record, Rejected
from connectors.core.retry import DeliveryResult, RetryOptions, deliver_batch
from connectors.core.worker import ConsumerLike, DeliveryWorker, RunSummary, consumer_config
from ground.clock import Clock, monotonic_ms

__all__ = [
    "Batch",
    "BufferingHints",
    "Clock",
    "ConsumerLike",
    "DeliveryCore",
    "DeliveryResult",
    "DeliveryWorker",
    "Destination",
    "DontRetry",
    "FailureFormatter",
    "FanoutMetrics",
    "FlushReport",
    "LoggingMetrics",
    "MetricsHook",
    "OffsetTracker",
    "Outcome",
    "PartitionBuffer",
    "PendingSource",
    "PrometheusMetrics",
    "Record",
    "Rejected",
    "Retry",
    "RetryOptions",
    "RetryPartial",
    "RunSummary",
    "Successful",
    "consumer_config",
    "deliver_batch",
    "format_failure",
    "monotonic_ms",
    "to_backup_record",
]
