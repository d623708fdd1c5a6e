"""Shardline's delivery side: Firehose re-created as Kafka consumers with thin destinations.

Build and run a delivery::

    from connectors import DeliveryConfig, build_worker
    config = DeliveryConfig.from_mapping({"name": "ticks-s3", "topic": "ticks",
                                          "s3": {"bucket": "ticks", "prefix": "raw/"}})
    build_worker(config, Settings.from_env()).run(until_idle_ms=5_000)
"""

from connectors.build import build_core, build_worker, preflight
from connectors.config import (
    DataFormatConversionConfig,
    DeliveryConfig,
    ElasticsearchConfig,
    S3BackupConfig,
    S3BackupMode,
    S3Config,
    load_deliveries,
)
from connectors.core import (
    Batch,
    BufferingHints,
    DeliveryCore,
    DeliveryWorker,
    Destination,
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
from connectors.elasticsearch import DocumentIdStrategy, ElasticsearchDestination
from connectors.s3 import (
    Compression,
    CompressionFormat,
    ParquetCompression,
    ParquetEncoder,
    S3Client,
    S3Destination,
)

__all__ = [
    "Batch",
    "BufferingHints",
    "Compression",
    "CompressionFormat",
    "DataFormatConversionConfig",
    "DeliveryConfig",
    "DeliveryCore",
    "DeliveryWorker",
    "Destination",
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
