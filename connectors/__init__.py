"""Shardline's delivery side: Firehose re-created as Kafka consumers with thin destinations.

Build and run a delivery::

    from connectors import DeliveryConfig, build_worker
    config = DeliveryConfig.from_mapping({"name": "ticks-s3", "topic": "ticks",
                                          "s3": {"bucket": "ticks", "prefix": "raw/"}})
    build_worker(config, Settings.from_env()).run(until_idle_ms=5_000)
"""

from connectors.build import build_core, build_worker, preflight
from connectors.config import DeliveryConfig
from connectors.core import (
    Batch,
    BufferingHints,
    DeliveryCore,
    DeliveryParts,
    DeliveryWorker,
    Destination,
    DestinationConfig,
    DestinationRegistry,
    DontRetry,
    LoggingMetrics,
    PrometheusMetrics,
    Record,
    Rejected,
    Retry,
    RetryOptions,
    RetryPartial,
    RunSummary,
    Successful,
)
from connectors.destinations import DESTINATIONS
from connectors.elasticsearch import (
    DocumentIdStrategy,
    ElasticsearchConfig,
    ElasticsearchDestination,
    S3BackupConfig,
    S3BackupMode,
)
from connectors.load import load_deliveries
from connectors.s3 import (
    Compression,
    CompressionFormat,
    DataFormatConversionConfig,
    ParquetCompression,
    ParquetEncoder,
    S3Client,
    S3Config,
    S3Destination,
)

__all__ = [
    "Batch",
    "BufferingHints",
    "Compression",
    "CompressionFormat",
    "DESTINATIONS",
    "DataFormatConversionConfig",
    "DeliveryConfig",
    "DeliveryCore",
    "DeliveryParts",
    "DeliveryWorker",
    "Destination",
    "DestinationConfig",
    "DestinationRegistry",
    "DocumentIdStrategy",
    "DontRetry",
    "ElasticsearchConfig",
    "ElasticsearchDestination",
    "LoggingMetrics",
    "ParquetCompression",
    "ParquetEncoder",
    "PrometheusMetrics",
    "Record",
    "Rejected",
    "Retry",
    "RetryOptions",
    "RetryPartial",
    "RunSummary",
    "S3BackupConfig",
    "S3BackupMode",
    "S3Client",
    "S3Config",
    "S3Destination",
    "Successful",
    "build_core",
    "build_worker",
    "load_deliveries",
    "preflight",
]
