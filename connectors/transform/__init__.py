"""Firehose's record processing before delivery: deaggregation, the processing hook (the
transformation Lambda contract), jq metadata extraction for dynamic partitioning with the
active-partition limit, and the stage that composes them."""

from connectors.transform.deaggregate import DeaggregationError, Deaggregator, SubRecordType
from connectors.transform.hook import (
    PROCESSING_FAILED,
    HookInput,
    HookOutcome,
    ProcessingHook,
    load_callable,
)
from connectors.transform.partitioning import (
    ACTIVE_PARTITION_EXCEEDED,
    DEFAULT_MAX_ACTIVE_PARTITIONS,
    PARTITIONING_FAILED,
    ActivePartitions,
    MetadataExtractionError,
    MetadataExtractor,
)
from connectors.transform.stage import HookTiming, Transformed, TransformStage

__all__ = [
    "ACTIVE_PARTITION_EXCEEDED",
    "DEFAULT_MAX_ACTIVE_PARTITIONS",
    "PARTITIONING_FAILED",
    "PROCESSING_FAILED",
    "ActivePartitions",
    "DeaggregationError",
    "Deaggregator",
    "HookInput",
    "HookOutcome",
    "HookTiming",
    "MetadataExtractionError",
    "MetadataExtractor",
    "ProcessingHook",
    "SubRecordType",
    "TransformStage",
    "Transformed",
    "load_callable",
]
