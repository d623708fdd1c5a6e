"""The failure document Firehose writes to S3 for a document Elasticsearch refused.

The Firehose developer guide ("Handle data delivery failure", OpenSearch Service) gives the
JSON format of each skipped document, and these nine fields in this order are all it has::

    {
        "attemptsMade": "(number of index requests attempted)",
        "arrivalTimestamp": "(the time when the document was received by Firehose)",
        "errorCode": "(http error code returned by OpenSearch Service)",
        "errorMessage": "(error message returned by OpenSearch Service)",
        "attemptEndingTimestamp": "(the time when Firehose stopped attempting index request)",
        "esDocumentId": "(intended OpenSearch Service document ID)",
        "esIndexName": "(intended OpenSearch Service index name)",
        "esTypeName": "(intended OpenSearch Service type name)",
        "rawData": "(base64-encoded document data)"
    }

Shardline fills them as: ``attemptsMade`` an integer; both timestamps integer epoch
milliseconds (as in the guide's Splunk and HTTP-endpoint examples), ``arrivalTimestamp``
being the Kafka timestamp; ``errorCode`` the HTTP status as a string when Elasticsearch
answered one for the document, else Shardline's code (``invalid_json``, ``missing_record_key``,
``RetriesExhausted``: the document never got an answer of its own); ``errorMessage`` the
Elasticsearch error as ``{"type":…,"reason":…}`` JSON when there was a status, else the reason;
``esIndexName`` the rotated index the document was meant for; ``esTypeName`` ``""`` (mapping
types are gone since Elasticsearch 7). The Kafka coordinates are not repeated: with the
default ``document_id: offset`` they are the ``esDocumentId``.
"""

from __future__ import annotations

import json

from connectors.core.failures import FailureFormatter, raw_data
from connectors.core.records import Rejected
from connectors.elasticsearch.destination import ElasticsearchDestination

__all__ = ["ERROR_OUTPUT_TYPE", "FAILURE_FIELDS", "es_failure_formatter"]

ERROR_OUTPUT_TYPE = "AmazonOpenSearchService-failed"
FAILURE_FIELDS = (
    "attemptsMade",
    "arrivalTimestamp",
    "errorCode",
    "errorMessage",
    "attemptEndingTimestamp",
    "esDocumentId",
    "esIndexName",
    "esTypeName",
    "rawData",
)


def _error(rejected: Rejected) -> tuple[str, str]:
    if rejected.status is None:
        return rejected.error_code, rejected.error_message
    message = json.dumps(
        {"type": rejected.error_code, "reason": rejected.error_message}, separators=(",", ":")
    )
    return str(rejected.status), message


def es_failure_formatter(destination: ElasticsearchDestination) -> FailureFormatter:
    """A :data:`~connectors.core.FailureFormatter` writing Firehose's document, field for field."""

    def format_es_failure(rejected: Rejected, attempts: int, now_ms: int) -> dict[str, object]:
        record = rejected.record
        code, message = _error(rejected)
        return {
            "attemptsMade": attempts,
            "arrivalTimestamp": record.timestamp_ms,
            "errorCode": code,
            "errorMessage": message,
            "attemptEndingTimestamp": now_ms,
            "esDocumentId": destination.document_id(record) or "",
            "esIndexName": destination.index_name(record),
            "esTypeName": "",
            "rawData": raw_data(record),
        }

    return format_es_failure
