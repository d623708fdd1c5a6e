"""The S3 client of the delivery side. It lives in :mod:`shardline.s3`, shared with the SQL
applications' reference data; this module keeps the old import path working."""

from shardline.s3 import DEFAULT_TIMEOUT_MS, S3Client, S3Response

__all__ = ["DEFAULT_TIMEOUT_MS", "S3Client", "S3Response"]
