"""The delivery core: buffer per partition → encode → send → classify → retry → ack → commit.

Destinations implement :class:`Destination` (``encode``, ``send``, ``classify``, and the
optional hooks they have); everything else — buffering hints, retries with backoff and jitter,
replay alignment, backups of permanent failures, contiguous offset commits, rebalances —
lives here, once. Each destination's config is a :class:`DestinationConfig`, found by a
:class:`DestinationRegistry`; a transform before delivery is a :class:`Transform`.
"""

from connectors.core.alignment import ReplayAlignment
from connectors.core.backups import Backups
from connectors.core.buffer import MIB, BufferingHints, PartitionBuffer
from connectors.core.delivery import DeliveryCore
from connectors.core.destination import Destination
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
    DontRetry,
    NoOutput,
    NotWritten,
    Outcome,
    Probe,
    Retry,
    RetryPartial,
    Successful,
    Written,
)
from connectors.core.partition import RECORD_OVERHEAD_BYTES, PartitionState
from connectors.core.prometheus import PrometheusMetrics
from connectors.core.records import Batch, Record, Rejected, TopicPartition
from connectors.core.registry import DeliveryParts, DestinationConfig, DestinationRegistry
from connectors.core.retry import DeliveryResult, RetryOptions, deliver_batch
from connectors.core.section import Section
from connectors.core.transform import HookTiming, Transform, Transformed
from connectors.core.worker import ConsumerLike, DeliveryWorker, RunSummary, consumer_config
from ground.clock import Clock, monotonic_ms

__all__ = [
    "Backups",
    "Batch",
    "BufferingHints",
    "Clock",
    "ConsumerLike",
    "DeliveryCore",
    "DeliveryParts",
    "DeliveryResult",
    "DeliveryWorker",
    "Destination",
    "DestinationConfig",
    "DestinationRegistry",
    "DontRetry",
    "FailureFormatter",
    "FanoutMetrics",
    "FlushReport",
    "HookTiming",
    "LoggingMetrics",
    "MIB",
    "MetricsHook",
    "NoOutput",
    "NotWritten",
    "OffsetTracker",
    "Outcome",
    "PartitionBuffer",
    "PartitionState",
    "PendingSource",
    "Probe",
    "PrometheusMetrics",
    "RECORD_OVERHEAD_BYTES",
    "Record",
    "Rejected",
    "ReplayAlignment",
    "Retry",
    "RetryOptions",
    "RetryPartial",
    "RunSummary",
    "Section",
    "Successful",
    "TopicPartition",
    "Transform",
    "Transformed",
    "Written",
    "consumer_config",
    "deliver_batch",
    "format_failure",
    "monotonic_ms",
    "to_backup_record",
]
