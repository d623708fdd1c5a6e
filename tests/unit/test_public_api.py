"""The public API of every package, pinned: each package's ``__init__`` names what it offers
in a sorted ``__all__``, every name there exists, and the lists below change only on purpose
(a change to a package's public names is a change to this file, seen in review)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOORS = ("ground", "schemas", "pipelines", "connectors", "shardline")

PUBLIC_API: dict[str, list[str]] = {
    "connectors": [
        "Batch", "BufferingHints", "Compression", "CompressionFormat", "DESTINATIONS",
        "DataFormatConversionConfig", "DeliveryConfig", "DeliveryCore", "DeliveryParts",
        "DeliveryWorker", "Destination", "DestinationConfig", "DestinationRegistry",
        "DocumentIdStrategy", "DontRetry", "ElasticsearchConfig", "ElasticsearchDestination",
        "LoggingMetrics", "ParquetCompression", "ParquetEncoder", "PrometheusMetrics", "Record",
        "Rejected", "Retry", "RetryOptions", "RetryPartial", "RunSummary", "S3BackupConfig",
        "S3BackupMode", "S3Client", "S3Config", "S3Destination", "Successful", "build_core",
        "build_worker", "load_deliveries", "preflight",
    ],
    "connectors.core": [
        "Backups", "Batch", "BufferingHints", "Clock", "ConsumerLike", "DeliveryCore",
        "DeliveryParts", "DeliveryResult", "DeliveryWorker", "Destination", "DestinationConfig",
        "DestinationRegistry", "DontRetry", "FailureFormatter", "FanoutMetrics", "FlushReport",
        "HookTiming", "LoggingMetrics", "MIB", "MetricsHook", "NoOutput", "NotWritten",
        "OffsetTracker", "Outcome", "PartitionBuffer", "PartitionState", "PendingSource", "Probe",
        "PrometheusMetrics", "RECORD_OVERHEAD_BYTES", "Record", "Rejected", "ReplayAlignment",
        "Retry", "RetryOptions", "RetryPartial", "RunSummary", "Section", "Successful",
        "TopicPartition", "Transform", "Transformed", "Written", "consumer_config",
        "deliver_batch", "format_failure", "monotonic_ms", "to_backup_record",
    ],
    "connectors.elasticsearch": [
        "BulkRequest", "BulkResponse", "DocumentIdStrategy", "ERROR_OUTPUT_TYPE",
        "ElasticsearchConfig", "ElasticsearchDestination", "FAILURE_FIELDS", "IndexRotationPeriod",
        "S3BackupConfig", "S3BackupMode", "es_failure_formatter", "index_for", "week_of",
    ],
    "connectors.firehose_layout": [
        "EXTENSION_KEY", "PROCESSOR_PARAMETERS", "Translation", "delivery_from_firehose",
        "is_firehose_layout", "resolve_function", "translate",
    ],
    "connectors.s3": [
        "BodyEncoder", "Compression", "CompressionFormat", "DEFAULT_TIMESTAMP_PATTERN",
        "DataFormatConversionConfig", "DynamicPartitioningConfig", "ERROR_OUTPUT_TYPES",
        "EncodedBody", "FORMAT_CONVERSION_FAILED", "JsonLinesEncoder", "KeyRules",
        "MAX_PREFIX_CHARS", "ParquetCompression", "ParquetEncoder", "Prefix", "PrefixPair",
        "RANDOM_STRING_CHARS", "S3Client", "S3Config", "S3Destination", "S3PutRequest",
        "S3Response", "S3_ERROR_OUTPUT_TYPE", "SourceBackupConfig", "WriterVersion",
        "arrow_schema", "avro_to_arrow", "check_buckets", "compile_prefix", "compile_prefixes",
        "conversion_failure", "date_path", "failure_formatter", "format_for_key",
        "java_to_strftime", "object_key", "random_seed", "s3_client", "schema_for",
    ],
    "connectors.transform": [
        "ACTIVE_PARTITION_EXCEEDED", "ActivePartitions", "DEFAULT_MAX_ACTIVE_PARTITIONS",
        "DeaggregationConfig", "DeaggregationError", "Deaggregator", "HookConfig", "HookInput",
        "HookOutcome", "MetadataExtractionError", "MetadataExtractor", "PARTITIONING_FAILED",
        "PROCESSING_FAILED", "ProcessingConfig", "ProcessingHook", "SubRecordType",
        "TransformStage", "build_transform", "load_callable", "with_lambda_arn",
    ],
    "ground": [
        "aws_credentials", "clock", "errors", "faults", "java_pattern", "java_properties", "kafka",
        "kafka_check", "kafka_config", "msk_iam", "retention", "s3", "search_auth", "secret",
        "settings", "startup",
    ],
    "pipelines": [
        "ApplicationConfig", "SqlApplication", "SqlPartitionProcessor", "StageProcessor",
        "check_application", "import_kda_description", "load_application",
        "load_sql_application",
    ],
    "pipelines.runtime": [
        "ChangelogReader", "Clock", "IdleTracker", "InstanceSlot", "LAST_STOPPED_POINT", "NOW",
        "OutRecord", "PartitionProcessor", "ProcessorFactory", "ROWTIME_HEADER", "RunStats",
        "RuntimeConfig", "STARTING_POSITIONS", "SourceRecord", "StableOffsetProbe", "StableOffsets",
        "StreamRuntime", "TRIM_HORIZON", "changelog_topic", "check_plan", "claim_instance",
        "latest_values", "plan_topic",
        "rowtime_from_headers", "run", "transactional_id", "wall_ms",
    ],
    "pipelines.sql": [
        "ApplicationConfig", "SqlApplication", "SqlPartitionProcessor", "StageProcessor",
        "check_application", "import_kda_description", "load_application",
        "load_sql_application", "parse_statements", "plan_application",
    ],
    "pipelines.sql.aggregates": [
        "ADD_ONLY", "AGGREGATES", "Accumulator", "AddOnlyMax", "AddOnlyMin", "AggregateSpec", "Avg",
        "BoolAny", "BoolEvery", "Count", "CountDistinct", "DISTINCT_SUFFIX", "FirstValue",
        "LastValue", "Max", "Min", "OverDistinct", "StddevPop", "StddevSamp", "Sum", "SumDistinct",
        "VarPop", "VarSamp",
    ],
    "pipelines.sql.compiler": [
        "AGGREGATE_FUNCTIONS", "AGGREGATE_NODES", "BoundSubquery", "CLOCK_COLUMNS", "Expr",
        "KNOWN_CALLS", "SubqueryPlan", "TABLE_FUNCTIONS", "WINDOW_ONLY_FUNCTIONS",
        "aggregate_name", "compile_expr", "unknown_call", "unknown_call_message",
    ],
    "pipelines.sql.decoders": [
        "AvroDecoder", "CsvDecoder", "DecodedBatch", "JsonDecoder", "MALFORMED_RECORD",
        "RECORD_TOO_LARGE", "RowDecoder", "SCHEMA_MISMATCH", "build_decoder", "text_converter",
        "value_converter",
    ],
    "pipelines.sql.ml": [
        "DEFAULT_NUMBER_OF_TREES", "DEFAULT_SHINGLE_SIZE", "DEFAULT_SUB_SAMPLE_SIZE",
        "DEFAULT_TIME_DECAY", "Hotspot", "HotspotDetector", "HotspotParams",
        "NUMBER_OF_TREES_RANGE", "RandomCutForest", "RcfParams", "SHINGLE_SIZE_RANGE",
        "SUB_SAMPLE_SIZE_RANGE", "WINDOW_SIZE_RANGE", "explanation_json", "hotspots_json",
    ],
    "pipelines.sql.operators": [
        "AggCall", "Context", "Cursor", "HotspotsOperator", "ItemsFinal", "ItemsPartial",
        "ItemsTumblingOperator", "KeyedRow", "LATE_ROW", "MonotonicGroupOperator", "Operator",
        "ProjectOperator", "RandomCutForestOperator", "ReferenceJoin", "ResultQuery", "RowFailure",
        "SlidingOperator", "SlidingWindow", "StaggerOperator", "StateStore", "StatefulOperator",
        "StreamJoinOperator", "TumblingFinal", "TumblingLayout", "TumblingOperator",
        "TumblingPartial", "TwoInputOperator", "WindowAgg",
    ],
    "pipelines.sql.types": [
        "COERCION_ERROR", "Date", "Fn", "INTERVAL_FIELDS", "Interval", "MonthInterval", "Row",
        "SqlType", "Time", "Timestamp", "TypeKind", "UnsupportedTypeError", "YEAR_MONTH_FIELDS",
        "add_months", "coerce", "format_value", "interval_qualifier", "interval_text",
        "is_year_month", "month_interval_text", "parse_timestamp", "parse_type",
    ],
    "schemas": [
        "AVRO_MAGIC", "AvroPlan", "Codec", "FORMATS", "Format", "RegistryConfig", "SchemaCatalog",
        "SchemaFolder", "SchemaRegistry", "SchemaSources", "WriterSchema", "catalog_for",
        "codec_for", "decode_any", "default_catalog", "detect_format", "load_schema", "schema_id",
        "schema_name_for_id", "schema_names", "use_catalog",
    ],
    "shardline": [
        "BrokerUnavailableError", "CodecError", "ConfigError", "DeliveryError",
        "PermanentDeliveryError", "PortInUseError", "ProduceError", "RetriableDeliveryError",
        "ShardlineError", "StackError", "ToolMissingError", "__version__",
    ],
    "shardline.cli": [
        "main",
    ],
    "shardline.host": [
        "ABORT_EXIT_CODE", "DEFAULT_WEB_HOST", "DeliveryService", "Document", "DocumentTopic",
        "FAILURE_EXIT_CODE", "HostApp", "HostCollector", "HostWorker", "LoopService",
        "METADATA_KEY", "ReadCommittedTransport", "ServiceState", "carries_metadata", "check_port",
        "run_host",
    ],
    "shardline.producer": [
        "CLICK_ACTIONS", "COMPRESSIONS", "DEFAULT_BATCH_SIZE", "DEFAULT_LINGER_MS",
        "DEFAULT_MEAN_STEP_MS", "DataSpec", "KINDS", "MALFORMED_HORIZON", "MALFORMED_KINDS",
        "PartitionStats", "ProduceConfig", "ProduceReport", "Record", "TICKER_SYMBOLS",
        "TokenBucket", "clickstream_records", "generate", "hash_key", "malformed_positions",
        "partition_for", "partition_for_hash_key", "produce", "record_codec", "ticker_records",
    ],
    "shardline.stack": [
        "COMPONENTS", "ComponentState", "ComponentStatus", "ConsoleReporter", "LogReporter",
        "Reporter", "Stack",
    ],
}


def _packages() -> list[str]:
    found = []
    for floor in FLOORS:
        for init in (ROOT / floor).rglob("__init__.py"):
            found.append(".".join(init.parent.relative_to(ROOT).parts))
    return sorted(found)


def test_every_source_folder_is_a_package() -> None:
    for floor in FLOORS:
        for folder in [ROOT / floor, *(ROOT / floor).rglob("*")]:
            if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py")):
                assert (folder / "__init__.py").is_file(), f"{folder} has no __init__.py"


def test_every_package_is_pinned() -> None:
    assert _packages() == sorted(PUBLIC_API)


@pytest.mark.parametrize("package", sorted(PUBLIC_API))
def test_public_api(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names), f"{package}.__all__ is not sorted"
    missing = [n for n in names if not hasattr(module, n)
               and importlib.util.find_spec(f"{package}.{n}") is None]
    assert missing == []
    assert names == PUBLIC_API[package]
