"""The S3/MinIO destination and the small SigV4 client it sends with."""

from connectors.s3.client import S3Client, S3Response
from connectors.s3.compression import CompressionFormat, format_for_key
from connectors.s3.destination import Compression, S3Destination, S3PutRequest
from connectors.s3.keys import date_path, object_key

__all__ = [
    "Compression",
    "CompressionFormat",
    "S3Client",
    "S3Destination",
    "S3PutRequest",
    "S3Response",
    "date_path",
    "format_for_key",
    "object_key",
]
