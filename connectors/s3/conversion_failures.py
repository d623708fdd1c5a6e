"""The error-prefix document of a record that format conversion could not handle.

Firehose's "Handling errors for data format conversion" gives its schema: ``attemptsMade``,
``arrivalTimestamp``, ``ErrorCode``, ``ErrorMessage`` (those two capitalised, unlike the other
envelopes), ``attemptEndingTimestamp``, ``rawData`` (base64), ``sequenceNumber``,
``subSequenceNumber`` and ``dataCatalogTable`` (the Glue table). Here the sequence number is the
Kafka offset, the sub-sequence number the record's ``sub`` index, and the "table" the schema in
``schemas/``; Shardline adds where the record came from (``kafkaTopic``, …) as its other
failure documents do.
"""

from __future__ import annotations

from connectors.core.failures import FailureFormatter, format_failure, kafka_origin, raw_data
from connectors.core.records import Rejected
from connectors.s3.formats import FORMAT_CONVERSION_FAILED

__all__ = ["SCHEMA_DATABASE", "conversion_failure", "failure_formatter"]

SCHEMA_DATABASE = "shardline-schemas"  # dataCatalogTable.databaseName: the schemas/ package


def conversion_failure(
    rejected: Rejected, attempts: int, now_ms: int, *, schema_name: str = ""
) -> dict[str, object]:
    record = rejected.record
    return {
        "attemptsMade": attempts,
        "arrivalTimestamp": record.timestamp_ms,
        "ErrorCode": rejected.error_code,
        "ErrorMessage": rejected.error_message,
        "attemptEndingTimestamp": now_ms,
        "rawData": raw_data(record),
        "sequenceNumber": str(record.offset),
        "subSequenceNumber": record.sub,
        "dataCatalogTable": {
            "catalogId": None,
            "databaseName": SCHEMA_DATABASE,
            "tableName": schema_name,
            "region": None,
            "versionId": None,
            "catalogArn": None,
        },
        **kafka_origin(record),
    }


def failure_formatter(
    schema_name: str, default: FailureFormatter = format_failure
) -> FailureFormatter:
    """Conversion failures in their own envelope, every other failure with ``default``."""

    def formatter(rejected: Rejected, attempts: int, now_ms: int) -> dict[str, object]:
        if rejected.error_output_type == FORMAT_CONVERSION_FAILED:
            return conversion_failure(rejected, attempts, now_ms, schema_name=schema_name)
        return default(rejected, attempts, now_ms)

    return formatter
