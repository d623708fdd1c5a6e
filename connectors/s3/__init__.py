"""The S3/MinIO destination, the small SigV4 client it sends with, and Firehose prefixes."""

from connectors.s3.client import S3Client, S3Response
from connectors.s3.compression import CompressionFormat, format_for_key
from connectors.s3.destination import Compression, S3Destination, S3PutRequest
from connectors.s3.keys import date_path, object_key
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

__all__ = [
    "Compression",
    "CompressionFormat",
    "DEFAULT_TIMESTAMP_PATTERN",
    "ERROR_OUTPUT_TYPES",
    "MAX_PREFIX_CHARS",
    "Prefix",
    "PrefixPair",
    "RANDOM_STRING_CHARS",
    "S3Client",
    "S3Destination",
    "S3PutRequest",
    "S3Response",
    "compile_prefix",
    "compile_prefixes",
    "date_path",
    "format_for_key",
    "java_to_strftime",
    "object_key",
    "random_seed",
]
