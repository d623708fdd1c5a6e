"""Firehose's record processing before delivery: deaggregation, the processing hook (the
transformation Lambda contract), jq metadata extraction for dynamic partitioning with the
active-partition limit, the stage that composes them, and the ``processing:`` config it is
built from."""

from connectors.transform.config import (
    DeaggregationConfig,
    HookConfig,
    ProcessingConfig,
    build_transform,
)
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
from connectors.transform.stage import TransformStage, with_lambda_arn

__all__ = [
    "ACTIVE_PARTITION_EXCEEDED",
    "ActivePartitions",
    "DEFAULT_MAX_ACTIVE_PARTITIONS",
    "DeaggregationConfig",
    "DeaggregationError",
    "Deaggregator",
    "HookConfig",
    "HookInput",
    "HookOutcome",
    "MetadataExtractionError",
    "MetadataExtractor",
    "PARTITIONING_FAILED",
    "PROCESSING_FAILED",
    "ProcessingConfig",
    "ProcessingHook",
    "SubRecordType",
    "TransformStage",
    "build_transform",
    "load_callable",
    "with_lambda_arn",
]
