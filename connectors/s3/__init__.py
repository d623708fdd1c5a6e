"""The S3/MinIO destination, its config, its encoders (JSON Lines in Firehose's compression
formats, Parquet) and Firehose prefixes."""

from connectors.s3.avro_arrow import arrow_schema, avro_to_arrow, schema_for
from connectors.s3.buckets import check_buckets, s3_client
from connectors.s3.compression import CompressionFormat, format_for_key
from connectors.s3.config import (
    S3_ERROR_OUTPUT_TYPE,
    DataFormatConversionConfig,
    DynamicPartitioningConfig,
    S3Config,
    SourceBackupConfig,
)
from connectors.s3.conversion_failures import conversion_failure, failure_formatter
from connectors.s3.destination import Compression, S3Destination, S3PutRequest
from connectors.s3.formats import (
    FORMAT_CONVERSION_FAILED,
    BodyEncoder,
    EncodedBody,
    JsonLinesEncoder,
)
from connectors.s3.json_columns import KeyRules
from connectors.s3.keys import date_path, object_key
from connectors.s3.parquet import ParquetCompression, ParquetEncoder, WriterVersion
from connectors.s3.prefix import (
    DEFAULT_TIMESTAMP_PATTERN,
    ERROR_OUTPUT_TYPES,
    MAX_PREFIX_CHARS,
    RANDOM_STRING_CHARS,
    Prefix,
    PrefixPair,
    compile_prefix,
    compile_prefixes,
    java_to_strftime,
    random_seed,
)
from ground.s3 import S3Client, S3Response

__all__ = [
    "BodyEncoder",
    "Compression",
    "CompressionFormat",
    "DEFAULT_TIMESTAMP_PATTERN",
    "DataFormatConversionConfig",
    "DynamicPartitioningConfig",
    "ERROR_OUTPUT_TYPES",
    "EncodedBody",
    "FORMAT_CONVERSION_FAILED",
    "JsonLinesEncoder",
    "KeyRules",
    "MAX_PREFIX_CHARS",
    "ParquetCompression",
    "ParquetEncoder",
    "Prefix",
    "PrefixPair",
    "RANDOM_STRING_CHARS",
    "S3Client",
    "S3Config",
    "S3Destination",
    "S3PutRequest",
    "S3Response",
    "S3_ERROR_OUTPUT_TYPE",
    "SourceBackupConfig",
    "WriterVersion",
    "arrow_schema",
    "avro_to_arrow",
    "check_buckets",
    "compile_prefix",
    "compile_prefixes",
    "conversion_failure",
    "date_path",
    "failure_formatter",
    "format_for_key",
    "java_to_strftime",
    "object_key",
    "random_seed",
    "s3_client",
    "schema_for",
]
